/*
 * test-ckptdir.c: the checkpoint directory format: atomic commit, modes,
 * and every way verification must refuse a damaged directory.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

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

/* A commit that fails (an unreadable special file among the images)
 * leaves no directory behind, neither final nor temporary. */
static void test_failed_commit(void)
{
	g_autofree char *parent = tck_parent();
	g_autoptr(GError) err = NULL;
	CkptWriter *w = ckptdir_begin(parent, "bad", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	g_autofree char *fifo = g_build_filename(ckptdir_images(w), "fifo",
						 NULL);
	CU_ASSERT_EQUAL(mkfifo(fifo, 0600), 0);
	char *argv[] = { "x", NULL };
	CkptMeta meta = { .session = "s", .argv = argv };
	char *final = ckptdir_commit(w, &meta, &err);
	CU_ASSERT_PTR_NULL(final);
	CU_ASSERT_PTR_NOT_NULL(err);
	CU_ASSERT_EQUAL(tck_count(parent), 0);
	tck_rm(parent);
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
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("ckptdir", tck_tests)
