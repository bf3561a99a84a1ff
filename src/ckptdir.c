/*
 * ckptdir.c: the checkpoint directory format: atomic writing, the manifest,
 * verification.  See ckptdir.h for the layout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "src/ckptdir.h"
#include "src/ckptsum.h"

#define CKPTDIR_META "xckpt.meta"
#define CKPTDIR_MANIFEST "MANIFEST"
#define CKPTDIR_GROUP "checkpoint"
#define CKPTDIR_TMP_TAG ".tmp-"

/* How often the follower looks at the page images CRIU is writing, in us:
 * at ~3 GB/s, 2 ms is 6 MB, summed in about half a millisecond. */
#define CKPTDIR_FOLLOW_US 2000

/* At most this many threads verify a checkpoint. */
#define CKPTDIR_VERIFY_THREADS 4

/* A checkpoint directory being written. */
struct CkptWriter {
	char *tmp;		/* the temporary directory */
	char *images;		/* TMP/images */
	char *final;		/* where it goes: PARENT/NAME */
	char *parent;		/* PARENT */
	GThread *follower;	/* sums the page images while CRIU writes
				 * them (ckptdir_follow()), or NULL */
	GMutex lock;		/* guards stop */
	GCond wake;		/* signalled when stop is set */
	gboolean stop;		/* the follower is to end */
	gboolean durable;	/* the commit waits until everything is on
				 * the disk (ckptdir_set_durable()) */
	GHashTable *followed;	/* relative path ("images/pages-2.img") ->
				 * CkptsumFile, or NULL once the follower
				 * gave up on that file (owned; the
				 * follower's until it has ended) */
	GHashTable *sizes;	/* relative path -> its size (gint64, owned)
				 * at the follower's last look (the
				 * follower's) */
};

G_DEFINE_QUARK(xckpt-ckptdir-error-quark, ckptdir_error)

/* Sets ERROR from errno for an operation WHAT on PATH; returns FALSE. */
static gboolean ckptdir_fail_errno(GError **error, const char *what,
				   const char *path)
{
	int e = errno;
	g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_IO, "%s %s: %s", what,
		    path, g_strerror(e));
	return FALSE;
}

void ckptdir_meta_free(CkptMeta *meta)
{
	if (!meta)
		return;
	g_free(meta->session);
	g_strfreev(meta->argv);
	g_free(meta->cwd);
	g_strfreev(meta->env);
	g_free(meta->xckpt_version);
	g_free(meta->criu_version);
	g_free(meta->kernel);
	g_free(meta->display);
	g_free(meta->upstream);
	if (meta->extra)
		g_key_file_unref(meta->extra);
	g_free(meta);
}

/* Removes PATH and everything below it, not following symlinks.  Returns 0,
 * or -1 with errno set by the first failure (it goes on after one). */
static int ckptdir_rmtree(const char *path)
{
	struct stat st;
	int ret = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		GDir *d = g_dir_open(path, 0, NULL);
		const char *n;
		while (d && (n = g_dir_read_name(d))) {
			g_autofree char *child = g_build_filename(path, n, NULL);
			if (ckptdir_rmtree(child) < 0)
				ret = -1;
		}
		if (d)
			g_dir_close(d);
		if (rmdir(path) < 0)
			ret = -1;
	} else if (unlink(path) < 0) {
		ret = -1;
	}
	return ret;
}

/* fsyncs the file or directory at PATH.  Returns 0 or -1 (errno). */
static int ckptdir_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* Syncs the file system of the directory PATH (data, metadata, the
 * disk's cache).  Returns 0 or -1 (errno). */
static int ckptdir_syncfs(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r, e;

	if (fd < 0)
		return -1;
	r = syncfs(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

CkptWriter *ckptdir_begin(const char *parent, const char *name,
			  GError **error)
{
	g_autofree char *final = g_build_filename(parent, name, NULL);
	g_autofree char *tmpl = NULL;

	if (!*name || strchr(name, '/') || name[0] == '.') {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_IO,
			    "bad checkpoint name '%s'", name);
		return NULL;
	}
	if (g_mkdir_with_parents(parent, 0700) < 0) {
		ckptdir_fail_errno(error, "cannot create", parent);
		return NULL;
	}
	if (g_file_test(final, G_FILE_TEST_EXISTS)) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_EXISTS,
			    "%s exists already", final);
		return NULL;
	}
	ckptdir_sweep(parent);
	tmpl = g_strdup_printf("%s/.%s" CKPTDIR_TMP_TAG "%ld-XXXXXX", parent,
			       name, (long)getpid());
	if (!g_mkdtemp_full(tmpl, 0700)) {
		ckptdir_fail_errno(error, "cannot create", tmpl);
		return NULL;
	}
	CkptWriter *w = g_new0(CkptWriter, 1);
	w->tmp = g_steal_pointer(&tmpl);
	w->images = g_build_filename(w->tmp, "images", NULL);
	w->final = g_steal_pointer(&final);
	w->parent = g_strdup(parent);
	w->durable = TRUE;
	g_mutex_init(&w->lock);
	g_cond_init(&w->wake);
	w->followed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
			(GDestroyNotify)ckptsum_file_free);
	w->sizes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 g_free);
	if (g_mkdir(w->images, 0700) < 0) {
		ckptdir_fail_errno(error, "cannot create", w->images);
		ckptdir_abort(w);
		return NULL;
	}
	return w;
}

const char *ckptdir_path(CkptWriter *writer)
{
	return writer->tmp;
}

const char *ckptdir_images(CkptWriter *writer)
{
	return writer->images;
}

void ckptdir_set_durable(CkptWriter *writer, gboolean durable)
{
	g_return_if_fail(writer->follower == NULL);
	writer->durable = durable;
}

/* Ends WRITER's follower, if it runs, and waits for it. */
static void ckptdir_follow_stop(CkptWriter *writer)
{
	if (writer->follower == NULL)
		return;
	g_mutex_lock(&writer->lock);
	writer->stop = TRUE;
	g_cond_signal(&writer->wake);
	g_mutex_unlock(&writer->lock);
	g_thread_join(g_steal_pointer(&writer->follower));
}

void ckptdir_abort(CkptWriter *writer)
{
	if (!writer)
		return;
	ckptdir_follow_stop(writer);
	g_hash_table_destroy(writer->followed);
	g_hash_table_destroy(writer->sizes);
	g_mutex_clear(&writer->lock);
	g_cond_clear(&writer->wake);
	ckptdir_rmtree(writer->tmp);
	g_free(writer->tmp);
	g_free(writer->images);
	g_free(writer->final);
	g_free(writer->parent);
	g_free(writer);
}

/* Whether NAME, a file name in the images directory, is a page image
 * (pages-N.img): the bulk of a checkpoint, which CRIU only copies into
 * memory at a restore and never parses. */
static gboolean ckptdir_is_page_image(const char *name)
{
	return g_str_has_prefix(name, "pages-") &&
	       g_str_has_suffix(name, ".img");
}

/* Returns whether the file REL of WRITER's directory has stopped growing:
 * it has the size it had at the previous look (which this records). */
static gboolean ckptdir_follow_quiet(CkptWriter *writer, const char *rel)
{
	g_autofree char *full = g_build_filename(writer->tmp, rel, NULL);
	gint64 *seen = g_hash_table_lookup(writer->sizes, rel);
	GStatBuf st;

	if (g_lstat(full, &st) < 0)
		return FALSE;
	if (seen != NULL && *seen == (gint64)st.st_size)
		return TRUE;
	if (seen == NULL) {
		seen = g_new(gint64, 1);
		g_hash_table_insert(writer->sizes, g_strdup(rel), seen);
	}
	*seen = st.st_size;
	return FALSE;
}

/* One look of the follower at WRITER's images: when durable, starts the
 * writeback of what CRIU has appended to each page image since the last
 * look, so that the disk works beside CRIU; and sums the page images that
 * have stopped growing.  (Not the other images: starting the writeback of
 * those small files as they grew slowed gedit's dump by ~9 ms, more than
 * the sync at commit takes for them.)
 *
 * Why only what has stopped growing is summed: while CRIU copies pages at
 * full speed, reading them back beside it slowed the copy by ~10 ms per
 * 200 MB (memory bandwidth, not CPU: the other core was idle), more than
 * the summing costs after it.  A page image stops growing when CRIU moves
 * to the next process, and all of them when it has written the pages;
 * what follows (the other images, and with --kill the end of the dumped
 * tree, ~20 ms) covers the summing of the last one (~17 ms per 200 MB).
 * The writeback needs no reading, and waiting with it would leave the
 * whole image to write at the end (~60 ms per 200 MB here). */
static void ckptdir_follow_pass(CkptWriter *writer)
{
	CkptsumKind kind = ckptsum_kind(CKPTDIR_FORMAT_VERSION);
	GDir *d = g_dir_open(writer->images, 0, NULL);
	const char *n;

	while (d && (n = g_dir_read_name(d))) {
		g_autofree char *rel = NULL;
		gpointer f = NULL;

		if (!ckptdir_is_page_image(n))
			continue;
		rel = g_build_filename("images", n, NULL);
		if (!g_hash_table_lookup_extended(writer->followed, rel, NULL,
						  &f)) {
			g_autofree char *full = g_build_filename(writer->tmp,
								 rel, NULL);
			f = ckptsum_file_open(full, kind, NULL);
			g_hash_table_insert(writer->followed, g_strdup(rel), f);
		}
		/* A file it cannot follow is summed whole at commit. */
		if (f == NULL)
			continue;
		if (writer->durable)
			ckptsum_file_push(f);
		if (ckptdir_follow_quiet(writer, rel) &&
		    !ckptsum_file_advance(f, FALSE, NULL))
			g_hash_table_insert(writer->followed, g_strdup(rel),
					    NULL);
	}
	if (d)
		g_dir_close(d);
}

/* The follower thread of the writer UD: a pass every CKPTDIR_FOLLOW_US
 * until it is stopped.  Returns NULL. */
static gpointer ckptdir_follow_thread(gpointer ud)
{
	CkptWriter *writer = ud;

	g_mutex_lock(&writer->lock);
	while (!writer->stop) {
		gint64 until;
		g_mutex_unlock(&writer->lock);
		ckptdir_follow_pass(writer);
		g_mutex_lock(&writer->lock);
		until = g_get_monotonic_time() + CKPTDIR_FOLLOW_US;
		while (!writer->stop &&
		       g_cond_wait_until(&writer->wake, &writer->lock, until))
			;
	}
	g_mutex_unlock(&writer->lock);
	return NULL;
}

/* Starts WRITER's follower thread, which the writer owns and ends at
 * commit or abort (see ckptdir.h). */
void ckptdir_follow(CkptWriter *writer)
{
	if (writer->follower == NULL)
		writer->follower = g_thread_new("ckptdir-follow",
						ckptdir_follow_thread, writer);
}

/* Appends to FILES the paths of the regular files below DIR/REL (relative
 * to DIR), making files 0600 and directories 0700 on the way when FIX is
 * set.  Other kinds of file make it fail.  Returns TRUE or FALSE + ERROR. */
static gboolean ckptdir_collect(const char *dir, const char *rel,
				GPtrArray *files, gboolean fix, GError **error)
{
	g_autofree char *path = rel ? g_build_filename(dir, rel, NULL)
				    : g_strdup(dir);
	g_autoptr(GError) local = NULL;
	GDir *d = g_dir_open(path, 0, &local);
	const char *n;
	gboolean ok = TRUE;

	if (!d) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_IO, "%s",
			    local->message);
		return FALSE;
	}
	while (ok && (n = g_dir_read_name(d))) {
		g_autofree char *r = rel ? g_build_filename(rel, n, NULL)
					 : g_strdup(n);
		g_autofree char *full = g_build_filename(dir, r, NULL);
		struct stat st;

		if (lstat(full, &st) < 0) {
			ok = ckptdir_fail_errno(error, "cannot stat", full);
		} else if (S_ISDIR(st.st_mode)) {
			if (fix && chmod(full, 0700) < 0)
				ok = ckptdir_fail_errno(error, "cannot chmod",
							full);
			else
				ok = ckptdir_collect(dir, r, files, fix, error);
		} else if (S_ISREG(st.st_mode)) {
			if (fix && chmod(full, 0600) < 0)
				ok = ckptdir_fail_errno(error, "cannot chmod",
							full);
			else if (rel || strcmp(n, CKPTDIR_MANIFEST) != 0)
				g_ptr_array_add(files, g_steal_pointer(&r));
		} else {
			g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
				    "%s is not a regular file", full);
			ok = FALSE;
		}
	}
	g_dir_close(d);
	return ok;
}

/* Orders two path strings in a GPtrArray. */
static gint ckptdir_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes META into a GKeyFile text.  Returns it (caller frees). */
static char *ckptdir_meta_to_data(const CkptMeta *meta)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	const char *g = CKPTDIR_GROUP;

	if (meta->extra) {
		g_autofree char *x = g_key_file_to_data(meta->extra, NULL,
							NULL);
		g_key_file_load_from_data(kf, x, -1, G_KEY_FILE_NONE, NULL);
	}
	g_key_file_set_integer(kf, g, "format", CKPTDIR_FORMAT_VERSION);
	g_key_file_set_string(kf, g, "session", meta->session ?: "");
	g_key_file_set_int64(kf, g, "time", meta->time);
	g_key_file_set_string(kf, g, "xckpt-version",
			      meta->xckpt_version ?: "");
	g_key_file_set_string(kf, g, "criu-version", meta->criu_version ?: "");
	g_key_file_set_string(kf, g, "kernel", meta->kernel ?: "");
	g_key_file_set_string(kf, g, "cwd", meta->cwd ?: "");
	if (meta->display)
		g_key_file_set_string(kf, g, "display", meta->display);
	if (meta->upstream)
		g_key_file_set_string(kf, g, "upstream", meta->upstream);
	if (meta->argv)
		g_key_file_set_string_list(kf, g, "argv",
					   (const char *const *)meta->argv,
					   g_strv_length(meta->argv));
	if (meta->env)
		g_key_file_set_string_list(kf, g, "env",
					   (const char *const *)meta->env,
					   g_strv_length(meta->env));
	return g_key_file_to_data(kf, NULL, NULL);
}

/* Writes DATA into the new file PATH (0600), and starts its writeback
 * when WRITEBACK is set (so that the syncfs at commit finds it on its
 * way).  Returns TRUE or FALSE with ERROR set. */
static gboolean ckptdir_write_file(const char *path, const char *data,
				   gboolean writeback, GError **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	gsize len = strlen(data), off = 0;

	if (fd < 0)
		return ckptdir_fail_errno(error, "cannot create", path);
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return ckptdir_fail_errno(error, "cannot write", path);
		}
		off += n;
	}
	if (writeback)
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	close(fd);
	return TRUE;
}

/* Sums the file REL of WRITER's directory, going on from what the
 * follower summed of it, and starts its writeback.  Returns its checksum
 * (caller frees) and its size in *SIZE, or NULL with ERROR. */
static char *ckptdir_sum(CkptWriter *writer, const char *rel, gint64 *size,
			 GError **error)
{
	g_autofree char *full = g_build_filename(writer->tmp, rel, NULL);
	g_autoptr(CkptsumFile) f = NULL;
	g_autofree char *key = NULL;
	gpointer followed = NULL;

	if (g_hash_table_steal_extended(writer->followed, rel,
					(gpointer *)&key, &followed)) {
		char *sum;

		f = followed;
		sum = f ? ckptsum_file_finish(f, writer->durable, size, NULL)
			: NULL;
		if (sum != NULL)
			return sum;
		/* Not appended to only, after all: summed anew, whole. */
		g_clear_pointer(&f, ckptsum_file_free);
	}
	f = ckptsum_file_open(full, ckptsum_kind(CKPTDIR_FORMAT_VERSION),
			      error);
	return f ? ckptsum_file_finish(f, writer->durable, size, error) : NULL;
}

char *ckptdir_commit(CkptWriter *writer, const CkptMeta *meta,
		     GError **error)
{
	g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) manifest = g_string_new(NULL);
	g_autofree char *meta_data = ckptdir_meta_to_data(meta);
	g_autofree char *meta_path = g_build_filename(writer->tmp,
						      CKPTDIR_META, NULL);
	g_autofree char *man_path = g_build_filename(writer->tmp,
						     CKPTDIR_MANIFEST, NULL);
	char *final = NULL;

	ckptdir_follow_stop(writer);
	if (!ckptdir_write_file(meta_path, meta_data, writer->durable,
				error) ||
	    !ckptdir_collect(writer->tmp, NULL, files, TRUE, error))
		goto out;
	g_ptr_array_sort(files, ckptdir_cmp);
	/* Each file is summed (the page images mostly by the follower
	 * already) and, when durable, its writeback started; the sync comes
	 * after, when all of it is on its way to the disk. */
	for (guint i = 0; i < files->len; i++) {
		const char *rel = files->pdata[i];
		gint64 size;
		g_autofree char *sum = ckptdir_sum(writer, rel, &size, error);

		if (sum == NULL)
			goto out;
		g_string_append_printf(manifest, "%s %" G_GINT64_FORMAT " %s\n",
				       sum, size, rel);
	}
	g_string_append_printf(manifest, "end %u\n", files->len);
	if (!ckptdir_write_file(man_path, manifest->str, writer->durable,
				error))
		goto out;
	/* One syncfs, not an fsync per file: on ext4 every fsync after the
	 * first finds the journal committed and flushes the disk's cache
	 * again (~0.1 ms each, 4 ms for gedit's 40 files); syncfs commits
	 * the journal and flushes once, with every file's data already
	 * written back or on its way.  Not durable, nothing waits for the
	 * disk: see ckptdir_set_durable(). */
	if (writer->durable && ckptdir_syncfs(writer->tmp) < 0) {
		ckptdir_fail_errno(error, "cannot sync", writer->tmp);
		goto out;
	}
	if (rename(writer->tmp, writer->final) < 0) {
		ckptdir_fail_errno(error, "cannot rename into", writer->final);
		goto out;
	}
	if (writer->durable)
		ckptdir_fsync_path(writer->parent);
	final = g_strdup(writer->final);
out:
	ckptdir_abort(writer);
	return final;
}

/* Parses the metadata text DATA of DIR.  Returns it (caller frees) or NULL
 * with ERROR set. */
static CkptMeta *ckptdir_meta_from_data(const char *dir, const char *data,
					GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	const char *g = CKPTDIR_GROUP;
	g_autoptr(CkptMeta) m = g_new0(CkptMeta, 1);

	if (!g_key_file_load_from_data(kf, data, -1, G_KEY_FILE_NONE, NULL) ||
	    !g_key_file_has_key(kf, g, "format", NULL)) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
			    "%s: corrupt metadata (%s)", dir, CKPTDIR_META);
		return NULL;
	}
	m->format = g_key_file_get_integer(kf, g, "format", NULL);
	if (m->format > CKPTDIR_FORMAT_VERSION || m->format < 1) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_VERSION,
			    "%s: checkpoint format %d is not supported by this "
			    "xckpt (it reads up to %d)", dir, m->format,
			    CKPTDIR_FORMAT_VERSION);
		return NULL;
	}
	m->session = g_key_file_get_string(kf, g, "session", NULL);
	m->time = g_key_file_get_int64(kf, g, "time", NULL);
	m->xckpt_version = g_key_file_get_string(kf, g, "xckpt-version", NULL);
	m->criu_version = g_key_file_get_string(kf, g, "criu-version", NULL);
	m->kernel = g_key_file_get_string(kf, g, "kernel", NULL);
	m->cwd = g_key_file_get_string(kf, g, "cwd", NULL);
	m->display = g_key_file_get_string(kf, g, "display", NULL);
	m->upstream = g_key_file_get_string(kf, g, "upstream", NULL);
	m->argv = g_key_file_get_string_list(kf, g, "argv", NULL, NULL);
	m->env = g_key_file_get_string_list(kf, g, "env", NULL, NULL);
	if (!m->session || !m->argv) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
			    "%s: corrupt metadata (no session or command)",
			    dir);
		return NULL;
	}
	g_key_file_remove_group(kf, g, NULL);
	m->extra = g_key_file_ref(kf);
	return g_steal_pointer(&m);
}

CkptMeta *ckptdir_read_meta(const char *dir, GError **error)
{
	g_autofree char *path = g_build_filename(dir, CKPTDIR_META, NULL);
	g_autofree char *data = NULL;

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
			    "%s: no such checkpoint directory", dir);
		return NULL;
	}
	if (!g_file_get_contents(path, &data, NULL, NULL)) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
			    "%s: not a checkpoint (no %s)", dir, CKPTDIR_META);
		return NULL;
	}
	return ckptdir_meta_from_data(dir, data, error);
}

/* Checks that PATH belongs to the caller's user and that its mode gives
 * nothing to group or others; fills *ST (may be NULL) with its lstat.
 * Returns TRUE or FALSE with ERROR set. */
static gboolean ckptdir_check_owner(const char *path, struct stat *st,
				    GError **error)
{
	struct stat own;

	if (st == NULL)
		st = &own;
	if (lstat(path, st) < 0)
		return ckptdir_fail_errno(error, "cannot stat", path);
	if (st->st_uid != geteuid()) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_OWNER,
			    "%s belongs to uid %u, not to you (uid %u)", path,
			    (unsigned)st->st_uid, (unsigned)geteuid());
		return FALSE;
	}
	if (st->st_mode & 077) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_OWNER,
			    "%s is open to other users (mode %04o); images "
			    "hold process memory", path,
			    (unsigned)(st->st_mode & 07777));
		return FALSE;
	}
	return TRUE;
}

/* Sets ERROR for file REL of checkpoint DIR having SIZE bytes where the
 * manifest says WANT; returns FALSE. */
static gboolean ckptdir_fail_size(GError **error, const char *dir,
				  const char *rel, gint64 size, gint64 want)
{
	g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
		    "%s: %s is truncated or altered (%" G_GINT64_FORMAT
		    " bytes, the manifest says %" G_GINT64_FORMAT ")",
		    dir, rel, size, want);
	return FALSE;
}

/* Checks every line of manifest LINES of checkpoint DIR before anything is
 * read: a sane relative path, a file there of the caller's, of the size
 * listed; the closing "end N" line.  Appends the full paths to PATHS, the
 * relative ones to RELS, the checksums to SUMS and the sizes to SIZES.
 * Returns TRUE or FALSE with a one-line ERROR. */
static gboolean ckptdir_parse_manifest(const char *dir, char **lines,
				       GPtrArray *paths, GPtrArray *rels,
				       GPtrArray *sums, GArray *sizes,
				       GError **error)
{
	guint n = 0, end = G_MAXUINT;

	for (guint i = 0; lines[i] && *lines[i]; i++) {
		g_auto(GStrv) f = g_strsplit(lines[i], " ", 3);
		g_autofree char *full = NULL;
		struct stat st;
		gint64 want;

		if (g_strv_length(f) == 2 && strcmp(f[0], "end") == 0) {
			end = (guint)g_ascii_strtoull(f[1], NULL, 10);
			break;
		}
		if (g_strv_length(f) != 3) {
			g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
				    "%s: corrupt manifest line %u", dir, i + 1);
			return FALSE;
		}
		if (strstr(f[2], "..") || f[2][0] == '/') {
			g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
				    "%s: corrupt manifest path %s", dir, f[2]);
			return FALSE;
		}
		full = g_build_filename(dir, f[2], NULL);
		if (!g_file_test(full, G_FILE_TEST_EXISTS)) {
			g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
				    "%s: %s is missing", dir, f[2]);
			return FALSE;
		}
		if (!ckptdir_check_owner(full, &st, error))
			return FALSE;
		want = g_ascii_strtoll(f[1], NULL, 10);
		if (!S_ISREG(st.st_mode) || st.st_size != want)
			return ckptdir_fail_size(error, dir, f[2], st.st_size,
						 want);
		g_ptr_array_add(paths, g_steal_pointer(&full));
		g_ptr_array_add(rels, g_strdup(f[2]));
		g_ptr_array_add(sums, g_strdup(f[0]));
		g_array_append_val(sizes, want);
		n++;
	}
	if (end != n) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
			    "%s: incomplete manifest", dir);
		return FALSE;
	}
	return TRUE;
}

/* Files of a checkpoint to sum and compare with its manifest. */
typedef struct {
	GPtrArray *paths;	/* full paths (owned) */
	GPtrArray *rels;	/* paths relative to the directory (owned) */
	GPtrArray *want;	/* the manifest's checksums (owned) */
	GArray *sizes;		/* the manifest's sizes (gint64) */
} CkptdirFiles;

/* The part of a verification left for later (ckptdir_verify_begin()). */
struct CkptVerify {
	char *dir;		/* the checkpoint directory */
	CkptsumKind kind;	/* its checksums' kind */
	guint threads;		/* how many threads sum the page images */
	CkptdirFiles pages;	/* its page images */
	GThread *thread;	/* summing them, or NULL */
	gboolean done;		/* the verdict is in */
	GError *verdict;	/* why they do not match, or NULL (owned) */
};

/* Initializes FILES, empty. */
static void ckptdir_files_init(CkptdirFiles *files)
{
	files->paths = g_ptr_array_new_with_free_func(g_free);
	files->rels = g_ptr_array_new_with_free_func(g_free);
	files->want = g_ptr_array_new_with_free_func(g_free);
	files->sizes = g_array_new(FALSE, FALSE, sizeof(gint64));
}

/* Frees what FILES holds. */
static void ckptdir_files_clear(CkptdirFiles *files)
{
	g_clear_pointer(&files->paths, g_ptr_array_unref);
	g_clear_pointer(&files->rels, g_ptr_array_unref);
	g_clear_pointer(&files->want, g_ptr_array_unref);
	g_clear_pointer(&files->sizes, g_array_unref);
}

/* Moves entry I of FROM to the end of TO. */
static void ckptdir_files_move(CkptdirFiles *from, guint i, CkptdirFiles *to)
{
	g_ptr_array_add(to->paths, g_ptr_array_steal_index(from->paths, i));
	g_ptr_array_add(to->rels, g_ptr_array_steal_index(from->rels, i));
	g_ptr_array_add(to->want, g_ptr_array_steal_index(from->want, i));
	g_array_append_val(to->sizes, g_array_index(from->sizes, gint64, i));
	g_array_remove_index(from->sizes, i);
}

/* Sums FILES of checkpoint DIR (checksums of KIND) on up to THREADS
 * threads and compares them with the manifest's.  Returns TRUE, or FALSE
 * with a one-line ERROR naming the first file that differs. */
static gboolean ckptdir_files_check(const char *dir, CkptdirFiles *files,
				    CkptsumKind kind, guint threads,
				    GError **error)
{
	g_autoptr(GError) local = NULL;
	guint n = files->paths->len;
	g_auto(GStrv) sums = g_new0(char *, n + 1);
	g_autofree gint64 *sizes = g_new0(gint64, n + 1);

	if (!ckptsum_files((char *const *)files->paths->pdata, n, kind,
			   threads, sums, sizes, &local)) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_IO, "%s",
			    local->message);
		return FALSE;
	}
	for (guint i = 0; i < n; i++) {
		const char *rel = files->rels->pdata[i];
		gint64 w = g_array_index(files->sizes, gint64, i);

		if (sizes[i] != w)
			return ckptdir_fail_size(error, dir, rel, sizes[i], w);
		if (strcmp(sums[i], files->want->pdata[i]) != 0) {
			g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
				    "%s: %s is corrupt (checksum mismatch)",
				    dir, rel);
			return FALSE;
		}
	}
	return TRUE;
}

CkptMeta *ckptdir_verify_begin(const char *dir, CkptVerify **pending,
			       GError **error)
{
	g_autofree char *man_path = g_build_filename(dir, CKPTDIR_MANIFEST,
						     NULL);
	g_autofree char *manifest = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(CkptMeta) meta = ckptdir_read_meta(dir, error);
	CkptdirFiles files;
	CkptVerify *v;
	gboolean ok;

	*pending = NULL;
	if (!meta || !ckptdir_check_owner(dir, NULL, error))
		return NULL;
	if (!g_file_get_contents(man_path, &manifest, NULL, NULL)) {
		g_set_error(error, CKPTDIR_ERROR, CKPTDIR_ERROR_CORRUPT,
			    "%s: incomplete checkpoint (no %s)", dir,
			    CKPTDIR_MANIFEST);
		return NULL;
	}
	lines = g_strsplit(manifest, "\n", -1);
	v = g_new0(CkptVerify, 1);
	v->dir = g_strdup(dir);
	v->kind = ckptsum_kind(meta->format);
	v->threads = MIN(g_get_num_processors(), CKPTDIR_VERIFY_THREADS);
	ckptdir_files_init(&v->pages);
	ckptdir_files_init(&files);
	ok = ckptdir_parse_manifest(dir, lines, files.paths, files.rels,
				    files.want, files.sizes, error);
	/* The page images wait (sizes checked); every other file, what
	 * CRIU parses, is summed now. */
	for (guint i = 0; ok && i < files.rels->len;) {
		const char *rel = files.rels->pdata[i];
		if (g_str_has_prefix(rel, "images/") &&
		    ckptdir_is_page_image(rel + strlen("images/")))
			ckptdir_files_move(&files, i, &v->pages);
		else
			i++;
	}
	ok = ok && ckptdir_files_check(dir, &files, v->kind, v->threads,
				       error);
	ckptdir_files_clear(&files);
	if (!ok) {
		ckptdir_verify_free(v);
		return NULL;
	}
	*pending = v;
	return g_steal_pointer(&meta);
}

/* The thread of ckptdir_verify_start(): sums the page images of UD. */
static gpointer ckptdir_verify_thread(gpointer ud)
{
	CkptVerify *v = ud;

	ckptdir_files_check(v->dir, &v->pages, v->kind, v->threads,
			    &v->verdict);
	return NULL;
}

void ckptdir_verify_start(CkptVerify *v, guint threads)
{
	g_return_if_fail(v->thread == NULL && !v->done);
	v->threads = MAX(threads, 1);
	v->thread = g_thread_new("ckptdir-verify", ckptdir_verify_thread, v);
}

gboolean ckptdir_verify_finish(CkptVerify *v, GError **error)
{
	if (!v->done) {
		if (v->thread)
			g_thread_join(g_steal_pointer(&v->thread));
		else
			ckptdir_verify_thread(v);
		v->done = TRUE;
	}
	if (v->verdict) {
		g_propagate_error(error, g_error_copy(v->verdict));
		return FALSE;
	}
	return TRUE;
}

void ckptdir_verify_free(CkptVerify *v)
{
	if (v == NULL)
		return;
	if (v->thread)
		g_thread_join(v->thread);
	ckptdir_files_clear(&v->pages);
	g_clear_error(&v->verdict);
	g_free(v->dir);
	g_free(v);
}

CkptMeta *ckptdir_verify(const char *dir, GError **error)
{
	g_autoptr(CkptVerify) pending = NULL;
	g_autoptr(CkptMeta) meta = ckptdir_verify_begin(dir, &pending, error);

	if (!meta || !ckptdir_verify_finish(pending, error))
		return NULL;
	return g_steal_pointer(&meta);
}

gint64 ckptdir_size(const char *dir)
{
	g_autofree char *man_path = g_build_filename(dir, CKPTDIR_MANIFEST,
						     NULL);
	g_autofree char *manifest = NULL;
	g_auto(GStrv) lines = NULL;
	gint64 total = 0;

	if (!g_file_get_contents(man_path, &manifest, NULL, NULL))
		return -1;
	lines = g_strsplit(manifest, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		g_auto(GStrv) f = g_strsplit(lines[i], " ", 3);
		if (g_strv_length(f) == 3)
			total += g_ascii_strtoll(f[1], NULL, 10);
	}
	return total;
}

void ckptdir_sweep(const char *parent)
{
	GDir *d = g_dir_open(parent, 0, NULL);
	const char *n;

	while (d && (n = g_dir_read_name(d))) {
		const char *tag = strstr(n, CKPTDIR_TMP_TAG);
		if (n[0] != '.' || !tag)
			continue;
		long pid = strtol(tag + strlen(CKPTDIR_TMP_TAG), NULL, 10);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue;
		g_autofree char *full = g_build_filename(parent, n, NULL);
		ckptdir_rmtree(full);
	}
	if (d)
		g_dir_close(d);
}
