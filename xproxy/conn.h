/*
 * conn.h: one proxied client connection and its own connection to the
 * upstream server.
 *
 * A connection reads the client's set-up request, checks its cookie, opens a
 * server connection with the user's cookie, and forwards the server's set-up
 * reply (which it keeps: the client's view of the server).  From then on it
 * frames every request, reply, event and error, keeps 64-bit sequence
 * numbers on both sides, translates each message in place (xlate.h) and
 * relays them in batches, with backpressure in both directions.
 */
#pragma once

#include <glib.h>

#include "xproxy/display.h"
#include "xproxy/loop.h"
#include "xproxy/seq.h"
#include "xproxy/xmap.h"

/* Test mode (XCKPT_XPROXY_REMAP=1): clients get a resource-ID base and atoms
 * other than the server's, so that a live server exercises non-identity
 * maps. */
extern gboolean conn_remap_xids;

/* One connection (opaque). */
typedef struct XpConn XpConn;

/* How a connection ended, for its owner. */
typedef enum {
	CONN_END_CLIENT,	/* the client closed it, was refused, or sent
				 * what cannot be framed */
	CONN_END_SERVER,	/* the server closed this connection */
	CONN_END_GARBAGE,	/* the server sent what cannot be framed or
				 * translated */
} ConnEnd;

/* Called once when a connection has ended (after it closed its sockets); the
 * owner frees it with conn_free() (the connection does not touch itself after
 * the call).  WHY is a one-line reason. */
typedef void (*ConnEndFn)(gpointer ud, XpConn *conn, ConnEnd end,
			  const char *why);

/* What a connection needs from its proxy; conn_new() copies it, the pointers
 * must outlive the connection. */
typedef struct {
	XpLoop *loop;			/* where to run */
	const XpDisplay *upstream;	/* the server to connect to */
	const guint8 *cookie;		/* the proxy's MIT-MAGIC-COOKIE-1 */
	gsize cookie_len;		/* its length (16) */
	ConnEndFn end_fn;		/* called when the connection ends */
	gpointer ud;			/* end_fn's user data */
	guint id;			/* a number for log lines */
} XpConnParams;

/* Starts serving client socket FD (which the connection then owns) as
 * PARAMS say.  Returns the connection, to be freed with conn_free(). */
XpConn *conn_new(int fd, const XpConnParams *params);

/* Closes both sockets (if still open) and frees CONN.  Safe from end_fn. */
void conn_free(XpConn *conn);

/* The connection's number (from its params). */
guint conn_id(const XpConn *conn);

/* The connection's socket to the server, or -1 before it is open or after
 * it closed (owned by CONN). */
int conn_server_fd(const XpConn *conn);

/* The server's set-up reply as forwarded to the client (owned by CONN), or
 * NULL before it came. */
GBytes *conn_setup_reply(const XpConn *conn);

/* The connection's maps and sequence state (owned by CONN). */
XpMap *conn_map(XpConn *conn);
XpSeq *conn_seq(XpConn *conn);

/* Injects request REQ (LEN bytes, server's view, a multiple of 4) into the
 * server stream after the requests already forwarded; the client never sees
 * its reply or error: FN (if not NULL) gets it.  Only while running. */
void conn_inject(XpConn *conn, const guint8 *req, gsize len, SeqReplyFn fn,
		 gpointer ud);

/* Quiesces CONN for a checkpoint: stops reading the client, injects a
 * GetImage for every pixmap the record holds (their contents go to the
 * record) and a sync.  Once conn_waiting() says 0, no reply is in flight
 * and the record is complete.  Returns FALSE (and does nothing) when CONN
 * is not relaying, is quiesced already, or is in the middle of a streamed
 * request. */
gboolean conn_quiesce(XpConn *conn);

/* Hands the pages of CONN's empty input buffers back to the kernel, once
 * it is quiesced: the dump that follows carries none of them (up to 256
 * KiB each way and connection, more for one that has seen large replies);
 * they are taken again as the connection runs on. */
void conn_release(XpConn *conn);

/* How many answers of the quiesce are still to come (0 when not running);
 * one more while a streamed request kept conn_quiesce() from starting, which
 * must then be called again. */
guint conn_waiting(const XpConn *conn);

/* Reads the client again after conn_quiesce() (and conn_reconnect()),
 * handling first what it sent meanwhile. */
void conn_unpause(XpConn *conn);

/*
 * After a restore: moves quiesced CONN to a new connection to DISPLAY
 * (which must outlive CONN): connects, sets up maps from the client's view
 * to the new server (remap.h), puts the new socket in place of the old one
 * (same fd number) and injects the replay of the record (replay.h),
 * translated like live traffic, ahead of anything the client sent; the
 * server's Expose events then make the app repaint.  The client's clock
 * moves by TIME_SHIFT ms against the server's: timestamps go on from where
 * the client saw them at the checkpoint (xproxy.c).  The client stays
 * paused: conn_unpause() lets it go on.  Returns FALSE with a one-line
 * ERROR when the display cannot take the client (CONN is unchanged).
 */
gboolean conn_reconnect(XpConn *conn, const XpDisplay *display,
			int timeout_ms, guint32 time_shift, GError **error);
