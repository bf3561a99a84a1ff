/*
 * seq.h: sequence numbers of one connection, widened to 64 bits on both
 * sides (the client's numbering and the server's), and the queue of requests
 * whose responses the proxy must recognise.
 *
 * The proxy may inject requests of its own into the server stream.  They use
 * up server sequence numbers but no client ones, so the two numberings drift
 * apart; a mark per injected request says where.  A response from the server
 * carries the low 16 bits of the server number of the last request processed;
 * seq_widen() makes it 64 bits again and seq_to_client() gives the client's
 * number for it (the last client request at or before it).
 *
 * Widening is unambiguous as long as the server never processes 65536 requests
 * between two responses; the caller keeps that true by injecting a request
 * with a reply whenever seq_need_sync() says so (every SEQ_SYNC_INTERVAL
 * requests without a reply).
 */
#pragma once

#include <glib.h>

#include "xproxy/proto.h"

/* Requests without a response after which the proxy injects one. */
#define SEQ_SYNC_INTERVAL 32768

/* What the proxy must do with the response(s) to a request. */
typedef enum {
	SEQ_CLIENT = 0,		/* a client request with a reply: translate
				 * the reply with the request's tables */
	SEQ_INJECTED,		/* the proxy's own request: swallow its reply
				 * or error (after calling fn) */
	SEQ_FIX_ERROR,		/* a bad client request that the proxy
				 * rewrote: its error gets the client's
				 * opcodes back */
} SeqWhat;

/* Called with the reply (or error) to an injected request; MSG is the whole
 * message in server terms, LEN bytes. */
typedef void (*SeqReplyFn)(gpointer ud, const guint8 *msg, gsize len);

/* One request the proxy waits for a response to. */
typedef struct {
	guint64 sseq;		/* the request's server sequence number */
	SeqWhat what;		/* what to do with its response */
	const ProtoExt *ext;	/* SEQ_CLIENT: the request's tables (core or
				 * an extension) */
	guint16 op;		/* SEQ_CLIENT: its opcode (major for core,
				 * minor for an extension) */
	guint8 major;		/* SEQ_FIX_ERROR: the client's major opcode */
	guint16 minor;		/* SEQ_FIX_ERROR: the client's minor opcode */
	guint32 hook_data;	/* what a request hook noted for the reply
				 * hook (see hooks.h) */
	SeqReplyFn fn;		/* SEQ_INJECTED: called with the response, or
				 * NULL */
	gpointer fn_ud;		/* fn's user data (not owned) */
} SeqPending;

/* The sequence state of one connection (opaque). */
typedef struct XpSeq XpSeq;

/* A new state whose last used numbers are CLIENT0 (client's view) and
 * SERVER0 (server's); both 0 on a fresh connection.  Free with seq_free(). */
XpSeq *seq_new(guint64 client0, guint64 server0);

/* Frees SEQ. */
void seq_free(XpSeq *seq);

/* Counts one client request forwarded to the server; returns its server
 * number. */
guint64 seq_client_request(XpSeq *seq);

/* Counts N client requests without replies at once (the fast path). */
void seq_client_requests(XpSeq *seq, guint n);

/* How many more requests without a response may be sent before
 * seq_need_sync() says a sync is due. */
guint seq_sync_room(const XpSeq *seq);

/* Counts one injected request; returns its server number. */
guint64 seq_inject(XpSeq *seq);

/* Queues a pending entry for request SSEQ (which must be the newest request
 * counted) and returns it zeroed but for sseq, to be filled in; the pointer
 * is valid until the next seq_* call. */
SeqPending *seq_push(XpSeq *seq, guint64 sseq);

/* Whether SEQ_SYNC_INTERVAL requests have gone without a response expected:
 * the caller should inject one. */
gboolean seq_need_sync(const XpSeq *seq);

/* What seq_widen() returns for a number that cannot be right. */
#define SEQ_BAD G_MAXUINT64

/* Widens the 16-bit sequence number S16 of a server response to 64 bits and
 * notes it as the latest.  Returns SEQ_BAD when it cannot be right (it names
 * a request not yet sent): the server stream is out of step. */
guint64 seq_widen(XpSeq *seq, guint16 s16);

/* The client's number for server number SSEQ (the last client request at or
 * before it).  SSEQ must not decrease from one call to the next. */
guint64 seq_to_client(XpSeq *seq, guint64 sseq);

/* Drops the pending entries older than SSEQ (their responses are over) and
 * returns the entry for SSEQ itself, or NULL.  Valid until the next call. */
SeqPending *seq_response(XpSeq *seq, guint64 sseq);

/* Drops the oldest pending entry (after the error that ends it). */
void seq_pop(XpSeq *seq);

/* The numbers last used: client's view and server's. */
guint64 seq_client_sent(const XpSeq *seq);
guint64 seq_server_sent(const XpSeq *seq);

/* How many pending entries and marks are queued (for tests). */
guint seq_n_pending(const XpSeq *seq);
guint seq_n_marks(const XpSeq *seq);
