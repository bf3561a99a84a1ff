/*
 * test-ckptsum.c: the manifest checksums: a file summed as it grows gives
 * the same checksum as the whole file summed on several threads, across
 * segment boundaries, for both formats; CRC-32 is zlib's; a file that
 * shrinks or is replaced while followed is noticed.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <zlib.h>

#include "src/ckptsum.h"
#include "tests/unit/unit.h"

/* The sizes tried: empty, small, around one and two segments. */
static const gint64 tcs_sizes[] = {
	0, 1, 4095, 4096, 300000,
	CKPTSUM_SEGMENT - 1, CKPTSUM_SEGMENT, CKPTSUM_SEGMENT + 1,
	2 * CKPTSUM_SEGMENT, 2 * CKPTSUM_SEGMENT + 12345,
};

/* A new temporary directory (caller frees the path, removes it). */
static char *tcs_dir(void)
{
	char *dir = g_dir_make_tmp("xckpt-sum-XXXXXX", NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	return dir;
}

/* LEN bytes of a fixed pseudo-random pattern (caller frees). */
static guint8 *tcs_data(gint64 len)
{
	guint8 *d = g_malloc(MAX(len, 1));
	guint32 x = 2463534242u;

	for (gint64 i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (guint8)x;
	}
	return d;
}

/* Sums the N files PATHS with KIND on 2 threads; returns whether that
 * worked, the checksums in SUMS (caller frees) and the sizes in SIZES. */
static gboolean tcs_files(char **paths, guint n, CkptsumKind kind,
			  char **sums, gint64 *sizes)
{
	g_autoptr(GError) err = NULL;
	gboolean ok = ckptsum_files(paths, n, kind, 2, sums, sizes, &err);

	CU_ASSERT_EQUAL(ok, err == NULL);
	return ok;
}

/* Appends LEN bytes of DATA to the file FD. */
static void tcs_append(int fd, const guint8 *data, gint64 len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		CU_ASSERT_FATAL(n > 0);
		data += n;
		len -= n;
	}
}

/* For every size and both kinds: the file written in uneven pieces and
 * followed after each piece sums like the whole file on 2 threads; CRC-32
 * matches zlib's one-shot crc32(). */
static void test_follow_equals_whole(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *dir = tcs_dir();
	g_autofree char *path = g_build_filename(dir, "pages-1.img", NULL);

	for (guint k = 0; k < 2; k++) {
		CkptsumKind kind = k ? CKPTSUM_XXH3 : CKPTSUM_CRC32;
		for (guint i = 0; i < G_N_ELEMENTS(tcs_sizes); i++) {
			gint64 len = tcs_sizes[i], done = 0, size = -1;
			g_autofree guint8 *data = tcs_data(len);
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			CU_ASSERT_FATAL(fd >= 0);
			g_autoptr(CkptsumFile) f = ckptsum_file_open(path, kind,
								     &err);
			CU_ASSERT_PTR_NOT_NULL_FATAL(f);
			/* pieces of 1 MB + 4093 bytes: never aligned */
			while (done < len) {
				gint64 n = MIN(len - done, (1 << 20) + 4093);
				tcs_append(fd, data + done, n);
				done += n;
				CU_ASSERT_TRUE(ckptsum_file_advance(f, TRUE,
								    NULL));
			}
			close(fd);
			g_autofree char *grown = ckptsum_file_finish(f, TRUE,
								     &size,
								     NULL);
			CU_ASSERT_PTR_NOT_NULL_FATAL(grown);
			CU_ASSERT_EQUAL(size, len);
			CU_ASSERT_EQUAL(strlen(grown), k ? 32u : 8u);

			char *paths[] = { path, path };
			char *sums[2] = { NULL, NULL };
			gint64 sizes[2];
			CU_ASSERT_TRUE_FATAL(tcs_files(paths, 2, kind, sums,
						       sizes));
			CU_ASSERT_STRING_EQUAL(sums[0], grown);
			CU_ASSERT_STRING_EQUAL(sums[1], grown);
			CU_ASSERT_EQUAL(sizes[0], len);
			if (kind == CKPTSUM_CRC32) {
				g_autofree char *z = g_strdup_printf(
					"%08lx", crc32(0L, data, (uInt)len));
				CU_ASSERT_STRING_EQUAL(z, grown);
			}
			g_free(sums[0]);
			g_free(sums[1]);
		}
	}
	g_unlink(path);
	g_rmdir(dir);
}

/* One byte changed in the second segment changes the checksum. */
static void test_sensitive(void)
{
	g_autofree char *dir = tcs_dir();
	g_autofree char *a = g_build_filename(dir, "a", NULL);
	g_autofree char *b = g_build_filename(dir, "b", NULL);
	gint64 len = CKPTSUM_SEGMENT + 100;
	g_autofree guint8 *data = tcs_data(len + 1);

	CU_ASSERT_TRUE(g_file_set_contents(a, (char *)data, len, NULL));
	data[CKPTSUM_SEGMENT + 7] ^= 1;
	CU_ASSERT_TRUE(g_file_set_contents(b, (char *)data, len, NULL));
	char *paths[] = { a, b };
	char *sums[2] = { NULL, NULL };
	gint64 sizes[2];
	CU_ASSERT_TRUE_FATAL(tcs_files(paths, 2, CKPTSUM_XXH3, sums, sizes));
	CU_ASSERT_STRING_NOT_EQUAL(sums[0], sums[1]);
	g_free(sums[0]);
	g_free(sums[1]);
	g_unlink(a);
	g_unlink(b);
	g_rmdir(dir);
}

/* A followed file that shrinks, or is replaced under its name, fails
 * (the writer then sums it anew); a missing file fails ckptsum_files(). */
static void test_rewritten(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *dir = tcs_dir();
	g_autofree char *p = g_build_filename(dir, "pages-1.img", NULL);
	g_autofree char *q = g_build_filename(dir, "other", NULL);
	gint64 size;

	CU_ASSERT_TRUE(g_file_set_contents(p, "0123456789", -1, NULL));
	g_autoptr(CkptsumFile) f = ckptsum_file_open(p, CKPTSUM_XXH3, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_TRUE(ckptsum_file_advance(f, FALSE, NULL));
	CU_ASSERT_EQUAL(ckptsum_file_offset(f), 10);
	CU_ASSERT_EQUAL(truncate(p, 4), 0);
	CU_ASSERT_FALSE(ckptsum_file_advance(f, FALSE, &err));
	CU_ASSERT_PTR_NOT_NULL(err);
	g_clear_error(&err);

	g_autoptr(CkptsumFile) g = ckptsum_file_open(p, CKPTSUM_XXH3, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_TRUE(g_file_set_contents(q, "abcd", -1, NULL));
	CU_ASSERT_EQUAL(rename(q, p), 0);
	CU_ASSERT_PTR_NULL(ckptsum_file_finish(g, FALSE, &size, &err));
	CU_ASSERT_PTR_NOT_NULL(err);
	g_clear_error(&err);

	char *paths[] = { q };
	char *sums[1] = { NULL };
	gint64 sizes[1];
	CU_ASSERT_FALSE(tcs_files(paths, 1, CKPTSUM_XXH3, sums, sizes));
	CU_ASSERT_PTR_NULL(sums[0]);
	g_unlink(p);
	g_rmdir(dir);
}

static CU_TestInfo tcs_tests[] = {
	{ "followed equals whole, both formats", test_follow_equals_whole },
	{ "one byte changes the checksum", test_sensitive },
	{ "shrunk or replaced while followed", test_rewritten },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("ckptsum", tcs_tests)
