/*
 * seq.c: 64-bit sequence numbers on both sides of a connection, and the
 * queue of pending requests (see seq.h).
 *
 * Both queues are rings of plain structs that double when full, so the steady
 * state allocates nothing.
 */
#include <string.h>

#include "xproxy/seq.h"

/* Where the two numberings are tied: server request SSEQ has client number
 * CSEQ (for an injected request: the client request just before it). */
typedef struct {
	guint64 sseq;		/* server number */
	guint64 cseq;		/* client number at that point */
} SeqMark;

struct XpSeq {
	guint64 client_sent;	/* client number of the last client request */
	guint64 server_sent;	/* server number of the last request sent */
	guint64 server_recv;	/* server number of the latest response */
	guint64 last_expect;	/* server number of the last request that
				 * will get a response */
	SeqMark base;		/* the mark in force for server_recv */
	SeqPending *pend;	/* ring of pending entries (owned) */
	guint pend_head;	/* index of the oldest */
	guint pend_len;		/* how many */
	guint pend_cap;		/* ring size (a power of two) */
	SeqMark *marks;		/* ring of marks newer than base (owned) */
	guint mark_head;	/* index of the oldest */
	guint mark_len;		/* how many */
	guint mark_cap;		/* ring size (a power of two) */
};

/* A fresh state; see seq.h.  The caller owns the result. */
XpSeq *seq_new(guint64 client0, guint64 server0)
{
	XpSeq *seq = g_new0(XpSeq, 1);

	seq->client_sent = client0;
	seq->server_sent = seq->server_recv = seq->last_expect = server0;
	seq->base.sseq = server0;
	seq->base.cseq = client0;
	seq->pend_cap = 64;
	seq->pend = g_new0(SeqPending, seq->pend_cap);
	seq->mark_cap = 16;
	seq->marks = g_new0(SeqMark, seq->mark_cap);
	return seq;
}

/* Frees SEQ and its rings. */
void seq_free(XpSeq *seq)
{
	if (!seq)
		return;
	g_free(seq->pend);
	g_free(seq->marks);
	g_free(seq);
}

/* One client request: both numberings advance. */
guint64 seq_client_request(XpSeq *seq)
{
	seq->client_sent++;
	return ++seq->server_sent;
}

/* N client requests without replies: both numberings advance by N. */
void seq_client_requests(XpSeq *seq, guint n)
{
	seq->client_sent += n;
	seq->server_sent += n;
}

/* Requests left before a sync is due. */
guint seq_sync_room(const XpSeq *seq)
{
	guint64 used = seq->server_sent - seq->last_expect;

	return used >= SEQ_SYNC_INTERVAL ? 0 : SEQ_SYNC_INTERVAL - used;
}

/* Grows a ring of N-byte items (doubling), keeping their order. */
static void seq_ring_grow(gpointer *ring, guint *head, guint len, guint *cap,
			  gsize size)
{
	guint ncap = *cap * 2;
	guint8 *n = g_malloc0(ncap * size);
	guint8 *o = *ring;

	for (guint i = 0; i < len; i++)
		memcpy(n + i * size, o + ((*head + i) & (*cap - 1)) * size,
		       size);
	g_free(o);
	*ring = n;
	*head = 0;
	*cap = ncap;
}

/* One injected request: only the server numbering advances; a mark ties it
 * to the last client request. */
guint64 seq_inject(XpSeq *seq)
{
	SeqMark *m;

	if (seq->mark_len == seq->mark_cap)
		seq_ring_grow((gpointer *)&seq->marks, &seq->mark_head,
			      seq->mark_len, &seq->mark_cap, sizeof(SeqMark));
	m = &seq->marks[(seq->mark_head + seq->mark_len++) &
			(seq->mark_cap - 1)];
	m->sseq = ++seq->server_sent;
	m->cseq = seq->client_sent;
	return m->sseq;
}

/* Appends a zeroed pending entry for SSEQ and returns it. */
SeqPending *seq_push(XpSeq *seq, guint64 sseq)
{
	SeqPending *p;

	if (seq->pend_len == seq->pend_cap)
		seq_ring_grow((gpointer *)&seq->pend, &seq->pend_head,
			      seq->pend_len, &seq->pend_cap,
			      sizeof(SeqPending));
	p = &seq->pend[(seq->pend_head + seq->pend_len++) &
		       (seq->pend_cap - 1)];
	memset(p, 0, sizeof(*p));
	p->sseq = sseq;
	seq->last_expect = sseq;
	return p;
}

/* Whether the caller must inject a request with a reply now. */
gboolean seq_need_sync(const XpSeq *seq)
{
	return seq->server_sent - seq->last_expect >= SEQ_SYNC_INTERVAL;
}

/* The smallest number >= server_recv with low bits S16.  Responses come in
 * order and (see seq.h) never more than 65535 requests apart, so that is the
 * one; a number beyond what was sent means the stream is out of step. */
guint64 seq_widen(XpSeq *seq, guint16 s16)
{
	guint64 full = seq->server_recv +
		       (guint16)(s16 - (guint16)seq->server_recv);

	if (full > seq->server_sent)
		return SEQ_BAD;
	seq->server_recv = full;
	return full;
}

/* Advances the base mark up to SSEQ and counts from it. */
guint64 seq_to_client(XpSeq *seq, guint64 sseq)
{
	while (seq->mark_len &&
	       seq->marks[seq->mark_head].sseq <= sseq) {
		seq->base = seq->marks[seq->mark_head];
		seq->mark_head = (seq->mark_head + 1) & (seq->mark_cap - 1);
		seq->mark_len--;
	}
	return seq->base.cseq + (sseq - seq->base.sseq);
}

/* Drops finished entries and returns the one for SSEQ, if any. */
SeqPending *seq_response(XpSeq *seq, guint64 sseq)
{
	while (seq->pend_len) {
		SeqPending *p = &seq->pend[seq->pend_head];

		if (p->sseq >= sseq)
			return p->sseq == sseq ? p : NULL;
		seq_pop(seq);
	}
	return NULL;
}

/* Drops the oldest entry. */
void seq_pop(XpSeq *seq)
{
	g_assert(seq->pend_len > 0);
	seq->pend_head = (seq->pend_head + 1) & (seq->pend_cap - 1);
	seq->pend_len--;
}

/* The last client number used. */
guint64 seq_client_sent(const XpSeq *seq)
{
	return seq->client_sent;
}

/* The last server number used. */
guint64 seq_server_sent(const XpSeq *seq)
{
	return seq->server_sent;
}

/* How many pending entries are queued (for tests). */
guint seq_n_pending(const XpSeq *seq)
{
	return seq->pend_len;
}

/* How many marks (injected requests not yet answered) are queued. */
guint seq_n_marks(const XpSeq *seq)
{
	return seq->mark_len;
}
