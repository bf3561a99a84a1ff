/*
 * conn.c: one proxied client connection (see conn.h).
 *
 * Data path.  Each direction has one buffer (xbuf.h) that is both the input
 * of one side and the output queue of the other: bytes read from the client
 * are framed and translated in place and written to the server from the same
 * memory, and likewise the other way.  One read takes whatever is there (up
 * to the buffer's size), every complete message is handled, and one write
 * sends the batch.  A side whose output is backed up (CONN_HIGH_WATER bytes
 * not yet written) stops being read, so a fast client cannot make the proxy
 * buffer without limit.
 *
 * Both sockets are watched in the proxy's epoll loop (loop.h), which makes a
 * system call only when what a socket is watched for changes (see
 * conn_update_watch()).  Big requests and replies that need no translation
 * are streamed (request bodies through a pipe with splice(2)), never
 * buffered whole.
 *
 * Bad input.  A request with an unknown opcode or a bad length is rewritten
 * into a 4-byte request that the server itself rejects with the same error
 * (major opcode 0: BadRequest; GetWindowAttributes with length 1: BadLength),
 * so the error comes back at its proper place in the sequence; the error's
 * opcodes are then set back to the client's.  A request longer than the
 * negotiated maximum is answered the same way and its bytes are discarded,
 * as the X server does.  A stream that cannot be framed closes that
 * connection with a log line; bytes are never skipped silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xproxy/conn.h"
#include "xproxy/hooks.h"
#include "xproxy/log.h"
#include "xproxy/loop.h"
#include "xproxy/record.h"
#include "xproxy/remap.h"
#include "xproxy/replay.h"
#include "xproxy/xbuf.h"
#include "xproxy/xlate.h"

/* Initial size of each direction's buffer. */
#define CONN_BUF_SIZE (256 * 1024)
/* Unwritten bytes at which the other side stops being read. */
#define CONN_HIGH_WATER (256 * 1024)
/* Requests that leave the fast path (recorded or translated ones) cost the
 * proxy time; once this many bytes of them are ready they are written to
 * the server before the rest of the batch is handled, so that the server
 * works on them meanwhile (x11perf -create: a 256 KiB batch of
 * CreateWindow is thousands of recorded windows, and the server idled
 * until the proxy had been through all of them).  The next early write
 * waits for twice as much: the server is busy with the last one for longer
 * than the proxy takes to prepare the next, and a 256 KiB batch costs 6
 * extra writes rather than 64. */
#define CONN_FLUSH_EARLY (4 * 1024)
/* Largest reply or event the proxy accepts from a server (a GetImage of a
 * big window is a few tens of MiB). */
#define CONN_MAX_REPLY (256u * 1024 * 1024)
/* Largest request the proxy accepts before BIG-REQUESTS has told the real
 * maximum: the X server's default (4 Mi words). */
#define CONN_MAX_BIG_WORDS 4194303u

/* The bit that XCKPT_XPROXY_REMAP=1 flips in client resource-ID bases (an X
 * server hands out bases below it unless it has hundreds of clients). */
#define CONN_REMAP_XID_BIT 0x10000000u

/* The XOR that XCKPT_XPROXY_REMAP=1 applies to non-predefined atoms (atoms
 * have 29 bits; a server's are far below this bit). */
#define CONN_REMAP_ATOM_XOR 0x08000000u

gboolean conn_remap_xids;

/* Requests at least this long that need no translation are streamed: their
 * bytes are passed on as they come instead of being buffered whole. */
#define CONN_STREAM_MIN (16 * 1024)
/* A streamed request body at least this long goes through a pipe with
 * splice(2) rather than through the buffer. */
#define CONN_SPLICE_MIN (16 * 1024)
/* The size asked for that pipe. */
#define CONN_PIPE_SIZE (1024 * 1024)

/* Where a connection is. */
typedef enum {
	CONN_CLIENT_SETUP,	/* reading the client's set-up request */
	CONN_SERVER_SETUP,	/* waiting for the server's set-up reply */
	CONN_RUNNING,		/* relaying */
	CONN_CLOSING,		/* writing what is queued, then closing */
} ConnState;

struct XpConn {
	XpConnParams params;	/* as given to conn_new() */
	ConnState state;	/* where the connection is */
	int cfd;		/* client socket (owned), -1 when closed */
	int sfd;		/* server socket (owned), -1 when closed */
	XpBuf cin;		/* client -> server bytes */
	XpBuf sin;		/* server -> client bytes */
	XpSeq *seq;		/* sequence numbers (owned) */
	XpMap *map;		/* translation maps (owned) */
	GBytes *setup_reply;	/* the server's set-up reply (owned) */
	guint32 max_req_words;	/* the longest request allowed, in words */
	gboolean big_requests;	/* BigReqEnable has been sent */
	guint64 skip;		/* bytes of an over-long client request still
				 * to discard */
	guint64 pass;		/* bytes of a big request with nothing to
				 * translate still to pass as they come */
	guint64 spass;		/* the same for a big reply from the server */
	int pipe[2];		/* splice pipe for streamed requests (owned),
				 * -1 until needed */
	gsize pipe_size;	/* its capacity */
	gsize piped;		/* bytes in it, on their way to the server */
	gboolean piped_full;	/* a splice into it found it full: do not
				 * read the client until it drained */
	const ProtoExt *bigreq;	/* BIG-REQUESTS' tables (or NULL) */
	XpWatch *cwatch;	/* the client socket's watch (owned) */
	XpWatch *swatch;	/* the server socket's, once connected
				 * (owned), else NULL */
	gboolean ended;		/* end_fn must be called */
	ConnEnd end;		/* how it ended */
	char *why;		/* the reason to pass to end_fn (owned) */
	XpRecord *rec;		/* what the client built, client's view
				 * (owned); NULL before the set-up reply */
	gboolean paused;	/* quiesced for a checkpoint: the client is
				 * not read until conn_unpause() */
	guint waiting;		/* injected checkpoint requests (GetImage,
				 * the sync) not yet answered */
	guint replay_errors;	/* replayed requests that failed */
	guint64 replay_end;	/* server number of the last request of a
				 * replay, until the reply to the sync after
				 * it came (then 0): events up to it were
				 * caused by the replay (MapNotify of windows
				 * the client mapped long ago...) and are
				 * dropped, but Expose, which makes the app
				 * repaint.  Events after that reply carry the
				 * same number while the client is idle: they
				 * are its own */
	gboolean dropped;	/* the last event was dropped (so is a
				 * KeymapNotify that follows it) */
};

/* The requests (by major opcode) that the fast path passes as they are on
 * identity maps: the plain core requests (see xlate_plain_core()) that the
 * record does not want; never an extension's (filled once by conn_new()). */
static guint8 conn_fast[256];

/* Whether conn_fast is filled. */
static gboolean conn_fast_ready;

/* Notes that CONN has ended (the first reason wins), closes both sockets and
 * logs WHY for anything but an orderly client close. */
static void conn_end(XpConn *c, ConnEnd end, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
static void conn_end(XpConn *c, ConnEnd end, const char *fmt, ...)
{
	va_list ap;

	if (c->ended)
		return;
	c->ended = TRUE;
	c->end = end;
	va_start(ap, fmt);
	c->why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	c->state = CONN_CLOSING;
	log_debug("client %u: %s", c->params.id, c->why);
}

/* Ends CONN with a log line (for everything that is not a normal close). */
#define conn_fail(c, end, ...)						\
	do {								\
		g_autofree char *conn_msg_ = g_strdup_printf(__VA_ARGS__); \
		log_msg("client %u: %s", (c)->params.id, conn_msg_);	\
		conn_end((c), (end), "%s", conn_msg_);			\
	} while (0)

/* Queues a set-up Failed reply carrying REASON for the client, in its byte
 * order (MSB when MSB is TRUE), and closes once it is written. */
static void conn_refuse(XpConn *c, const char *reason, gboolean msb)
{
	gsize n = MIN(strlen(reason), 255), p = (n + 3) & ~3;
	guint8 head[8] = { 0, n, 0, 11, 0, 0, 0, p / 4 };

	if (!msb) {
		head[2] = 11;
		head[3] = 0;
		head[6] = p / 4;
		head[7] = 0;
	}
	xbuf_insert(&c->sin, c->sin.parsed, head, 8);
	c->sin.parsed += 8;
	xbuf_reserve(&c->sin, p);
	memset(c->sin.data + c->sin.end, 0, p);
	memcpy(c->sin.data + c->sin.end, reason, n);
	c->sin.end += p;
	c->sin.parsed = c->sin.end;
	log_msg("client %u refused: %s", c->params.id, reason);
	conn_end(c, CONN_END_CLIENT, "refused: %s", reason);
}

/* Compares N secret bytes in a time that does not depend on where they
 * differ. */
static gboolean conn_same_secret(const guint8 *a, const guint8 *b, gsize n)
{
	guint8 d = 0;

	for (gsize i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static void conn_on_server(gpointer ud, guint32 revents);
static void conn_flush_server(XpConn *c);

/* Handles the client's set-up request once it is complete: byte order,
 * cookie, then the server connection and our own set-up request. */
static void conn_client_setup(XpConn *c)
{
	guint8 *p = c->cin.data + c->cin.parsed;
	gsize avail = c->cin.end - c->cin.parsed, nn, nd, total;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) req = NULL;
	const guint8 *data;
	gsize len;

	if (avail < 12)
		return;
	if (p[0] == 'B') {
		conn_refuse(c, "xckpt proxy: MSB-first (big-endian) clients "
			    "are not supported", TRUE);
		return;
	}
	if (p[0] != 'l') {
		conn_fail(c, CONN_END_CLIENT, "bad byte-order byte 0x%02x in "
			  "the set-up request", p[0]);
		return;
	}
	nn = xlate_get16(p + 6);
	nd = xlate_get16(p + 8);
	total = 12 + ((nn + 3) & ~3) + ((nd + 3) & ~3);
	if (avail < total)
		return;
	if (nn == 0) {
		conn_refuse(c, "Authorization required, but no authorization "
			    "protocol specified", FALSE);
		return;
	}
	if (nn != 18 || memcmp(p + 12, "MIT-MAGIC-COOKIE-1", 18) != 0 ||
	    nd != c->params.cookie_len ||
	    !conn_same_secret(p + 12 + 20, c->params.cookie, nd)) {
		conn_refuse(c, "Invalid MIT-MAGIC-COOKIE-1 key", FALSE);
		return;
	}
	c->sfd = display_connect(c->params.upstream, &error);
	if (c->sfd < 0) {
		conn_refuse(c, error->message, FALSE);
		return;
	}
	c->swatch = loop_watch_new(c->params.loop, c->sfd, LOOP_IN,
				   conn_on_server, c);
	/* Replace the client's set-up request by ours (same protocol
	 * version, the user's cookie); nothing of the client's is kept. */
	req = display_setup_request(c->params.upstream, xlate_get16(p + 2),
				    xlate_get16(p + 4));
	xbuf_cut(&c->cin, c->cin.parsed, total);
	data = g_bytes_get_data(req, &len);
	xbuf_insert(&c->cin, c->cin.parsed, data, len);
	c->cin.parsed += len;
	c->state = CONN_SERVER_SETUP;
}

/* Handles the server's set-up reply once complete: keeps it, learns the
 * resource-ID range and the maximum request length, and forwards it. */
static void conn_server_setup(XpConn *c)
{
	guint8 *p = c->sin.data + c->sin.parsed;
	gsize avail = c->sin.end - c->sin.parsed, total;

	if (avail < 8)
		return;
	total = 8 + 4 * (gsize)xlate_get16(p + 6);
	if (avail < total) {
		xbuf_reserve(&c->sin, total - avail);
		return;
	}
	if (p[0] != 1) {
		gsize rl = p[0] == 0 ? MIN(p[1], total - 8) : total - 8;
		log_msg("client %u: server %s refused the connection: %.*s",
			c->params.id, display_name(c->params.upstream),
			(int)rl, (const char *)p + 8);
		c->sin.parsed += total;
		conn_end(c, CONN_END_CLIENT, "server refused the set-up");
		return;
	}
	if (total < 40) {
		conn_fail(c, CONN_END_GARBAGE, "short set-up reply");
		return;
	}
	guint32 sbase = xlate_get32(p + 12), mask = xlate_get32(p + 16);
	guint32 cbase = sbase;
	if (conn_remap_xids) {
		/* Test mode: give the client another ID range than the
		 * server's, so that every resource ID is translated. */
		cbase = sbase ^ CONN_REMAP_XID_BIT;
		xlate_put32(p + 12, cbase);
	}
	c->setup_reply = g_bytes_new(p, total);
	c->rec = record_new_for_setup(p, total);
	xmap_set_xid_range(c->map, cbase, mask, sbase, mask);
	if (conn_remap_xids)
		xmap_set_atom_xor(c->map, CONN_REMAP_ATOM_XOR);
	c->max_req_words = xlate_get16(p + 26);
	c->sin.parsed += total;
	c->state = CONN_RUNNING;
	log_debug("client %u: running (base 0x%x mask 0x%x)", c->params.id,
		  xlate_get32(p + 12), xlate_get32(p + 16));
}

/* Injects a request with a reply (GetInputFocus) so that server sequence
 * numbers never go 65536 requests without a response. */
static void conn_inject_sync(XpConn *c)
{
	static const guint8 req[4] = { 43, 0, 1, 0 };

	conn_inject(c, req, sizeof(req), NULL, NULL);
}

/* Inserts REQ into the server stream at the parse point (a request
 * boundary), counted as injected, its response routed to FN. */
void conn_inject(XpConn *c, const guint8 *req, gsize len, SeqReplyFn fn,
		 gpointer ud)
{
	SeqPending *pend;
	guint64 s;

	/* not in the middle of a streamed request: the parse point must be
	 * a request boundary */
	g_return_if_fail(c->state == CONN_RUNNING && len >= 4 &&
			 len % 4 == 0 && !c->pass && !c->skip);
	xbuf_insert(&c->cin, c->cin.parsed, req, len);
	c->cin.parsed += len;
	s = seq_inject(c->seq);
	pend = seq_push(c->seq, s);
	pend->what = SEQ_INJECTED;
	pend->fn = fn;
	pend->fn_ud = ud;
}

/* The reply (or error) to an injected GetImage of a pixmap: its contents,
 * for the record. */
static void conn_image_reply(gpointer ud, const guint8 *msg, gsize len)
{
	XpConn *c = ud;

	record_image_reply(c->rec, msg, len);
	if (c->waiting)
		c->waiting--;
}

/* Injects a GetImage of recorded pixmap PIXMAP (client's view) at the parse
 * point; its reply goes to the record.  Returns whether one was sent. */
static gboolean conn_inject_image(XpConn *c, guint32 pixmap)
{
	guint8 req[20];
	XlateReq r;

	if (!record_image_request(c->rec, pixmap, req))
		return FALSE;
	if (xlate_request(c->map, req, sizeof(req), FALSE, &r) != XLATE_OK) {
		/* cannot happen for a GetImage; keep the FIFO in step */
		static const guint8 err[32] = { 0 };
		record_image_reply(c->rec, err, sizeof(err));
		return FALSE;
	}
	c->waiting++;
	conn_inject(c, req, sizeof(req), conn_image_reply, c);
	return TRUE;
}

/* Replaces the bad request at the parse point (CONSUMED bytes of it are in
 * the buffer) by a 4-byte request the server rejects with the same error,
 * and remembers the client's opcodes for that error. */
static void conn_reject(XpConn *c, gsize consumed, XlateResult res,
			const XlateReq *r)
{
	static const guint8 bad_request[4] = { 0, 0, 1, 0 };
	static const guint8 bad_length[4] = { 3, 0, 1, 0 };
	guint8 *p = c->cin.data + c->cin.parsed;
	SeqPending *pend;
	guint64 s;

	log_debug("client %u: %s for request %u.%u", c->params.id,
		  res == XLATE_BAD_REQUEST ? "BadRequest" : "BadLength",
		  r->cmajor, r->cminor);
	memcpy(p, res == XLATE_BAD_REQUEST ? bad_request : bad_length, 4);
	if (consumed > 4)
		xbuf_cut(&c->cin, c->cin.parsed + 4, consumed - 4);
	c->cin.parsed += 4;
	s = seq_client_request(c->seq);
	pend = seq_push(c->seq, s);
	pend->what = SEQ_FIX_ERROR;
	pend->major = r->cmajor;
	pend->minor = r->cminor;
}

/* The fast path: passes the run of requests of conn_fast at the parse
 * point, with one counter update for the whole run.  Only for identity
 * maps.  Returns how many it passed.
 *
 * A run is mostly of requests of one length (x11perf -noop: 4 bytes,
 * -putimage10: 424).  Stepping from one request to the next by its own
 * length makes every step wait for the load of that length, a chain of
 * cache latencies (this loop was a third of the proxy's time on -noop);
 * stepping by the length of the one before, while it is the same, lets
 * the CPU run ahead on its branch prediction and check the lengths as they
 * come. */
static guint conn_plain_run(XpConn *c)
{
	XpBuf *b = &c->cin;
	const guint8 *data = b->data;
	guint room = seq_sync_room(c->seq), n = 0;
	gsize off = b->parsed, end = b->end, step = 0;
	gsize max = MIN(c->max_req_words, 65535u) * 4;

	while (n < room && end - off >= 4) {
		const guint8 *q = data + off;
		gsize len = 4 * (gsize)xlate_get16(q + 2);

		if (!conn_fast[q[0]] || len == 0 || len > max || len > end - off)
			break;
		if (G_UNLIKELY(len != step))
			step = len;
		else	/* keeps the compiler from taking LEN for STEP */
			__asm__("" : "+r"(step));
		off += step;
		n++;
	}
	if (n) {
		seq_client_requests(c->seq, n);
		b->parsed = off;
	}
	return n;
}

/* Frames and translates every complete client request in the buffer. */
static void conn_requests(XpConn *c)
{
	gboolean fast = xmap_is_identity(c->map) && !xlate_walk_always;
	gsize early = CONN_FLUSH_EARLY;	/* see there */

	while (c->state == CONN_RUNNING && !c->paused) {
		if (fast && !c->skip && !c->pass && conn_plain_run(c) &&
		    seq_need_sync(c->seq))
			conn_inject_sync(c);
		XpBuf *b = &c->cin;
		gsize avail = b->end - b->parsed, len;
		guint8 *p = b->data + b->parsed;
		gboolean big = FALSE;
		guint8 smajor;
		XlateReq r;
		XlateResult res;

		if (c->skip) {
			gsize n = MIN(c->skip, avail);
			if (!n)
				break;
			xbuf_cut(b, b->parsed, n);
			c->skip -= n;
			continue;
		}
		if (c->pass) {
			gsize n = MIN(c->pass, avail);
			b->parsed += n;
			c->pass -= n;
			if (c->pass)
				break;
			if (seq_need_sync(c->seq))
				conn_inject_sync(c);
			continue;
		}
		if (avail < 4)
			break;
		len = 4 * (gsize)xlate_get16(p + 2);
		r = (XlateReq){ .cmajor = p[0], .cminor = 0 };
		if (p[0] >= 128 && xmap_ext_by_client_major(c->map, p[0],
							    &smajor))
			r.cminor = p[1];
		if (len == 0) {
			if (!c->big_requests) {
				conn_reject(c, 4, XLATE_BAD_LENGTH, &r);
				continue;
			}
			if (avail < 8)
				break;
			len = 4 * (gsize)xlate_get32(p + 4);
			big = TRUE;
			if (len < 8) {
				conn_reject(c, 8, XLATE_BAD_LENGTH, &r);
				continue;
			}
		}
		if (len / 4 > c->max_req_words) {
			gsize n = MIN(len, avail);
			c->skip = len - n;
			conn_reject(c, n, XLATE_BAD_LENGTH, &r);
			continue;
		}
		if (avail < len) {
			if (fast && len >= CONN_STREAM_MIN && conn_fast[p[0]]) {
				/* A big request with nothing to translate
				 * (PutImage...): pass what is here, and the
				 * rest as it comes, without buffering it. */
				seq_client_request(c->seq);
				c->pass = len - avail;
				b->parsed = b->end;
				break;
			}
			xbuf_reserve(b, len - avail);
			break;
		}
		if (c->rec && record_request_client(c->rec, c->map, p, len, big,
						    seq_client_sent(c->seq) + 1) ==
				      RECORD_NEED_IMAGE) {
			/* the pixmap's contents are read before it goes */
			conn_inject_image(c, xlate_get32(p + 4));
			p = b->data + b->parsed;
		}
		res = xlate_request(c->map, p, len, big, &r);
		if (res != XLATE_OK) {
			conn_reject(c, len, res, &r);
			continue;
		}
		guint64 s = seq_client_request(c->seq);
		if (r.has_reply) {
			SeqPending *pend = seq_push(c->seq, s);
			pend->what = SEQ_CLIENT;
			pend->ext = r.ext;
			pend->op = r.op;
			pend->hook_data = r.hook_data;
		}
		if (r.ext == c->bigreq && c->bigreq && r.op == 0) {
			/* The server reads big requests from the next one on;
			 * the reply tells the real maximum. */
			c->big_requests = TRUE;
			c->max_req_words = CONN_MAX_BIG_WORDS;
		}
		b->parsed += len;
		if (seq_need_sync(c->seq))
			conn_inject_sync(c);
		if (b->parsed - b->start >= early) {
			conn_flush_server(c);
			early *= 2;
		}
	}
}

/* Writes the client's 16-bit view of server sequence number S into the
 * response at P. */
static inline void conn_put_seq(XpConn *c, guint8 *p, guint64 s)
{
	xlate_put16(p + 2, (guint16)seq_to_client(c->seq, s));
}

/* Handles one reply of LEN bytes at P.  Returns its new length, 0 when it
 * was swallowed (cut from the buffer), -1 on a desync (connection ended). */
static gssize conn_reply(XpConn *c, guint8 *p, gsize len)
{
	guint64 s = seq_widen(c->seq, xlate_get16(p + 2));
	SeqPending *pend;
	XlateReq r;
	gssize nl;

	if (s == SEQ_BAD) {
		conn_fail(c, CONN_END_GARBAGE, "server sent a reply for a "
			  "request never sent");
		return -1;
	}
	pend = seq_response(c->seq, s);
	if (!pend || pend->what == SEQ_FIX_ERROR) {
		conn_fail(c, CONN_END_GARBAGE, "server sent a reply to request "
			  "%" G_GUINT64_FORMAT " which has none", s);
		return -1;
	}
	if (pend->what == SEQ_INJECTED) {
		if (pend->fn)
			pend->fn(pend->fn_ud, p, len);
		seq_pop(c->seq);
		xbuf_cut(&c->sin, c->sin.parsed, len);
		return 0;
	}
	r = (XlateReq){ .ext = pend->ext, .op = pend->op,
			.hook_data = pend->hook_data };
	nl = xlate_reply(c->map, &r, p, len);
	if (nl < 0) {
		conn_fail(c, CONN_END_GARBAGE, "reply to %s does not fit its "
			  "description", proto_msg_name(proto_request(r.ext,
								      r.op)));
		return -1;
	}
	if (r.ext == c->bigreq && c->bigreq && r.op == 0 && len >= 12)
		c->max_req_words = xlate_get32(p + 8);
	if ((gsize)nl < len)
		xbuf_cut(&c->sin, c->sin.parsed + nl, len - nl);
	conn_put_seq(c, p, s);
	if (c->rec)
		record_reply(c->rec, seq_to_client(c->seq, s), p, nl);
	return nl;
}

/* Handles one error at P.  Returns 32, 0 when swallowed, -1 on a desync. */
static gssize conn_error(XpConn *c, guint8 *p)
{
	guint64 s = seq_widen(c->seq, xlate_get16(p + 2));
	SeqPending *pend;

	if (s == SEQ_BAD) {
		conn_fail(c, CONN_END_GARBAGE, "server sent an error for a "
			  "request never sent (error %u, seq %u, major %u.%u, "
			  "%" G_GUINT64_FORMAT " sent)", p[1],
			  xlate_get16(p + 2), p[10], xlate_get16(p + 8),
			  seq_server_sent(c->seq));
		return -1;
	}
	pend = seq_response(c->seq, s);
	if (pend && pend->what == SEQ_INJECTED) {
		if (pend->fn)
			pend->fn(pend->fn_ud, p, 32);
		seq_pop(c->seq);
		xbuf_cut(&c->sin, c->sin.parsed, 32);
		return 0;
	}
	xlate_error(c->map, p);
	if (pend) {
		if (pend->what == SEQ_FIX_ERROR) {
			p[10] = pend->major;
			xlate_put16(p + 8, pend->minor);
		}
		seq_pop(c->seq);
	}
	conn_put_seq(c, p, s);
	if (c->rec)
		record_error(c->rec, seq_to_client(c->seq, s), p);
	return 32;
}

/* Handles one event of LEN bytes at P.  Returns LEN, 0 when it was
 * dropped (cut from the buffer), or -1 on a desync. */
static gssize conn_event(XpConn *c, guint8 *p, gsize len)
{
	/* KeymapNotify (11) carries no sequence number. */
	if ((p[0] & 0x7f) != 11) {
		guint64 s = seq_widen(c->seq, xlate_get16(p + 2));
		if (s == SEQ_BAD) {
			conn_fail(c, CONN_END_GARBAGE, "server sent an event "
				  "for a request never sent");
			return -1;
		}
		seq_response(c->seq, s);
		c->dropped = G_UNLIKELY(s <= c->replay_end) &&
			     (p[0] & 0x7f) != 12;
		conn_put_seq(c, p, s);
	}
	if (G_UNLIKELY(c->dropped)) {
		xbuf_cut(&c->sin, c->sin.parsed, len);
		return 0;
	}
	if (!xlate_event(c->map, p, len, FALSE)) {
		conn_fail(c, CONN_END_GARBAGE, "event %u does not fit its "
			  "description", p[0]);
		return -1;
	}
	if (c->rec)
		record_event(c->rec, p);
	return len;
}

/* Starts streaming the big reply at P (LEN bytes, AVAIL of them here) when
 * nothing in it needs the proxy: identity maps and no reply hook (GetImage,
 * big QueryFont...).  Its header is handled now, the rest passes as it
 * comes.  Returns FALSE when it must be buffered whole instead. */
static gboolean conn_reply_stream(XpConn *c, guint8 *p, gsize avail, gsize len)
{
	SeqPending *pend;
	guint64 s;

	if (len < CONN_STREAM_MIN || !xmap_is_identity(c->map) ||
	    xlate_walk_always)
		return FALSE;
	s = seq_widen(c->seq, xlate_get16(p + 2));
	if (s == SEQ_BAD)
		return FALSE;	/* conn_reply() will say so */
	pend = seq_response(c->seq, s);
	if (!pend || pend->what != SEQ_CLIENT ||
	    hooks_find(pend->ext, pend->op, HOOK_REPLY))
		return FALSE;
	conn_put_seq(c, p, s);
	c->spass = len - avail;
	c->sin.parsed = c->sin.end;
	return TRUE;
}

/* Frames and translates every complete server message in the buffer. */
static void conn_responses(XpConn *c)
{
	while (c->state == CONN_RUNNING) {
		XpBuf *b = &c->sin;
		gsize avail = b->end - b->parsed, len = 32;
		guint8 *p = b->data + b->parsed;
		gssize n;

		if (c->spass) {
			n = MIN(c->spass, avail);
			b->parsed += n;
			c->spass -= n;
			if (c->spass)
				break;
			continue;
		}
		if (avail < 32)
			break;
		if (p[0] == 1 || (p[0] & 0x7f) == 35) {
			guint32 words = xlate_get32(p + 4);
			if (words > (CONN_MAX_REPLY - 32) / 4) {
				conn_fail(c, CONN_END_GARBAGE, "server sent a "
					  "message of %u words", words);
				return;
			}
			len = 32 + 4 * (gsize)words;
		}
		if (avail < len) {
			if (p[0] == 1 && conn_reply_stream(c, p, avail, len))
				break;
			xbuf_reserve(b, len - avail);
			break;
		}
		if (p[0] == 1)
			n = conn_reply(c, p, len);
		else if (p[0] == 0)
			n = conn_error(c, p);
		else
			n = conn_event(c, p, len);
		if (n < 0)
			return;
		b->parsed += n;
	}
}

/* Writes what is queued for the server; ends the connection on an error. */
static void conn_flush_server(XpConn *c)
{
	/* bytes in the splice pipe come first: they are older than anything
	 * read into the buffer since */
	while (c->piped && c->sfd >= 0) {
		gssize n = splice(c->pipe[0], NULL, c->sfd, NULL, c->piped,
				  SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (errno == EAGAIN)
				return;
			if (!c->ended)
				conn_end(c, CONN_END_SERVER, "server "
					 "connection lost: %s",
					 g_strerror(errno));
			c->piped = 0;
			c->cin.start = c->cin.parsed;
			return;
		}
		c->piped -= n;
		c->piped_full = FALSE;
	}
	if (c->sfd < 0 || !xbuf_pending(&c->cin))
		return;
	if (xbuf_write(&c->cin, c->sfd) < 0 && errno != EAGAIN) {
		if (!c->ended)
			conn_end(c, CONN_END_SERVER, "server connection "
				 "lost: %s", g_strerror(errno));
		c->cin.start = c->cin.parsed;	/* nobody will take it */
	}
}

/* Writes what is queued for the client; ends the connection on an error. */
static void conn_flush_client(XpConn *c)
{
	if (c->cfd < 0 || !xbuf_pending(&c->sin))
		return;
	if (xbuf_write(&c->sin, c->cfd) < 0 && errno != EAGAIN) {
		if (!c->ended)
			conn_end(c, CONN_END_CLIENT, "client gone: %s",
				 g_strerror(errno));
		c->sin.start = c->sin.parsed;
	}
}

/* Moves the body of a streamed request from the client to the server
 * through a pipe with splice(2), so that its bytes never enter the proxy's
 * memory.  Only when the buffer is empty (so nothing older waits).  Returns
 * FALSE when splicing is not possible here (no pipe): the caller reads as
 * usual. */
static gboolean conn_splice(XpConn *c)
{
	gssize n;

	if (c->pipe[0] < 0) {
		if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
			c->pipe[0] = c->pipe[1] = -1;
			return FALSE;
		}
		/* a bigger pipe moves a 500x500 image in one go */
		fcntl(c->pipe[1], F_SETPIPE_SZ, CONN_PIPE_SIZE);
		c->pipe_size = fcntl(c->pipe[1], F_GETPIPE_SZ);
	}
	if (c->piped >= c->pipe_size) {
		c->piped_full = TRUE;
		return TRUE;
	}
	do
		n = splice(c->cfd, NULL, c->pipe[1], NULL,
			   MIN(c->pass, c->pipe_size - c->piped),
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		conn_end(c, CONN_END_CLIENT, "client closed the connection");
		return TRUE;
	}
	if (n < 0) {
		if (errno != EAGAIN)
			return FALSE;
		/* Either the client has nothing (then the pipe is empty or
		 * draining anyway) or the pipe's slots are all used: stop
		 * reading the client until the server takes some. */
		if (c->piped)
			c->piped_full = TRUE;
		return TRUE;
	}
	c->piped += n;
	c->pass -= n;
	conn_flush_server(c);
	if (!c->pass && seq_need_sync(c->seq))
		conn_inject_sync(c);
	if (!c->pass)
		conn_flush_server(c);
	return TRUE;
}

/* Reads from the client and handles what came. */
static void conn_read_client(XpConn *c)
{
	gssize n;

	if (c->pass >= CONN_SPLICE_MIN && c->cin.start == c->cin.end &&
	    !c->piped_full && conn_splice(c))
		return;
	n = xbuf_read(&c->cin, c->cfd);

	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		conn_end(c, CONN_END_CLIENT, "client closed the connection");
		return;
	}
	if (n < 0)
		return;
	if (c->state == CONN_CLIENT_SETUP)
		conn_client_setup(c);
	if (c->state == CONN_RUNNING)
		conn_requests(c);
	conn_flush_server(c);
}

/* Reads from the server and handles what came. */
static void conn_read_server(XpConn *c)
{
	gssize n = xbuf_read(&c->sin, c->sfd);

	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		conn_end(c, CONN_END_SERVER, "server closed the connection");
		return;
	}
	if (n < 0)
		return;
	if (c->state == CONN_SERVER_SETUP) {
		conn_server_setup(c);
		/* requests the client sent ahead of the reply */
		if (c->state == CONN_RUNNING)
			conn_requests(c);
		conn_flush_server(c);
	}
	if (c->state == CONN_RUNNING)
		conn_responses(c);
	conn_flush_client(c);
}

/* Sets what each socket is watched for: read a side only while the other
 * side's queue is short; write a side while something is queued for it.
 * The loop makes a system call only when this changes.  A connection that
 * a checkpoint has parked (client paused, no answer of the quiesce in
 * flight, nothing to write to the server) does not read its server either:
 * its server socket leaves the epoll set, so nothing of it can fire while
 * CRIU dumps the session, and a restore puts a new socket in its place
 * before it is watched again. */
static void conn_update_watch(XpConn *c)
{
	guint32 cc = 0, sc = 0;
	gboolean closing = c->state == CONN_CLOSING;
	gboolean sout = xbuf_pending(&c->cin) || c->piped;

	if (!closing && c->cin.parsed - c->cin.start < CONN_HIGH_WATER &&
	    !c->piped_full && !c->paused)
		cc |= LOOP_IN;
	if (xbuf_pending(&c->sin))
		cc |= LOOP_OUT;
	loop_watch_set(c->cwatch, cc);
	if (!c->swatch)
		return;
	if (!closing && c->state != CONN_CLIENT_SETUP &&
	    c->sin.parsed - c->sin.start < CONN_HIGH_WATER &&
	    !(c->paused && !c->waiting && !sout))
		sc |= LOOP_IN;
	if (sout)
		sc |= LOOP_OUT;
	loop_watch_set(c->swatch, sc);
}

/* Whether a closing connection has written all it can. */
static gboolean conn_drained(XpConn *c)
{
	return (c->cfd < 0 || !xbuf_pending(&c->sin)) &&
	       (c->sfd < 0 || (!xbuf_pending(&c->cin) && !c->piped));
}

/* Serves what happened on the client socket (CE) and the server socket
 * (SE), then either re-arms the watches or, once a closing connection has
 * drained, hands it to its owner (which frees it). */
static void conn_serve(XpConn *c, guint32 ce, guint32 se)
{
	if (se & LOOP_OUT)
		conn_flush_server(c);
	if (ce & LOOP_OUT)
		conn_flush_client(c);
	if (c->state != CONN_CLOSING && (ce & (LOOP_IN | LOOP_HUP | LOOP_ERR)))
		conn_read_client(c);
	if (c->state != CONN_CLOSING && (se & (LOOP_IN | LOOP_HUP | LOOP_ERR)))
		conn_read_server(c);
	if (c->state == CONN_CLOSING &&
	    (conn_drained(c) || (ce | se) & (LOOP_HUP | LOOP_ERR))) {
		g_autofree char *why = g_steal_pointer(&c->why);
		if (c->cfd >= 0)
			shutdown(c->cfd, SHUT_RDWR);
		c->params.end_fn(c->params.ud, c, c->end,
				 why ? why : "closed");
		return;	/* c may be freed */
	}
	conn_update_watch(c);
}

/* The client socket's watch fired. */
static void conn_on_client(gpointer ud, guint32 revents)
{
	conn_serve(ud, revents, 0);
}

/* The server socket's watch fired. */
static void conn_on_server(gpointer ud, guint32 revents)
{
	conn_serve(ud, 0, revents);
}

/* Starts serving client socket FD. */
XpConn *conn_new(int fd, const XpConnParams *params)
{
	XpConn *c = g_new0(XpConn, 1);

	c->params = *params;
	c->cfd = fd;
	c->sfd = -1;
	c->pipe[0] = c->pipe[1] = -1;
	c->state = CONN_CLIENT_SETUP;
	xbuf_init(&c->cin, CONN_BUF_SIZE);
	xbuf_init(&c->sin, CONN_BUF_SIZE);
	c->seq = seq_new(0, 0);
	c->map = xmap_new();
	c->bigreq = proto_ext_lookup("BIG-REQUESTS");
	if (!conn_fast_ready) {
		const guint8 *plain = xlate_plain_core();
		for (guint op = 0; op < 128; op++)
			conn_fast[op] = plain[op] &&
					!record_wants(proto_core(), op);
		conn_fast_ready = TRUE;
	}
	c->cwatch = loop_watch_new(params->loop, fd, LOOP_IN, conn_on_client,
				   c);
	return c;
}

/* Closes and frees everything of CONN. */
void conn_free(XpConn *c)
{
	if (!c)
		return;
	/* out of the epoll set before the fds close (their numbers may be
	 * reused at once) */
	loop_watch_free(c->cwatch);
	loop_watch_free(c->swatch);
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->sfd >= 0)
		close(c->sfd);
	if (c->pipe[0] >= 0) {
		close(c->pipe[0]);
		close(c->pipe[1]);
	}
	xbuf_clear(&c->cin);
	xbuf_clear(&c->sin);
	seq_free(c->seq);
	xmap_free(c->map);
	g_clear_pointer(&c->setup_reply, g_bytes_unref);
	record_free(c->rec);
	g_free(c->why);
	g_free(c);
}

/* The connection's number. */
guint conn_id(const XpConn *c)
{
	return c->params.id;
}

/* The server socket, or -1 (see conn.h). */
int conn_server_fd(const XpConn *c)
{
	return c->sfd;
}

/* The recorded set-up reply. */
GBytes *conn_setup_reply(const XpConn *c)
{
	return c->setup_reply;
}

/* The maps. */
XpMap *conn_map(XpConn *c)
{
	return c->map;
}

/* The sequence state. */
XpSeq *conn_seq(XpConn *c)
{
	return c->seq;
}

/* The answer to the checkpoint's sync: every reply before it has come. */
static void conn_sync_reply(gpointer ud, const guint8 *msg, gsize len)
{
	XpConn *c = ud;

	if (c->waiting)
		c->waiting--;
}

/* Quiesces CONN for a checkpoint (see conn.h). */
gboolean conn_quiesce(XpConn *c)
{
	static const guint8 sync[4] = { 43, 0, 1, 0 };
	g_autoptr(GArray) pix = NULL;

	if (c->state != CONN_RUNNING || !c->rec || c->paused || c->pass ||
	    c->skip)
		return FALSE;
	c->paused = TRUE;
	pix = record_pixmaps(c->rec);
	for (guint i = 0; i < pix->len; i++)
		conn_inject_image(c, g_array_index(pix, guint32, i));
	c->waiting++;
	conn_inject(c, sync, sizeof(sync), conn_sync_reply, c);
	conn_flush_server(c);
	conn_update_watch(c);
	{
		RecordStats st;
		record_stats(c->rec, &st);
		log_msg("client %u: record of %u resources (%u zombies, %u "
			"foreign), %u changes, %u glyphs, %u atoms: %zu bytes",
			c->params.id, st.resources, st.zombies, st.foreign,
			st.mods, st.glyphs, st.atoms, st.bytes);
	}
	return TRUE;
}

/* Once CONN is quiesced, hands its empty buffers' pages back to the
 * kernel: the dump that follows does not carry them (see conn.h). */
void conn_release(XpConn *c)
{
	xbuf_release(&c->cin);
	xbuf_release(&c->sin);
}

/* How many answers a quiesce still waits for: 1 more while a streamed
 * request keeps it from starting (conn_quiesce() must be called again). */
guint conn_waiting(const XpConn *c)
{
	if (c->state != CONN_RUNNING || !c->rec)
		return 0;
	return c->waiting + (c->paused ? 0 : 1);
}

/* Reads the client again after a quiesce; handles what it sent meanwhile. */
void conn_unpause(XpConn *c)
{
	if (!c->paused)
		return;
	c->paused = FALSE;
	if (c->state == CONN_RUNNING) {
		conn_requests(c);
		conn_flush_server(c);
	}
	conn_update_watch(c);
}

/* The answer to a replayed request: errors are counted (and logged when
 * debugging). */
static void conn_replay_reply(gpointer ud, const guint8 *msg, gsize len)
{
	XpConn *c = ud;

	if (msg[0] == 0) {
		c->replay_errors++;
		log_debug("client %u: replayed request %u.%u failed: error %u",
			  c->params.id, msg[10], xlate_get16(msg + 8), msg[1]);
	}
}

/* The reply to the sync after a replay: the replay's events are all in. */
static void conn_replay_done(gpointer ud, const guint8 *msg, gsize len)
{
	XpConn *c = ud;

	c->replay_end = 0;
}

/* Moves CONN to a new server connection on DISPLAY (see conn.h). */
gboolean conn_reconnect(XpConn *c, const XpDisplay *display, int timeout_ms,
			guint32 time_shift, GError **error)
{
	static const guint8 sync[4] = { 43, 0, 1, 0 };
	g_autoptr(XpReplay) rp = NULL;
	ReplayParams params;
	RemapResult rr;
	gsize slen;
	const guint8 *setup;
	guint64 csent;
	guint n;

	if (c->state != CONN_RUNNING || !c->rec || !c->setup_reply)
		return TRUE;	/* nothing built yet: it ends on its own */
	setup = g_bytes_get_data(c->setup_reply, &slen);
	if (!remap_connect(display, setup, slen, c->map, c->rec,
			   c->big_requests, timeout_ms, &rr, error))
		return FALSE;
	/* the new socket takes the old one's number (CRIU's placeholder);
	 * the placeholder leaves the epoll set first: the restart command
	 * still holds it open, so its registration would outlive dup2() */
	if (c->sfd >= 0) {
		loop_watch_remove(c->swatch);
		if (dup2(rr.fd, c->sfd) < 0) {
			loop_watch_add(c->swatch);
			g_set_error(error, G_FILE_ERROR,
				    g_file_error_from_errno(errno),
				    "dup2: %s", g_strerror(errno));
			close(rr.fd);
			xmap_free(rr.map);
			return FALSE;
		}
		close(rr.fd);
		loop_watch_add(c->swatch);
	} else {
		c->sfd = rr.fd;
		c->swatch = loop_watch_new(c->params.loop, c->sfd, LOOP_IN,
					   conn_on_server, c);
	}
	c->params.upstream = display;
	xmap_set_time_offset(rr.map, xmap_time_offset(c->map) + time_shift);
	xmap_free(c->map);
	c->map = rr.map;
	csent = seq_client_sent(c->seq);
	seq_free(c->seq);
	c->seq = seq_new(csent, rr.sent);
	c->max_req_words = rr.max_req_words;
	/* what the old server sent and nobody read is void; what was
	 * translated for the client still goes to it */
	c->sin.end = c->sin.parsed;
	c->spass = 0;
	c->cin.start = c->cin.parsed;
	if (c->piped) {
		/* cannot happen after a quiesce; the bytes are lost */
		c->piped = 0;
	}
	/* the replay, translated like live traffic, ahead of anything the
	 * client sent meanwhile */
	/* (the replay's own requests, PutImage pieces, are in the normal
	 * form: no longer than 65535 words) */
	params.max_request_bytes = (gsize)MIN(c->max_req_words, 65535u) * 4;
	rp = replay_new(c->rec, &params);
	n = replay_n_steps(rp);
	c->replay_errors = 0;
	for (guint i = 0; i < n; i++) {
		const ReplayStep *st = replay_step(rp, i);
		g_autofree guint8 *b = g_memdup2(st->data, st->len);
		XlateReq r;

		{
			gsize hl = st->big ? 4 * (gsize)xlate_get32(b + 4) :
				   4 * (gsize)xlate_get16(b + 2);
			if (hl != st->len || (st->big && xlate_get16(b + 2)))
				log_msg("client %u: replay step %u (%s, %u.%u)"
					" length %zu, header says %zu%s",
					c->params.id, i,
					replay_phase_name(st->phase), b[0],
					b[1], st->len, hl,
					st->big ? " (big)" : "");
		}
		if (xlate_request(c->map, b, st->len, st->big, &r) !=
		    XLATE_OK) {
			log_msg("client %u: replay step %u (%s, %u.%u) cannot "
				"be translated; skipped", c->params.id, i,
				replay_phase_name(st->phase), st->data[0],
				st->data[1]);
			continue;
		}
		conn_inject(c, b, st->len, conn_replay_reply, c);
		if (i % 16384 == 16383)
			conn_inject(c, sync, sizeof(sync), NULL, NULL);
	}
	c->replay_end = seq_server_sent(c->seq);
	conn_inject(c, sync, sizeof(sync), conn_replay_done, c);
	log_msg("client %u: on %s; %u requests replayed", c->params.id,
		display_name(display), n);
	conn_flush_server(c);
	conn_update_watch(c);
	return TRUE;
}
