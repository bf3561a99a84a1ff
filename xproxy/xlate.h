/*
 * xlate.h: translation of one whole message in place, between the client's
 * view and the server's, with the maps of xmap.h.
 *
 * Requests go to the server's view; replies, events and errors to the
 * client's (SendEvent's embedded event goes to the server's).  The generic
 * walker (proto.h) finds the fields; the hooks (hooks.h) handle what the
 * tables cannot say.  Sequence numbers are not touched here: they are the
 * connection's business (conn.c, seq.c).
 */
#pragma once

#include <glib.h>

#include "xproxy/proto.h"
#include "xproxy/xmap.h"

/* How translating a request went. */
typedef enum {
	XLATE_OK = 0,
	XLATE_BAD_REQUEST,	/* unknown major or minor opcode: the server
				 * would answer BadRequest */
	XLATE_BAD_LENGTH,	/* the length does not fit the request: the
				 * server would answer BadLength */
} XlateResult;

/* What a request was, as xlate_request() found it. */
typedef struct {
	const ProtoExt *ext;	/* its tables (proto_core() for core) */
	guint16 op;		/* its opcode in them (major for core, minor
				 * for an extension) */
	guint8 cmajor;		/* the client's major opcode */
	guint16 cminor;		/* the client's minor opcode (0 for core) */
	gboolean has_reply;	/* the request gets a reply */
	guint32 hook_data;	/* what a request hook noted for the reply */
} XlateReq;

/* Whether requests are walked even when the maps are the identity (they
 * change nothing then; set when a later stage, e.g. recording, needs every
 * field, or XCKPT_XPROXY_WALK=1 for validation). */
extern gboolean xlate_walk_always;

/* A table by core major opcode (0..127): 1 where a request needs nothing
 * from the proxy when the maps are the identity and xlate_walk_always is
 * off: known to the tables, no reply, no hook.  Such requests may be passed
 * without calling xlate_request() (conn.c's fast path).  Static. */
const guint8 *xlate_plain_core(void);

/* Translates request BUF (LEN bytes, BIG when in BIG-REQUESTS form) to the
 * server's view and fills *REQ.  On XLATE_BAD_* the buffer may be partly
 * translated; REQ's opcodes are filled in as far as known. */
XlateResult xlate_request(XpMap *map, guint8 *buf, gsize len, gboolean big,
			  XlateReq *req);

/* Translates a reply to the request REQ describes (ext, op, hook_data) to
 * the client's view.  Returns its new length (a hook may shrink it), or -1
 * when the reply does not fit its description (the stream is out of step). */
gssize xlate_reply(XpMap *map, const XlateReq *req, guint8 *buf, gsize len);

/* Translates event BUF (32 bytes, or a Generic Event of LEN bytes) to the
 * server's view (TO_SERVER) or the client's.  An event of an extension the
 * maps do not know passes unchanged.  Returns FALSE when the fields do not
 * fit (the stream is out of step). */
gboolean xlate_event(XpMap *map, guint8 *buf, gsize len, gboolean to_server);

/* Translates error BUF (32 bytes) to the client's view: error code, bad
 * value (when it is an ID), major opcode. */
void xlate_error(XpMap *map, guint8 *buf);

/* Little-endian 16- and 32-bit access to unaligned protocol fields. */
static inline guint16 xlate_get16(const guint8 *p)
{
	return (guint16)(p[0] | p[1] << 8);
}

static inline guint32 xlate_get32(const guint8 *p)
{
	return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 |
	       (guint32)p[3] << 24;
}

static inline void xlate_put16(guint8 *p, guint16 v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void xlate_put32(guint8 *p, guint32 v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}
