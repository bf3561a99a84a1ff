/*
 * test-control.c: the control-socket protocol (framing, the reader, HELLO
 * version checks, the listening socket's stale/in-use rules) and the
 * session metadata and state-directory helpers.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "src/control.h"
#include "src/sessinfo.h"
#include "src/statedir.h"
#include "tests/unit/unit.h"

/* Two encoded messages come out of the reader whole, whatever the chunks
 * they arrive in, and nothing more. */
static void test_reader_chunks(void)
{
	g_autoptr(GByteArray) wire = g_byte_array_new();
	int sv[2];

	control_encode_u32(wire, CONTROL_EXIT, 0x0300);
	control_encode(wire, CONTROL_OUTPUT, "\001hello", 6);
	CU_ASSERT_EQUAL(wire->len, 2 * CONTROL_HEADER + 4 + 6);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
					 0, sv), 0);

	ControlReader r;
	control_reader_init(&r);
	guint got = 0;
	for (guint off = 0; off < wire->len; off += 3) {
		guint n = MIN(3, wire->len - off);
		gboolean eof;
		guint32 type;
		GBytes *body;
		GError *e = NULL;

		CU_ASSERT_EQUAL(write(sv[0], wire->data + off, n), (ssize_t)n);
		CU_ASSERT_TRUE(control_reader_fill(&r, sv[1], &eof, NULL));
		CU_ASSERT_FALSE(eof);
		while (control_reader_next(&r, &type, &body, &e)) {
			guint32 v = 0;
			gsize len;
			const char *d = g_bytes_get_data(body, &len);
			if (got == 0) {
				CU_ASSERT_EQUAL(type, CONTROL_EXIT);
				CU_ASSERT_TRUE(control_get_u32(body, 0, &v));
				CU_ASSERT_EQUAL(v, 0x0300);
			} else {
				CU_ASSERT_EQUAL(type, CONTROL_OUTPUT);
				CU_ASSERT_EQUAL(len, 6);
				CU_ASSERT_EQUAL(memcmp(d, "\001hello", 6), 0);
			}
			g_bytes_unref(body);
			got++;
		}
		CU_ASSERT_PTR_NULL(e);
	}
	CU_ASSERT_EQUAL(got, 2);
	close(sv[0]);
	gboolean eof = FALSE;
	CU_ASSERT_TRUE(control_reader_fill(&r, sv[1], &eof, NULL));
	CU_ASSERT_TRUE(eof);
	control_reader_clear(&r);
	close(sv[1]);
}

/* The header is little-endian type, then length. */
static void test_wire_format(void)
{
	g_autoptr(GByteArray) wire = g_byte_array_new();
	const guint8 want[] = { 6, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0 };

	control_encode_u32(wire, CONTROL_SIGNAL, 2);
	CU_ASSERT_EQUAL_FATAL(wire->len, sizeof(want));
	CU_ASSERT_EQUAL(memcmp(wire->data, want, sizeof(want)), 0);
}

/* An over-long frame is an error, not a wait for more bytes. */
static void test_reader_too_long(void)
{
	ControlReader r;
	guint32 hdr[2] = { GUINT32_TO_LE(CONTROL_OUTPUT),
			   GUINT32_TO_LE(CONTROL_MAX_BODY + 1) };
	g_autoptr(GError) e = NULL;
	guint32 type;
	GBytes *body = NULL;

	control_reader_init(&r);
	g_byte_array_append(r.buf, (guint8 *)hdr, sizeof(hdr));
	CU_ASSERT_FALSE(control_reader_next(&r, &type, &body, &e));
	CU_ASSERT_TRUE(g_error_matches(e, CONTROL_ERROR_DOMAIN,
				       CONTROL_ERROR_PROTOCOL));
	CU_ASSERT_PTR_NULL(body);
	control_reader_clear(&r);
}

/* A daemon answering with another version is refused with a clear error;
 * one answering ERROR has its text passed on. */
static void test_hello_versions(void)
{
	int sv[2];
	guint32 reply[2] = { GUINT32_TO_LE(CONTROL_VERSION + 1),
			     GUINT32_TO_LE(1234) };
	g_autoptr(GError) e = NULL;
	guint32 type;
	GBytes *body;
	pid_t pid = 0;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_TRUE(control_send(sv[1], CONTROL_HELLO, reply,
				    sizeof(reply), NULL));
	CU_ASSERT_FALSE(control_hello(sv[0], 0, &pid, &e));
	CU_ASSERT_TRUE(g_error_matches(e, CONTROL_ERROR_DOMAIN,
				       CONTROL_ERROR_VERSION));
	CU_ASSERT_PTR_NOT_NULL(strstr(e->message, "version"));
	/* What the client sent: a HELLO with our version. */
	CU_ASSERT_TRUE(control_recv(sv[1], &type, &body, NULL));
	CU_ASSERT_EQUAL(type, CONTROL_HELLO);
	guint32 v = 0;
	CU_ASSERT_TRUE(control_get_u32(body, 0, &v));
	CU_ASSERT_EQUAL(v, CONTROL_VERSION);
	g_bytes_unref(body);

	g_clear_error(&e);
	CU_ASSERT_TRUE(control_send(sv[1], CONTROL_ERROR, "nope", 4, NULL));
	CU_ASSERT_FALSE(control_hello_reply(sv[0], &pid, &e));
	CU_ASSERT_TRUE(g_error_matches(e, CONTROL_ERROR_DOMAIN,
				       CONTROL_ERROR_REFUSED));
	CU_ASSERT_PTR_NOT_NULL(strstr(e->message, "nope"));

	reply[0] = GUINT32_TO_LE(CONTROL_VERSION);
	CU_ASSERT_TRUE(control_send(sv[1], CONTROL_HELLO, reply,
				    sizeof(reply), NULL));
	CU_ASSERT_TRUE(control_hello_reply(sv[0], &pid, NULL));
	CU_ASSERT_EQUAL(pid, 1234);
	close(sv[0]);
	close(sv[1]);
}

/* A live socket is in use; a stale one (nobody listens) is replaced. */
static void test_listen_stale(void)
{
	g_autofree char *dir = g_dir_make_tmp("xckpt-unit-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "s.sock", NULL);
	g_autoptr(GError) e = NULL;
	int a, b, c;

	a = control_listen(path, NULL);
	CU_ASSERT_TRUE_FATAL(a >= 0);
	b = control_listen(path, &e);
	CU_ASSERT_EQUAL(b, -1);
	CU_ASSERT_TRUE(g_error_matches(e, CONTROL_ERROR_DOMAIN,
				       CONTROL_ERROR_IN_USE));
	c = control_connect(path, NULL);
	CU_ASSERT_TRUE(c >= 0);
	close(c);
	close(a);	/* the socket file stays: stale */
	CU_ASSERT_TRUE(g_file_test(path, G_FILE_TEST_EXISTS));
	g_clear_error(&e);
	c = control_connect(path, &e);
	CU_ASSERT_EQUAL(c, -1);
	CU_ASSERT_TRUE(g_error_matches(e, CONTROL_ERROR_DOMAIN,
				       CONTROL_ERROR_NO_DAEMON));
	b = control_listen(path, NULL);
	CU_ASSERT_TRUE(b >= 0);
	close(b);
	g_unlink(path);
	g_rmdir(dir);
}

/* What the late starter of test_listen_race() holds. */
typedef struct {
	int fd;		/* its bound socket */
	int lock;	/* its directory lock */
} TcontrolLate;

/* Listens on the bound socket after 10 ms, then unlocks (a daemon that is
 * slow between bind and listen). */
static gpointer tcontrol_late_listen(gpointer ud)
{
	TcontrolLate *late = ud;

	g_usleep(10000);
	listen(late->fd, 4);
	close(late->lock);
	return NULL;
}

/* A socket that is bound but not yet listening, under the directory lock,
 * is not taken by another starter; without anyone listening it is. */
static void test_listen_race(void)
{
	g_autofree char *dir = g_dir_make_tmp("xckpt-unit-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "r.sock", NULL);
	g_autoptr(GError) e = NULL;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	TcontrolLate late;
	int fd2;

	late.lock = control_lock_dir(path, NULL);
	CU_ASSERT_TRUE_FATAL(late.lock >= 0);
	late.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
	CU_ASSERT_EQUAL_FATAL(bind(late.fd, (struct sockaddr *)&addr,
				   sizeof(addr)), 0);
	GThread *t = g_thread_new("late-listen", tcontrol_late_listen, &late);
	CU_ASSERT_EQUAL(control_listen(path, &e), -1);
	CU_ASSERT_TRUE(g_error_matches(e, CONTROL_ERROR_DOMAIN,
				       CONTROL_ERROR_IN_USE));
	g_thread_join(t);
	CU_ASSERT_FALSE(control_stale(path));
	close(late.fd);
	CU_ASSERT_TRUE(control_stale(path));
	fd2 = control_listen(path, NULL);
	CU_ASSERT_TRUE(fd2 >= 0);
	close(fd2);
	g_unlink(path);
	CU_ASSERT_TRUE(control_stale(path));
	g_rmdir(dir);
}

/* Session metadata survives a round trip; a newer version is refused. */
static void test_sessinfo(void)
{
	char *argv[] = { "gedit", "a file.txt", NULL };
	SessInfo in = { .name = "ed", .pid = 42, .app_pid = 43,
			.display = ":101", .upstream = ":0", .argv = argv,
			.cwd = "/tmp", .started = "2026-11-25T12:00:00Z",
			.state = "running", .restores = 2 };
	g_autofree char *data = sessinfo_to_data(&in);
	g_autoptr(GError) e = NULL;
	g_autoptr(SessInfo) out = sessinfo_from_data(data, -1, &e);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_STRING_EQUAL(out->name, "ed");
	CU_ASSERT_EQUAL(out->pid, 42);
	CU_ASSERT_EQUAL(out->app_pid, 43);
	CU_ASSERT_STRING_EQUAL(out->display, ":101");
	CU_ASSERT_STRING_EQUAL(out->upstream, ":0");
	CU_ASSERT_EQUAL(out->restores, 2);
	CU_ASSERT_EQUAL(g_strv_length(out->argv), 2);
	CU_ASSERT_STRING_EQUAL(out->argv[1], "a file.txt");
	g_autofree char *line = sessinfo_command_line(out);
	CU_ASSERT_STRING_EQUAL(line, "gedit 'a file.txt'");

	SessInfo *bad = sessinfo_from_data("[session]\nversion=99\nname=x\n"
					   "pid=1\n", -1, &e);
	CU_ASSERT_PTR_NULL(bad);
	CU_ASSERT_PTR_NOT_NULL(e);
	g_clear_error(&e);
	bad = sessinfo_from_data("[session]\nversion=1\nname=x\n", -1, &e);
	CU_ASSERT_PTR_NULL(bad);
	CU_ASSERT_PTR_NOT_NULL(e);
}

/* Session names: what is accepted, what is refused, and stems. */
static void test_names(void)
{
	CU_ASSERT_TRUE(statedir_name_valid("gedit-1", NULL));
	CU_ASSERT_TRUE(statedir_name_valid("a.b_c+d", NULL));
	CU_ASSERT_FALSE(statedir_name_valid("", NULL));
	CU_ASSERT_FALSE(statedir_name_valid("../x", NULL));
	CU_ASSERT_FALSE(statedir_name_valid(".hidden", NULL));
	CU_ASSERT_FALSE(statedir_name_valid("-opt", NULL));
	CU_ASSERT_FALSE(statedir_name_valid("a b", NULL));
	char long_name[STATEDIR_NAME_MAX + 2];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CU_ASSERT_FALSE(statedir_name_valid(long_name, NULL));
	long_name[STATEDIR_NAME_MAX] = '\0';
	CU_ASSERT_TRUE(statedir_name_valid(long_name, NULL));

	g_autofree char *s1 = statedir_name_stem("/usr/bin/gedit");
	CU_ASSERT_STRING_EQUAL(s1, "gedit");
	g_autofree char *s2 = statedir_name_stem("my app");
	CU_ASSERT_STRING_EQUAL(s2, "my_app");
	g_autofree char *s3 = statedir_name_stem(".x");
	CU_ASSERT_TRUE(statedir_name_valid(s3, NULL));
}

static CU_TestInfo tcontrol_tests[] = {
	{ "reader reassembles chunks", test_reader_chunks },
	{ "wire format", test_wire_format },
	{ "over-long frame", test_reader_too_long },
	{ "hello versions", test_hello_versions },
	{ "listen: in use and stale", test_listen_stale },
	{ "listen: bound, not yet listening", test_listen_race },
	{ "session metadata", test_sessinfo },
	{ "session names", test_names },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("control", tcontrol_tests)
