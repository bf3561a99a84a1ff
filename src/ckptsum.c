/*
 * ckptsum.c: the checksums of a checkpoint's files: CRC-32 (format 1) and
 * segmented XXH3-128 (format 2), summed as a file grows or, for whole
 * files, on several threads.  See ckptsum.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
/* libxxhash's XXH3 picks SSE2, AVX2 or AVX-512 at run time: 80 GB/s in
 * cache here, against 20 for the plain (SSE2) functions. */
#include <xxh_x86dispatch.h>
#endif
#include <zlib.h>

#include "src/ckptsum.h"

/* How much is read at a time: small enough to stay in the core's cache
 * between the copy out of the page cache and the summing. */
#define CKPTSUM_CHUNK (256 << 10)

/* Below this many bytes in all, ckptsum_files() starts no thread. */
#define CKPTSUM_THREAD_MIN (4 << 20)

/* A file summed as it grows. */
struct CkptsumFile {
	char *path;		/* the file, for messages */
	int fd;			/* the file, open read-only */
	CkptsumKind kind;	/* what is summed */
	gint64 off;		/* how many bytes are summed */
	gint64 pushed;		/* up to where writeback has been started */
	gboolean done;		/* finished: nothing more is summed */
	uLong crc;		/* the CRC-32 so far (CKPTSUM_CRC32) */
	XXH3_state_t *seg;	/* the segment under way (CKPTSUM_XXH3) */
	XXH3_state_t *top;	/* the digests of the finished segments so
				 * far (CKPTSUM_XXH3) */
};

/* Each thread's read buffer of CKPTSUM_CHUNK bytes (freed with the
 * thread): one per thread, not one per file, however many page images a
 * large tree has. */
static GPrivate ckptsum_buffer = G_PRIVATE_INIT(g_free);

/* One segment of one file, for ckptsum_files(). */
typedef struct {
	guint file;		/* which file (index into the paths) */
	gint64 off;		/* where the segment starts */
	gint64 len;		/* how long it is */
	uLong crc;		/* its CRC-32 (CKPTSUM_CRC32) */
	XXH128_hash_t xxh;	/* its XXH3-128 (CKPTSUM_XXH3) */
} CkptsumItem;

/* The work that ckptsum_files() shares among its threads. */
typedef struct {
	char *const *paths;	/* the files (the caller's) */
	CkptsumKind kind;	/* what is summed */
	CkptsumItem *items;	/* every segment of every file, in order */
	guint n_items;		/* how many */
	gint next;		/* the next item to take (atomic) */
	int *errs;		/* per file: 0, an errno, or -1 when the
				 * file shrank while being read (atomic) */
} CkptsumJob;

/* Sets ERROR for the failure E (an errno, or -1: the file shrank) on PATH;
 * returns FALSE. */
static gboolean ckptsum_fail(GError **error, int e, const char *path)
{
	if (e < 0)
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO,
			    "cannot read %s: it changed while being read",
			    path);
	else
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "cannot read %s: %s", path, g_strerror(e));
	return FALSE;
}

/* The checksum of format FORMAT's manifests (see ckptsum.h). */
CkptsumKind ckptsum_kind(int format)
{
	return format <= 1 ? CKPTSUM_CRC32 : CKPTSUM_XXH3;
}

/* The calling thread's read buffer (owned by the thread). */
static guint8 *ckptsum_buf(void)
{
	guint8 *buf = g_private_get(&ckptsum_buffer);

	if (buf == NULL) {
		buf = g_malloc(CKPTSUM_CHUNK);
		g_private_set(&ckptsum_buffer, buf);
	}
	return buf;
}

/* Adds the digest H of a finished segment to the file's digest TOP. */
static void ckptsum_add_segment(XXH3_state_t *top, XXH128_hash_t h)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	XXH3_128bits_update(top, &c, sizeof(c));
}

/* The file's checksum as hex digits from TOP (XXH3) or CRC (CRC-32), by
 * KIND.  Returns it (caller frees). */
static char *ckptsum_hex(CkptsumKind kind, XXH3_state_t *top, uLong crc)
{
	XXH128_canonical_t c;
	GString *s;

	if (kind == CKPTSUM_CRC32)
		return g_strdup_printf("%08lx", crc & 0xffffffffUL);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(top));
	s = g_string_sized_new(2 * sizeof(c.digest) + 1);
	for (guint i = 0; i < sizeof(c.digest); i++)
		g_string_append_printf(s, "%02x", c.digest[i]);
	return g_string_free(s, FALSE);
}

/* Opens PATH to sum it as it grows; the caller frees the result (see
 * ckptsum.h). */
CkptsumFile *ckptsum_file_open(const char *path, CkptsumKind kind,
			       GError **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	CkptsumFile *f;

	if (fd < 0) {
		ckptsum_fail(error, errno, path);
		return NULL;
	}
	f = g_new0(CkptsumFile, 1);
	f->path = g_strdup(path);
	f->fd = fd;
	f->kind = kind;
	f->crc = crc32(0L, Z_NULL, 0);
	if (kind == CKPTSUM_XXH3) {
		f->seg = XXH3_createState();
		f->top = XXH3_createState();
		XXH3_128bits_reset(f->seg);
		XXH3_128bits_reset(f->top);
	}
	return f;
}

/* Starts the writeback of F's file from where the last one ended up to
 * END, without waiting. */
static void ckptsum_push_to(CkptsumFile *f, gint64 end)
{
	if (end <= f->pushed)
		return;
	sync_file_range(f->fd, f->pushed, end - f->pushed,
			SYNC_FILE_RANGE_WRITE);
	f->pushed = end;
}

/* Sums what was appended to F's file since the last call (see
 * ckptsum.h). */
gboolean ckptsum_file_advance(CkptsumFile *f, gboolean writeback,
			      GError **error)
{
	guint8 *buf = ckptsum_buf();
	struct stat st;

	if (f->done)
		return TRUE;
	if (fstat(f->fd, &st) < 0)
		return ckptsum_fail(error, errno, f->path);
	if (st.st_size < f->off)
		return ckptsum_fail(error, -1, f->path);
	/* Up to the size seen now; what comes later, the next call sums. */
	while (f->off < st.st_size) {
		gsize want = MIN(CKPTSUM_CHUNK, (gsize)(st.st_size - f->off));
		ssize_t n;

		/* (a read never crosses a segment's end) */
		if (f->kind == CKPTSUM_XXH3)
			want = MIN(want, (gsize)(CKPTSUM_SEGMENT -
						 f->off % CKPTSUM_SEGMENT));
		n = pread(f->fd, buf, want, f->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ckptsum_fail(error, errno, f->path);
		if (n == 0)
			return ckptsum_fail(error, -1, f->path);
		f->off += n;
		if (f->kind == CKPTSUM_CRC32) {
			f->crc = crc32(f->crc, buf, (uInt)n);
			continue;
		}
		XXH3_128bits_update(f->seg, buf, n);
		if (f->off % CKPTSUM_SEGMENT == 0) {
			ckptsum_add_segment(f->top,
					    XXH3_128bits_digest(f->seg));
			XXH3_128bits_reset(f->seg);
		}
	}
	/* Whole pages only: a page the writer is still filling would be
	 * written twice. */
	if (writeback)
		ckptsum_push_to(f, f->off / 4096 * 4096);
	return TRUE;
}

/* Starts the writeback of F's file up to its whole pages now (see
 * ckptsum.h). */
void ckptsum_file_push(CkptsumFile *f)
{
	struct stat st;

	if (!f->done && fstat(f->fd, &st) == 0)
		ckptsum_push_to(f, (gint64)st.st_size / 4096 * 4096);
}

/* Sums F's file to its end; returns its checksum, which the caller frees
 * (see ckptsum.h). */
char *ckptsum_file_finish(CkptsumFile *f, gboolean writeback, gint64 *size,
			  GError **error)
{
	struct stat now, st;

	g_return_val_if_fail(!f->done, NULL);
	if (!ckptsum_file_advance(f, writeback, error))
		return NULL;
	/* Still the file that was opened (not replaced under its name). */
	if (fstat(f->fd, &st) < 0 || lstat(f->path, &now) < 0 ||
	    st.st_ino != now.st_ino || st.st_dev != now.st_dev) {
		ckptsum_fail(error, -1, f->path);
		return NULL;
	}
	if (writeback)
		ckptsum_push_to(f, f->off);
	f->pushed = f->off;
	f->done = TRUE;
	if (f->kind == CKPTSUM_XXH3 && f->off % CKPTSUM_SEGMENT != 0)
		ckptsum_add_segment(f->top, XXH3_128bits_digest(f->seg));
	*size = f->off;
	return ckptsum_hex(f->kind, f->top, f->crc);
}

/* How many bytes of F's file are summed (see ckptsum.h). */
gint64 ckptsum_file_offset(CkptsumFile *f)
{
	return f->off;
}

/* Closes F's file and frees F (see ckptsum.h). */
void ckptsum_file_free(CkptsumFile *f)
{
	if (!f)
		return;
	close(f->fd);
	if (f->seg)
		XXH3_freeState(f->seg);
	if (f->top)
		XXH3_freeState(f->top);
	g_free(f->path);
	g_free(f);
}

/* Sums item IT of JOB with read buffer BUF.  Returns 0, an errno, or -1
 * when the file is shorter than the item says. */
static int ckptsum_item(CkptsumJob *job, CkptsumItem *it, guint8 *buf)
{
	int fd = open(job->paths[it->file], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	XXH3_state_t *st = NULL;
	gint64 done = 0;
	int e = 0;

	if (fd < 0)
		return errno;
	it->crc = crc32(0L, Z_NULL, 0);
	if (job->kind == CKPTSUM_XXH3) {
		st = XXH3_createState();
		XXH3_128bits_reset(st);
	}
	while (done < it->len) {
		ssize_t n = pread(fd, buf, MIN(CKPTSUM_CHUNK, it->len - done),
				  it->off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : -1;
			break;
		}
		if (st)
			XXH3_128bits_update(st, buf, n);
		else
			it->crc = crc32(it->crc, buf, (uInt)n);
		done += n;
	}
	if (st) {
		it->xxh = XXH3_128bits_digest(st);
		XXH3_freeState(st);
	}
	close(fd);
	return e;
}

/* A thread of ckptsum_files(): takes items of the job UD until none is
 * left.  Returns NULL. */
static gpointer ckptsum_worker(gpointer ud)
{
	CkptsumJob *job = ud;
	guint8 *buf = ckptsum_buf();
	guint i;

	while ((i = (guint)g_atomic_int_add(&job->next, 1)) < job->n_items) {
		CkptsumItem *it = &job->items[i];
		if (g_atomic_int_get(&job->errs[it->file]) != 0)
			continue;
		int e = ckptsum_item(job, it, buf);
		if (e != 0)
			g_atomic_int_compare_and_exchange(&job->errs[it->file],
							  0, e);
	}
	return NULL;
}

/* Sums N whole files on up to THREADS threads; the caller frees the
 * checksums it sets in SUMS (see ckptsum.h). */
gboolean ckptsum_files(char *const *paths, guint n, CkptsumKind kind,
		       guint threads, char **sums, gint64 *sizes,
		       GError **error)
{
	g_autoptr(GArray) items = g_array_new(FALSE, TRUE,
					      sizeof(CkptsumItem));
	g_autoptr(GPtrArray) workers = g_ptr_array_new();
	g_autofree int *errs = g_new0(int, n);
	CkptsumJob job = { .paths = paths, .kind = kind, .errs = errs };
	gint64 total = 0;
	guint first = 0;

	for (guint i = 0; i < n; i++) {
		struct stat st;
		if (lstat(paths[i], &st) < 0)
			return ckptsum_fail(error, errno, paths[i]);
		if (!S_ISREG(st.st_mode))
			return ckptsum_fail(error, EINVAL, paths[i]);
		sizes[i] = st.st_size;
		total += st.st_size;
		for (gint64 off = 0; off < st.st_size; off += CKPTSUM_SEGMENT) {
			CkptsumItem it = { .file = i, .off = off,
					   .len = MIN(CKPTSUM_SEGMENT,
						      st.st_size - off) };
			g_array_append_val(items, it);
		}
	}
	job.items = (CkptsumItem *)items->data;
	job.n_items = items->len;
	if (total < CKPTSUM_THREAD_MIN)
		threads = 1;
	threads = MIN(threads, MAX(job.n_items, 1));
	for (guint t = 1; t < threads; t++) {
		GThread *th = g_thread_try_new("ckptsum", ckptsum_worker, &job,
					       NULL);
		if (th)
			g_ptr_array_add(workers, th);
	}
	ckptsum_worker(&job);
	for (guint t = 0; t < workers->len; t++)
		g_thread_join(workers->pdata[t]);
	for (guint i = 0; i < n; i++) {
		if (errs[i] != 0) {
			ckptsum_fail(error, errs[i], paths[i]);
			return FALSE;
		}
	}
	/* Each file's segments, in order, make its checksum. */
	for (guint i = 0; i < n; i++) {
		XXH3_state_t *top = kind == CKPTSUM_XXH3 ? XXH3_createState()
							 : NULL;
		uLong crc = crc32(0L, Z_NULL, 0);

		if (top)
			XXH3_128bits_reset(top);
		for (; first < job.n_items && job.items[first].file == i;
		     first++) {
			CkptsumItem *it = &job.items[first];
			if (top)
				ckptsum_add_segment(top, it->xxh);
			else
				crc = crc32_combine(crc, it->crc,
						    (z_off_t)it->len);
		}
		sums[i] = ckptsum_hex(kind, top, crc);
		if (top)
			XXH3_freeState(top);
	}
	return TRUE;
}
