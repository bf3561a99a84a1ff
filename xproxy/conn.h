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
	GMainContext *context;		/* where to run */
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
