/*
 * test-conn-display.c: upstream display names (xproxy/display.c) and the
 * connection buffer (xproxy/xbuf.c).
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "xproxy/display.h"
#include "xproxy/xbuf.h"
#include "xproxy/xproxy.h"

/* Good names parse; bad ones give a one-line XPROXY_ERROR_BAD_DISPLAY. */
static void test_display_names(void)
{
	static const char *good[] = { ":0", ":12.1", "unix:7", "localhost:3",
				      "127.0.0.1:4.0", "/tmp/launch-x/org:0" };
	static const char *bad[] = { "", "0", "foo", ":", ":x", ":1x",
				     ":-1", "host::0", ":99999" };

	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(XpDisplay) d = display_new(good[i], &error);
		CU_ASSERT_PTR_NOT_NULL(d);
		if (d)
			CU_ASSERT_STRING_EQUAL(display_name(d), good[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(XpDisplay) d = display_new(bad[i], &error);
		CU_ASSERT_PTR_NULL(d);
		CU_ASSERT_TRUE(g_error_matches(error, XPROXY_ERROR,
					       XPROXY_ERROR_BAD_DISPLAY));
		if (error)
			CU_ASSERT_PTR_NULL(strchr(error->message, '\n'));
	}
}

/* A display nobody listens on: connect and check fail with a message. */
static void test_display_unreachable(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(XpDisplay) d = display_new("/nonexistent/xckpt-sock:0",
					     &error);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(display_connect(d, &error), -1);
	CU_ASSERT_TRUE(g_error_matches(error, XPROXY_ERROR,
				       XPROXY_ERROR_UNREACHABLE));
	g_clear_error(&error);
	CU_ASSERT_FALSE(display_check(d, 1000, &error));
	CU_ASSERT_PTR_NOT_NULL(error);
	CU_ASSERT_FALSE(display_alive(d));
}

/* The set-up request carries the protocol version and is padded. */
static void test_display_setup_request(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(XpDisplay) d = display_new(":0", &error);
	g_autoptr(GBytes) r = NULL;
	const guint8 *p;
	gsize len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	r = display_setup_request(d, 11, 0);
	p = g_bytes_get_data(r, &len);
	CU_ASSERT_EQUAL(p[0], 'l');
	CU_ASSERT_EQUAL(p[2], 11);
	CU_ASSERT_EQUAL(len % 4, 0);
	CU_ASSERT_EQUAL(len, 12 + ((p[6] + 3) & ~3) + ((p[8] + 3) & ~3));
}

/* xbuf: insert and cut around the parse point, growth keeps the bytes. */
static void test_xbuf(void)
{
	XpBuf b;

	xbuf_init(&b, 16);
	xbuf_reserve(&b, 10);
	memcpy(b.data + b.end, "0123456789", 10);
	b.end += 10;
	b.parsed = 4;
	xbuf_insert(&b, 4, "ab", 2);
	CU_ASSERT_EQUAL(memcmp(b.data, "0123ab456789", 12), 0);
	xbuf_cut(&b, 6, 3);
	CU_ASSERT_EQUAL(b.end, 9);
	CU_ASSERT_EQUAL(memcmp(b.data, "0123ab789", 9), 0);
	b.start = 2;
	xbuf_reserve(&b, 100);		/* moves and grows */
	CU_ASSERT_EQUAL(b.start, 0);
	CU_ASSERT_EQUAL(b.parsed, 2);
	CU_ASSERT_EQUAL(memcmp(b.data, "23ab789", 7), 0);
	CU_ASSERT_TRUE(b.cap - b.end >= 100);
	CU_ASSERT_TRUE(xbuf_pending(&b));
	xbuf_clear(&b);
	CU_ASSERT_PTR_NULL(b.data);
}

/* How many of the whole pages inside B's bytes are resident. */
static guint tcd_resident(const XpBuf *b)
{
	gsize page = (gsize)sysconf(_SC_PAGESIZE);
	guintptr lo = ((guintptr)b->data + page - 1) & ~(guintptr)(page - 1);
	guintptr hi = ((guintptr)b->data + b->cap) & ~(guintptr)(page - 1);
	gsize n = (hi - lo) / page;
	g_autofree unsigned char *vec = g_malloc0(n);
	guint resident = 0;

	if (mincore((void *)lo, hi - lo, vec) < 0)
		return G_MAXUINT;
	for (gsize i = 0; i < n; i++)
		resident += vec[i] & 1;
	return resident;
}

/* xbuf_release: nothing while the buffer holds bytes; once it is empty its
 * pages leave memory (a dump would not carry them), and it works on. */
static void test_xbuf_release(void)
{
	XpBuf b;

	xbuf_init(&b, 256 * 1024);
	memset(b.data, 0xab, b.cap);
	CU_ASSERT_TRUE(tcd_resident(&b) >= 60);
	b.start = 10;
	b.parsed = b.end = 100;
	xbuf_release(&b);
	CU_ASSERT_TRUE(tcd_resident(&b) >= 60);
	CU_ASSERT_EQUAL(b.data[50], 0xab);
	CU_ASSERT_EQUAL(b.end, 100);
	b.start = b.end;
	xbuf_release(&b);
	CU_ASSERT_EQUAL(tcd_resident(&b), 0);
	CU_ASSERT_EQUAL(b.start, 0);
	CU_ASSERT_EQUAL(b.end, 0);
	memcpy(b.data, "after", 5);
	b.parsed = b.end = 5;
	CU_ASSERT_EQUAL(memcmp(b.data, "after", 5), 0);
	CU_ASSERT_TRUE(xbuf_pending(&b));
	xbuf_clear(&b);
}

static CU_TestInfo tcd_tests[] = {
	{ "display names", test_display_names },
	{ "unreachable display", test_display_unreachable },
	{ "set-up request", test_display_setup_request },
	{ "xbuf", test_xbuf },
	{ "xbuf release", test_xbuf_release },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("display", tcd_tests)
