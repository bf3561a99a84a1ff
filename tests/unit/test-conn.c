/*
 * test-conn.c: one proxied connection (xproxy/conn.c) on real sockets, with
 * the test playing both the client and a fake X server: the set-up and its
 * refusals, bad requests turned into the server's own errors at their place
 * in the sequence, requests injected past the 16-bit wrap and their replies
 * swallowed, hidden extensions, and a server that sends garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tests/unit/unit.h"
#include "xproxy/conn.h"
#include "xproxy/xlate.h"

/* The proxy's cookie in these tests. */
static const guint8 tcn_cookie[16] = "0123456789abcdef";

/* One test's world. */
typedef struct {
	XpLoop *loop;		/* the proxy's loop (served by the test) */
	char *dir;		/* temporary directory (owned) */
	int lfd;		/* the fake server's listening socket */
	int cfd;		/* the client's end */
	int sfd;		/* the fake server's end of the proxy's
				 * upstream connection, once accepted */
	XpDisplay *display;	/* the fake server as a display */
	XpConn *conn;		/* the connection under test */
	gboolean ended;		/* end_fn was called */
	ConnEnd end;		/* how it ended */
} Tcn;

/* end_fn: notes how the connection ended (the test frees it). */
static void tcn_end(gpointer ud, XpConn *conn, ConnEnd end, const char *why)
{
	Tcn *t = ud;

	t->ended = TRUE;
	t->end = end;
}

/* Runs the proxy's loop until FD has LEN bytes to read into BUF (or, for
 * LEN 0, until the connection ended).  Fails the test after 3 s. */
static void tcn_read(Tcn *t, int fd, guint8 *buf, gsize len)
{
	gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
	gsize got = 0;

	while (len == 0 ? !t->ended : got < len) {
		gssize n = len ? read(fd, buf + got, len - got) : -1;
		if (n > 0) {
			got += n;
			continue;
		}
		CU_ASSERT_FATAL(n != 0);
		CU_ASSERT_FATAL(g_get_monotonic_time() < deadline);
		loop_iterate(t->loop, 0);
		g_usleep(100);
	}
}

/* Writes all of BUF to FD, running the proxy while the socket is full. */
static void tcn_write(Tcn *t, int fd, const void *buf, gsize len)
{
	const guint8 *p = buf;

	while (len) {
		gssize n = write(fd, p, len);
		if (n < 0) {
			CU_ASSERT_FATAL(errno == EAGAIN);
			loop_iterate(t->loop, 0);
			continue;
		}
		p += n;
		len -= n;
	}
}

/* A canned server set-up reply: base 0x00600000, mask 0x1fffff, maximum
 * request length 65535 words, no screens (48 bytes). */
static void tcn_setup_reply(guint8 *r)
{
	memset(r, 0, 48);
	r[0] = 1;
	xlate_put16(r + 2, 11);
	xlate_put16(r + 6, 10);			/* 40 more bytes */
	xlate_put32(r + 12, 0x00600000);
	xlate_put32(r + 16, 0x001fffff);
	xlate_put16(r + 24, 4);			/* vendor length */
	xlate_put16(r + 26, 65535);
	memcpy(r + 40, "fake", 4);
}

/* Makes the world: a fake server socket, the display naming it (no cookie
 * for it in the empty XAUTHORITY), a socketpair for the client and the
 * connection under test. */
static void tcn_init(Tcn *t)
{
	g_autoptr(GError) error = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int sv[2];

	memset(t, 0, sizeof(*t));
	t->sfd = -1;
	t->loop = loop_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->loop);
	t->dir = g_dir_make_tmp("xckpt-unit-XXXXXX", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->dir);
	g_autofree char *auth = g_build_filename(t->dir, "xauth", NULL);
	g_file_set_contents(auth, "", 0, NULL);
	g_setenv("XAUTHORITY", auth, TRUE);
	g_autofree char *path = g_build_filename(t->dir, "X0", NULL);
	g_autofree char *name = g_strdup_printf("%s:0", path);
	strcpy(sun.sun_path, path);
	t->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(bind(t->lfd, (struct sockaddr *)&sun, sizeof(sun)) ==
			0);
	CU_ASSERT_FATAL(listen(t->lfd, 4) == 0);
	t->display = display_new(name, &error);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->display);
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	t->cfd = sv[0];
	fcntl(t->cfd, F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	XpConnParams params = {
		.loop = t->loop, .upstream = t->display,
		.cookie = tcn_cookie, .cookie_len = sizeof(tcn_cookie),
		.end_fn = tcn_end, .ud = t, .id = 1,
	};
	t->conn = conn_new(sv[1], &params);
}

/* Undoes tcn_init(). */
static void tcn_fini(Tcn *t)
{
	conn_free(t->conn);
	display_free(t->display);
	close(t->cfd);
	close(t->lfd);
	if (t->sfd >= 0)
		close(t->sfd);
	g_autofree char *auth = g_build_filename(t->dir, "xauth", NULL);
	g_autofree char *path = g_build_filename(t->dir, "X0", NULL);
	g_unlink(auth);
	g_unlink(path);
	g_rmdir(t->dir);
	g_free(t->dir);
	loop_free(t->loop);
}

/* Sends a client set-up request: byte order ORDER, cookie COOKIE. */
static void tcn_client_setup(Tcn *t, char order, const guint8 *cookie)
{
	guint8 r[48] = { order, 0, 0, 11, 0, 0, 0, 18, 0, 16 };

	if (order == 'l') {
		r[2] = 11;
		r[3] = 0;
		r[6] = 18;
		r[7] = 0;
		r[8] = 16;
		r[9] = 0;
	}
	memcpy(r + 12, "MIT-MAGIC-COOKIE-1", 18);
	memcpy(r + 32, cookie, 16);
	tcn_write(t, t->cfd, r, sizeof(r));
}

/* Completes a good set-up: the server gets our set-up request (with the
 * user's empty cookie) and answers; the client gets the reply unchanged. */
static void tcn_setup(Tcn *t)
{
	guint8 req[12], reply[48], got[48];
	gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;

	tcn_client_setup(t, 'l', tcn_cookie);
	fcntl(t->lfd, F_SETFL, O_NONBLOCK);
	while ((t->sfd = accept(t->lfd, NULL, NULL)) < 0) {
		loop_iterate(t->loop, 0);
		CU_ASSERT_FATAL(g_get_monotonic_time() < deadline);
		g_usleep(100);
	}
	fcntl(t->sfd, F_SETFL, O_NONBLOCK);
	tcn_read(t, t->sfd, req, 12);
	CU_ASSERT_EQUAL(req[0], 'l');
	CU_ASSERT_EQUAL(xlate_get16(req + 2), 11);
	CU_ASSERT_EQUAL(xlate_get16(req + 6), 0);	/* no cookie */
	tcn_setup_reply(reply);
	tcn_write(t, t->sfd, reply, 48);
	tcn_read(t, t->cfd, got, 48);
	CU_ASSERT_EQUAL(memcmp(got, reply, 48), 0);
	CU_ASSERT_PTR_NOT_NULL(conn_setup_reply(t->conn));
}

/* Sends the 32-byte error CODE for server request SSEQ with major MAJOR. */
static void tcn_server_error(Tcn *t, guint8 code, guint64 sseq, guint8 major)
{
	guint8 e[32] = { 0, code };

	xlate_put16(e + 2, (guint16)sseq);
	e[10] = major;
	tcn_write(t, t->sfd, e, 32);
}

/* Bad client requests reach the server as 4-byte requests it rejects with
 * the same error; the client sees the error with its own opcodes. */
static void test_conn_bad_requests(void)
{
	Tcn t;
	guint8 buf[64], e[32];

	tcn_init(&t);
	tcn_setup(&t);
	guint8 reqs[] = {
		127, 0, 1, 0,			/* 1: NoOperation */
		120, 7, 2, 0, 1, 2, 3, 4,	/* 2: no such core request */
		55, 0, 0, 0,			/* 3: length 0, no BIG-REQUESTS */
		200, 9, 1, 0,			/* 4: major of no extension */
	};
	tcn_write(&t, t.cfd, reqs, sizeof(reqs));
	tcn_read(&t, t.sfd, buf, 16);
	static const guint8 want[] = { 127, 0, 1, 0, 0, 0, 1, 0,
				       3, 0, 1, 0, 0, 0, 1, 0 };
	CU_ASSERT_EQUAL(memcmp(buf, want, 16), 0);
	/* the server's errors, with its opcodes */
	tcn_server_error(&t, 1, 2, 0);		/* BadRequest */
	tcn_server_error(&t, 16, 3, 3);		/* BadLength */
	tcn_server_error(&t, 1, 4, 0);
	tcn_read(&t, t.cfd, e, 32);
	CU_ASSERT_EQUAL(e[1], 1);
	CU_ASSERT_EQUAL(xlate_get16(e + 2), 2);
	CU_ASSERT_EQUAL(e[10], 120);
	CU_ASSERT_EQUAL(xlate_get16(e + 8), 0);
	tcn_read(&t, t.cfd, e, 32);
	CU_ASSERT_EQUAL(e[1], 16);
	CU_ASSERT_EQUAL(xlate_get16(e + 2), 3);
	CU_ASSERT_EQUAL(e[10], 55);
	tcn_read(&t, t.cfd, e, 32);
	CU_ASSERT_EQUAL(xlate_get16(e + 2), 4);
	CU_ASSERT_EQUAL(e[10], 200);
	CU_ASSERT_EQUAL(xlate_get16(e + 8), 0);

	CU_ASSERT_FALSE(t.ended);
	tcn_fini(&t);
}

/* BIG-REQUESTS: once BigReqEnable is sent, length 0 means a 32-bit length;
 * a request longer than the maximum the server's reply gave is answered
 * with BadLength and its bytes discarded, and the stream goes on. */
static void test_conn_big_requests(void)
{
	Tcn t;
	guint8 buf[64], r[32];

	tcn_init(&t);
	tcn_setup(&t);
	guint8 q[20] = { 98, 0, 5, 0, 12, 0, 0, 0 };
	memcpy(q + 8, "BIG-REQUESTS", 12);
	tcn_write(&t, t.cfd, q, 20);
	tcn_read(&t, t.sfd, buf, 20);
	memset(r, 0, 32);
	r[0] = 1;
	xlate_put16(r + 2, 1);
	r[8] = 1;
	r[9] = 133;
	tcn_write(&t, t.sfd, r, 32);
	tcn_read(&t, t.cfd, r, 32);
	CU_ASSERT_EQUAL(r[8], 1);
	CU_ASSERT_EQUAL(r[9], 133);
	/* BigReqEnable; the server allows 1000 words */
	guint8 en[4] = { 133, 0, 1, 0 };
	tcn_write(&t, t.cfd, en, 4);
	tcn_read(&t, t.sfd, buf, 4);
	CU_ASSERT_EQUAL(memcmp(buf, en, 4), 0);
	memset(r, 0, 32);
	r[0] = 1;
	xlate_put16(r + 2, 2);
	xlate_put32(r + 8, 1000);
	tcn_write(&t, t.sfd, r, 32);
	tcn_read(&t, t.cfd, r, 32);
	CU_ASSERT_EQUAL(xlate_get32(r + 8), 1000);
	/* a big NoOperation of 10 words passes whole */
	guint8 ok[40] = { 127, 0, 0, 0, 10, 0, 0, 0 };
	tcn_write(&t, t.cfd, ok, 40);
	tcn_read(&t, t.sfd, buf, 40);
	CU_ASSERT_EQUAL(memcmp(buf, ok, 40), 0);
	/* a PutImage of 2000 words: BadLength, 8000 bytes dropped */
	guint8 *big = g_malloc0(8000);
	big[0] = 72;
	xlate_put32(big + 4, 2000);
	tcn_write(&t, t.cfd, big, 8000);
	g_free(big);
	guint8 after[4] = { 127, 0, 1, 0 };
	tcn_write(&t, t.cfd, after, 4);
	tcn_read(&t, t.sfd, buf, 8);
	CU_ASSERT_EQUAL(buf[0], 3);		/* the BadLength rewrite */
	CU_ASSERT_EQUAL(xlate_get16(buf + 2), 1);
	CU_ASSERT_EQUAL(memcmp(buf + 4, after, 4), 0);
	tcn_server_error(&t, 16, 4, 3);
	tcn_read(&t, t.cfd, r, 32);
	CU_ASSERT_EQUAL(r[1], 16);
	CU_ASSERT_EQUAL(r[10], 72);
	CU_ASSERT_EQUAL(xlate_get16(r + 2), 4);
	/* nothing else reached the server */
	CU_ASSERT_EQUAL(read(t.sfd, buf, 1), -1);
	CU_ASSERT_FALSE(t.ended);
	tcn_fini(&t);
}

/* Big requests and replies with nothing to translate are streamed (and
 * request bodies spliced): the bytes arrive intact, in order, and the
 * requests after them are framed right. */
static void test_conn_stream(void)
{
	enum { IMG = 200000, REPLY = 150000 };
	Tcn t;
	guint8 *img = g_malloc(IMG), *got = g_malloc(IMG);
	guint8 tail[8] = { 127, 0, 1, 0, 43, 0, 1, 0 }, buf[8];

	tcn_init(&t);
	tcn_setup(&t);
	/* PutImage of IMG bytes (a 50000-word request), in three pieces */
	for (guint i = 0; i < IMG; i++)
		img[i] = i * 7;
	img[0] = 72;
	img[1] = 2;
	xlate_put16(img + 2, IMG / 4);
	tcn_write(&t, t.cfd, img, 100);
	for (int i = 0; i < 20; i++)
		loop_iterate(t.loop, 0);
	tcn_write(&t, t.cfd, img + 100, 90000);
	for (int i = 0; i < 20; i++)
		loop_iterate(t.loop, 0);
	tcn_write(&t, t.cfd, img + 90100, IMG - 90100);
	tcn_write(&t, t.cfd, tail, 8);
	tcn_read(&t, t.sfd, got, IMG);
	CU_ASSERT_EQUAL(memcmp(got, img, IMG), 0);
	tcn_read(&t, t.sfd, buf, 8);
	CU_ASSERT_EQUAL(memcmp(buf, tail, 8), 0);
	/* a 20000-byte PutImage whose rest is too short to splice: the rest
	 * goes through the buffer and must not be taken for requests */
	xlate_put16(img + 2, 20000 / 4);
	for (guint i = 10000; i < 20000; i += 4)
		memcpy(img + i, "\x7f\0\x01\0", 4);	/* look like NoOps */
	tcn_write(&t, t.cfd, img, 10000);
	for (int i = 0; i < 20; i++)
		loop_iterate(t.loop, 0);
	tcn_write(&t, t.cfd, img + 10000, 10000);
	tcn_read(&t, t.sfd, got, 20000);
	CU_ASSERT_EQUAL(memcmp(got, img, 20000), 0);
	CU_ASSERT_EQUAL(seq_client_sent(conn_seq(t.conn)), 4);
	xlate_put16(img + 2, IMG / 4);
	/* a big reply to GetInputFocus (request 3), in two pieces */
	memset(got, 0, REPLY);
	for (guint i = 32; i < REPLY; i++)
		got[i] = i * 13;
	got[0] = 1;
	xlate_put16(got + 2, 3);
	xlate_put32(got + 4, (REPLY - 32) / 4);
	tcn_write(&t, t.sfd, got, 5000);
	for (int i = 0; i < 20; i++)
		loop_iterate(t.loop, 0);
	tcn_write(&t, t.sfd, got + 5000, REPLY - 5000);
	/* then an event after it */
	guint8 ev[32] = { 34 };
	xlate_put16(ev + 2, 3);
	tcn_write(&t, t.sfd, ev, 32);
	tcn_read(&t, t.cfd, img, REPLY);
	CU_ASSERT_EQUAL(memcmp(img, got, REPLY), 0);
	tcn_read(&t, t.cfd, img, 32);
	CU_ASSERT_EQUAL(img[0], 34);
	CU_ASSERT_EQUAL(xlate_get16(img + 2), 3);
	CU_ASSERT_FALSE(t.ended);
	g_free(img);
	g_free(got);
	tcn_fini(&t);
}

/* The same with XCKPT_XPROXY_WALK semantics: a CreateWindow whose value list
 * runs past its length gets BadLength from the proxy's own rewrite. */
static void test_conn_walk_bad_length(void)
{
	Tcn t;
	guint8 buf[8], e[32];

	xlate_walk_always = TRUE;
	tcn_init(&t);
	tcn_setup(&t);
	guint8 req[32] = { 1, 24, 8, 0 };	/* CreateWindow, 32 bytes */
	xlate_put32(req + 28, 0x7fff);		/* 15 values: past the end */
	tcn_write(&t, t.cfd, req, 32);
	tcn_read(&t, t.sfd, buf, 4);
	CU_ASSERT_EQUAL(buf[0], 3);
	CU_ASSERT_EQUAL(xlate_get16(buf + 2), 1);
	tcn_server_error(&t, 16, 1, 3);
	tcn_read(&t, t.cfd, e, 32);
	CU_ASSERT_EQUAL(e[1], 16);
	CU_ASSERT_EQUAL(e[10], 1);
	CU_ASSERT_EQUAL(xlate_get16(e + 2), 1);
	xlate_walk_always = FALSE;
	tcn_fini(&t);
}

/* 70000 requests without replies: the proxy injects GetInputFocus syncs,
 * the server answers them, the client never sees those replies, and the
 * next event carries the client's own number, across the 16-bit wrap. */
static void test_conn_inject_wrap(void)
{
	enum { N = 70000 };
	Tcn t;
	guint8 *reqs = g_malloc(4 * N), buf[4096], ev[32];
	guint64 sseq = 0, injected = 0;
	gsize left;

	tcn_init(&t);
	tcn_setup(&t);
	for (guint i = 0; i < N; i++)
		memcpy(reqs + 4 * i, "\x7f\0\x01\0", 4);
	tcn_write(&t, t.cfd, reqs, 4 * N);
	left = 4 * N;
	/* the fake server reads request by request */
	while (left) {
		tcn_read(&t, t.sfd, buf, 4);
		sseq++;
		if (buf[0] == 43) {
			guint8 r[32] = { 1, 1 };
			xlate_put16(r + 2, (guint16)sseq);
			tcn_write(&t, t.sfd, r, 32);
			injected++;
			continue;
		}
		CU_ASSERT_EQUAL_FATAL(buf[0], 127);
		left -= 4;
	}
	CU_ASSERT_EQUAL(injected, N / SEQ_SYNC_INTERVAL);
	/* an event after the last request: MappingNotify */
	memset(ev, 0, 32);
	ev[0] = 34;
	xlate_put16(ev + 2, (guint16)sseq);
	tcn_write(&t, t.sfd, ev, 32);
	tcn_read(&t, t.cfd, ev, 32);
	CU_ASSERT_EQUAL(ev[0], 34);
	CU_ASSERT_EQUAL(xlate_get16(ev + 2), (guint16)N);
	CU_ASSERT_EQUAL(seq_client_sent(conn_seq(t.conn)), N);
	CU_ASSERT_EQUAL(seq_server_sent(conn_seq(t.conn)), N + injected);
	/* nothing else came: the swallowed replies are gone */
	CU_ASSERT_EQUAL(read(t.cfd, buf, 1), -1);
	g_free(reqs);
	tcn_fini(&t);
}

/* QueryExtension for a hidden extension: "absent" whatever the server says;
 * then a reply nobody asked for is garbage and ends the connection. */
static void test_conn_hidden_and_garbage(void)
{
	Tcn t;
	guint8 buf[16], r[32];

	tcn_init(&t);
	tcn_setup(&t);
	guint8 q[16] = { 98, 0, 4, 0, 7, 0, 0, 0 };
	memcpy(q + 8, "MIT-SHM", 7);
	tcn_write(&t, t.cfd, q, 16);
	tcn_read(&t, t.sfd, buf, 16);
	CU_ASSERT_EQUAL(memcmp(buf, q, 16), 0);
	memset(r, 0, 32);
	r[0] = 1;
	xlate_put16(r + 2, 1);
	r[8] = 1;
	r[9] = 130;
	tcn_write(&t, t.sfd, r, 32);
	tcn_read(&t, t.cfd, r, 32);
	CU_ASSERT_EQUAL(r[8], 0);
	CU_ASSERT_EQUAL(r[9], 0);
	CU_ASSERT_FALSE(t.ended);
	/* a second reply to request 1, which has had its reply: allowed
	 * (multi-reply requests exist); a reply to request 2, never sent: not */
	memset(r, 0, 32);
	r[0] = 1;
	xlate_put16(r + 2, 2);
	tcn_write(&t, t.sfd, r, 32);
	tcn_read(&t, t.cfd, NULL, 0);
	CU_ASSERT_TRUE(t.ended);
	CU_ASSERT_EQUAL(t.end, CONN_END_GARBAGE);
	tcn_fini(&t);
}

/* Reads a set-up Failed reply from the client socket and returns its reason
 * (caller frees); MSB says its numbers are big-endian. */
static char *tcn_read_refusal(Tcn *t, gboolean msb)
{
	guint8 h[8];
	guint words;

	tcn_read(t, t->cfd, h, 8);
	CU_ASSERT_EQUAL(h[0], 0);
	CU_ASSERT_EQUAL(msb ? h[3] : h[2], 11);
	words = msb ? (h[6] << 8 | h[7]) : (h[6] | h[7] << 8);
	CU_ASSERT_FATAL(words * 4 >= h[1]);
	char *reason = g_malloc0(words * 4 + 1);
	tcn_read(t, t->cfd, (guint8 *)reason, words * 4);
	reason[h[1]] = 0;
	return reason;
}

/* Refusals: a wrong cookie, an MSB-first client. */
static void test_conn_refusals(void)
{
	Tcn t;
	g_autofree char *r1 = NULL, *r2 = NULL;

	tcn_init(&t);
	tcn_client_setup(&t, 'l', (const guint8 *)"not the cookie!!");
	r1 = tcn_read_refusal(&t, FALSE);
	CU_ASSERT_STRING_EQUAL(r1, "Invalid MIT-MAGIC-COOKIE-1 key");
	tcn_read(&t, t.cfd, NULL, 0);
	CU_ASSERT_EQUAL(t.end, CONN_END_CLIENT);
	tcn_fini(&t);

	tcn_init(&t);
	tcn_client_setup(&t, 'B', tcn_cookie);
	r2 = tcn_read_refusal(&t, TRUE);
	CU_ASSERT_PTR_NOT_NULL(strstr(r2, "MSB-first"));
	tcn_fini(&t);
}

static CU_TestInfo tcn_tests[] = {
	{ "bad requests get the server's errors", test_conn_bad_requests },
	{ "walker BadLength", test_conn_walk_bad_length },
	{ "BIG-REQUESTS and over-long requests", test_conn_big_requests },
	{ "streamed requests and replies", test_conn_stream },
	{ "injected syncs across the 16-bit wrap", test_conn_inject_wrap },
	{ "hidden extension, garbage from server",
	  test_conn_hidden_and_garbage },
	{ "set-up refusals", test_conn_refusals },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("conn", tcn_tests)
