/*
 * test-ckptdir.c: the checkpoint directory format: atomic commit, modes,
 * and every way verification must refuse a damaged directory.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <zlib.h>

#include "src/ckptdir.h"
#include "tests/unit/unit.h"

/* Makes a fresh parent directory for one test (caller frees the path). */
static char *tck_parent(void)
{
	g_autoptr(GError) err = NULL;
	char *p = g_dir_make_tmp("xckpt-unit-XXXXXX", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

/* Writes a checkpoint NAME with two image files into PARENT and returns
 * its final path (caller frees). */
static char *tck_make(const char *parent, const char *name)
{
	g_autoptr(GError) err = NULL;
	CkptWriter *w = ckptdir_begin(parent, name, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	g_autofree char *a = g_build_filename(ckptdir_images(w), "pages-1.img",
					      NULL);
	g_autofree char *b = g_build_filename(ckptdir_images(w), "core-7.img",
					      NULL);
	CU_ASSERT_TRUE(g_file_set_contents(a, "0123456789abcdef", -1, NULL));
	CU_ASSERT_TRUE(g_file_set_contents(b, "core", -1, NULL));
	char *argv[] = { "gedit", "notes.txt", NULL };
	char *env[] = { "A=1", "B=two words", NULL };
	CkptMeta meta = { .session = "gedit-1", .argv = argv, .cwd = "/tmp",
			  .env = env, .time = 1764000000,
			  .xckpt_version = "0.1", .criu_version = "4.1.1",
			  .kernel = "6.18", .display = ":101",
			  .upstream = ":0" };
	char *final = ckptdir_commit(w, &meta, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(final);
	return final;
}

/* Counts the entries of DIR. */
static guint tck_count(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	guint n = 0;
	while (d && g_dir_read_name(d))
		n++;
	if (d)
		g_dir_close(d);
	return n;
}

/* Removes PARENT and what is below it (tests only make small trees). */
static void tck_rm(const char *parent)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", parent);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* A committed checkpoint verifies, carries its metadata back, has private
 * modes, and leaves no temporary directory. */
static void test_roundtrip(void)
{
	g_autofree char *parent = tck_parent();
	g_autofree char *dir = tck_make(parent, "20261125-120000");
	g_autoptr(GError) err = NULL;
	g_autoptr(CkptMeta) m = ckptdir_verify(dir, &err);
	struct stat st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(m->session, "gedit-1");
	CU_ASSERT_STRING_EQUAL(m->argv[1], "notes.txt");
	CU_ASSERT_STRING_EQUAL(m->env[1], "B=two words");
	CU_ASSERT_STRING_EQUAL(m->display, ":101");
	CU_ASSERT_EQUAL(m->time, 1764000000);
	CU_ASSERT_EQUAL(m->format, CKPTDIR_FORMAT_VERSION);
	CU_ASSERT_EQUAL(tck_count(parent), 1);
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
	g_autofree char *img = g_build_filename(dir, "images", "pages-1.img",
						NULL);
	CU_ASSERT_EQUAL(stat(img, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	g_autofree char *mp = g_build_filename(dir, "xckpt.meta", NULL);
	CU_ASSERT_EQUAL(stat(mp, &st), 0);
	CU_ASSERT_EQUAL(ckptdir_size(dir), 20 + st.st_size);
	tck_rm(parent);
}

/* Verification failing with CODE after DAMAGE is done to a fresh
 * checkpoint; the message must name the directory. */
static void tck_expect(void (*damage)(const char *dir), int code)
{
	g_autofree char *parent = tck_parent();
	g_autofree char *dir = tck_make(parent, "c");
	g_autoptr(GError) err = NULL;

	damage(dir);
	g_autoptr(CkptMeta) m = ckptdir_verify(dir, &err);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_EQUAL(err->code, code);
	CU_ASSERT_PTR_NOT_NULL(strstr(err->message, dir));
	CU_ASSERT_PTR_NULL(strchr(err->message, '\n'));
	tck_rm(parent);
}

/* Damage: cut an image short. */
static void dmg_truncate(const char *dir)
{
	g_autofree char *p = g_build_filename(dir, "images", "pages-1.img",
					      NULL);
	CU_ASSERT_EQUAL(truncate(p, 8), 0);
}

/* Damage: flip one byte, same size. */
static void dmg_flip(const char *dir)
{
	g_autofree char *p = g_build_filename(dir, "images", "core-7.img",
					      NULL);
	CU_ASSERT_TRUE(g_file_set_contents(p, "Core", -1, NULL));
	g_chmod(p, 0600);
}

/* Damage: remove an image. */
static void dmg_missing(const char *dir)
{
	g_autofree char *p = g_build_filename(dir, "images", "core-7.img",
					      NULL);
	CU_ASSERT_EQUAL(g_unlink(p), 0);
}

/* Damage: remove the manifest. */
static void dmg_manifest(const char *dir)
{
	g_autofree char *p = g_build_filename(dir, "MANIFEST", NULL);
	CU_ASSERT_EQUAL(g_unlink(p), 0);
}

/* Damage: cut the manifest's last lines. */
static void dmg_manifest_cut(const char *dir)
{
	g_autofree char *p = g_build_filename(dir, "MANIFEST", NULL);
	g_autofree char *s = NULL;
	CU_ASSERT_TRUE(g_file_get_contents(p, &s, NULL, NULL));
	char *nl = strchr(s, '\n');
	nl[1] = 0;
	CU_ASSERT_TRUE(g_file_set_contents(p, s, -1, NULL));
	g_chmod(p, 0600);
}

/* Damage: metadata from a newer format. */
static void dmg_version(const char *dir)
{
	g_autofree char *p = g_build_filename(dir, "xckpt.meta", NULL);
	g_autofree char *s = NULL;
	CU_ASSERT_TRUE(g_file_get_contents(p, &s, NULL, NULL));
	g_autofree char *t = g_strdup_printf("format=%d",
					     CKPTDIR_FORMAT_VERSION);
	char *f = strstr(s, t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f[7] = '9';
	CU_ASSERT_TRUE(g_file_set_contents(p, s, -1, NULL));
}

/* Damage: garbage metadata. */
static void dmg_meta(const char *dir)
{
	g_autofree char *p = g_build_filename(dir, "xckpt.meta", NULL);
	CU_ASSERT_TRUE(g_file_set_contents(p, "\x01\x02 not a key file", -1,
					   NULL));
}

/* Damage: the images become another user's. */
static void dmg_owner(const char *dir)
{
	CU_ASSERT_EQUAL(chown(dir, 4242, 4242), 0);
}

/* Damage: the directory opened to others. */
static void dmg_mode(const char *dir)
{
	CU_ASSERT_EQUAL(chmod(dir, 0755), 0);
}

static void test_truncated(void) { tck_expect(dmg_truncate, CKPTDIR_ERROR_CORRUPT); }
static void test_flipped(void) { tck_expect(dmg_flip, CKPTDIR_ERROR_CORRUPT); }
static void test_missing(void) { tck_expect(dmg_missing, CKPTDIR_ERROR_CORRUPT); }
static void test_no_manifest(void) { tck_expect(dmg_manifest, CKPTDIR_ERROR_CORRUPT); }
static void test_cut_manifest(void) { tck_expect(dmg_manifest_cut, CKPTDIR_ERROR_CORRUPT); }
static void test_newer(void) { tck_expect(dmg_version, CKPTDIR_ERROR_VERSION); }
static void test_bad_meta(void) { tck_expect(dmg_meta, CKPTDIR_ERROR_CORRUPT); }
static void test_mode(void) { tck_expect(dmg_mode, CKPTDIR_ERROR_OWNER); }

/* Another user's images (needs root to make; skipped otherwise). */
static void test_owner(void)
{
	if (geteuid() != 0)
		return;
	tck_expect(dmg_owner, CKPTDIR_ERROR_OWNER);
}

/* An aborted writer leaves nothing; an existing target is refused and left
 * untouched; a stale temporary directory of a dead writer is swept. */
static void test_abort_and_exists(void)
{
	g_autofree char *parent = tck_parent();
	g_autofree char *dir = tck_make(parent, "one");
	g_autoptr(GError) err = NULL;

	CkptWriter *w = ckptdir_begin(parent, "two", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(tck_count(parent), 2);
	ckptdir_abort(w);
	CU_ASSERT_EQUAL(tck_count(parent), 1);

	CU_ASSERT_PTR_NULL(ckptdir_begin(parent, "one", &err));
	CU_ASSERT_EQUAL(err->code, CKPTDIR_ERROR_EXISTS);
	g_autoptr(CkptMeta) m = ckptdir_verify(dir, NULL);
	CU_ASSERT_PTR_NOT_NULL(m);

	/* pid 2^22+1 cannot exist (pid_max is at most 2^22). */
	g_autofree char *stale = g_build_filename(parent,
						  ".x.tmp-4194305-abcdef",
						  NULL);
	CU_ASSERT_EQUAL(g_mkdir(stale, 0700), 0);
	ckptdir_sweep(parent);
	CU_ASSERT_FALSE(g_file_test(stale, G_FILE_TEST_EXISTS));
	CU_ASSERT_EQUAL(tck_count(parent), 1);
	tck_rm(parent);
}

/* Starts writing checkpoint NAME in PARENT; the path of images/IMG in it
 * goes to *PATH (caller frees).  Returns the writer. */
static CkptWriter *tck_begin(const char *parent, const char *name,
			     const char *img, char **path)
{
	CkptWriter *w = ckptdir_begin(parent, name, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	*path = g_build_filename(ckptdir_images(w), img, NULL);
	return w;
}

/* A commit that fails (an unreadable special file among the images)
 * leaves no directory behind, neither final nor temporary. */
static void test_failed_commit(void)
{
	g_autofree char *parent = tck_parent();
	g_autoptr(GError) err = NULL;
	g_autofree char *fifo = NULL;
	CkptWriter *w = tck_begin(parent, "bad", "fifo", &fifo);
	CU_ASSERT_EQUAL(mkfifo(fifo, 0600), 0);
	char *argv[] = { "x", NULL };
	CkptMeta meta = { .session = "s", .argv = argv };
	char *final = ckptdir_commit(w, &meta, &err);
	CU_ASSERT_PTR_NULL(final);
	CU_ASSERT_PTR_NOT_NULL(err);
	CU_ASSERT_EQUAL(tck_count(parent), 0);
	tck_rm(parent);
}

/* Rewrites checkpoint DIR as format 1 wrote it: format=1 in the metadata
 * and CRC-32 checksums in the manifest (computed here with zlib). */
static void tck_to_format1(const char *dir)
{
	g_autofree char *mp = g_build_filename(dir, "xckpt.meta", NULL);
	g_autofree char *man = g_build_filename(dir, "MANIFEST", NULL);
	g_autofree char *meta = NULL, *text = NULL;
	g_autofree char *fmt = g_strdup_printf("format=%d",
					       CKPTDIR_FORMAT_VERSION);
	g_autoptr(GString) out = g_string_new(NULL);
	g_auto(GStrv) lines = NULL;

	CU_ASSERT_TRUE_FATAL(g_file_get_contents(mp, &meta, NULL, NULL));
	char *f = strstr(meta, fmt);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f[7] = '1';
	CU_ASSERT_TRUE(g_file_set_contents(mp, meta, -1, NULL));
	g_chmod(mp, 0600);
	CU_ASSERT_TRUE_FATAL(g_file_get_contents(man, &text, NULL, NULL));
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] && *lines[i]; i++) {
		g_auto(GStrv) w = g_strsplit(lines[i], " ", 3);
		if (g_strv_length(w) != 3) {
			g_string_append_printf(out, "%s\n", lines[i]);
			continue;
		}
		g_autofree char *p = g_build_filename(dir, w[2], NULL);
		g_autofree char *data = NULL;
		gsize len;
		CU_ASSERT_TRUE_FATAL(g_file_get_contents(p, &data, &len, NULL));
		g_string_append_printf(out, "%08lx %s %s\n",
				       crc32(0L, (guint8 *)data, (uInt)len),
				       w[1], w[2]);
	}
	CU_ASSERT_TRUE(g_file_set_contents(man, out->str, -1, NULL));
	g_chmod(man, 0600);
}

/* Damage: a format 1 checkpoint (CRC-32 manifest) with a byte flipped. */
static void dmg_format1_flip(const char *dir)
{
	tck_to_format1(dir);
	dmg_flip(dir);
}

/* A checkpoint of format 1 still verifies, and a byte flipped in it is
 * still caught. */
static void test_format1(void)
{
	g_autofree char *parent = tck_parent();
	g_autofree char *dir = tck_make(parent, "old");

	tck_to_format1(dir);
	g_autoptr(CkptMeta) m = ckptdir_verify(dir, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->format, 1);
	tck_rm(parent);
	tck_expect(dmg_format1_flip, CKPTDIR_ERROR_CORRUPT);
}

/* A page image written in pieces while the writer follows it (as CRIU
 * writes one) commits with the right checksum, DURABLE or not (the
 * follower then sums only what has stopped growing): the directory
 * verifies, and the manifest names it with its full size. */
static void tck_followed(gboolean durable)
{
	g_autofree char *parent = tck_parent();
	g_autoptr(GError) err = NULL;
	g_autofree char *pages = NULL;
	CkptWriter *w = tck_begin(parent, "f", "pages-1.img", &pages);
	g_autofree guint8 *buf = g_malloc(1 << 20);
	int fd;

	ckptdir_set_durable(w, durable);
	ckptdir_follow(w);
	fd = open(pages, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	for (int i = 0; i < 24; i++) {
		memset(buf, 'a' + i, 1 << 20);
		CU_ASSERT_EQUAL(write(fd, buf, (1 << 20) - i), (1 << 20) - i);
		g_usleep(1000);
	}
	close(fd);
	char *argv[] = { "x", NULL };
	CkptMeta meta = { .session = "s", .argv = argv };
	g_autofree char *final = ckptdir_commit(w, &meta, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(final);
	g_autoptr(CkptMeta) m = ckptdir_verify(final, &err);
	CU_ASSERT_PTR_NOT_NULL(m);
	CU_ASSERT_EQUAL(ckptdir_size(final) > 24 * ((1 << 20) - 23), TRUE);
	tck_rm(parent);
}

/* tck_followed(), durable (the default). */
static void test_followed(void)
{
	tck_followed(TRUE);
}

/* tck_followed(), not durable (checkpoint --no-sync). */
static void test_followed_no_sync(void)
{
	tck_followed(FALSE);
}

static CU_TestInfo tck_tests[] = {
	{ "roundtrip", test_roundtrip },
	{ "truncated image", test_truncated },
	{ "altered image", test_flipped },
	{ "missing image", test_missing },
	{ "no manifest", test_no_manifest },
	{ "cut manifest", test_cut_manifest },
	{ "newer format", test_newer },
	{ "corrupt metadata", test_bad_meta },
	{ "open mode", test_mode },
	{ "other owner", test_owner },
	{ "abort, exists, sweep", test_abort_and_exists },
	{ "failed commit", test_failed_commit },
	{ "format 1 (CRC-32) still read", test_format1 },
	{ "page image followed while written", test_followed },
	{ "page image followed, not durable", test_followed_no_sync },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("ckptdir", tck_tests)
