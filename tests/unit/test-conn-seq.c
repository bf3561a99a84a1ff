/*
 * test-conn-seq.c: a connection's sequence numbers (xproxy/seq.c) across
 * the 16-bit wrap, with requests injected by the proxy: a simulated client
 * stream of 300000 requests (long runs without any response, replies,
 * errors, events, injected requests), a simulated server answering them in
 * order and in batches, and at every response a check that the proxy
 * recovers the server's 64-bit number, the client's number, and the pending
 * entry it belongs to.
 */
#include <string.h>

#include "tests/unit/unit.h"
#include "xproxy/seq.h"

/* Requests the simulation sends. */
#define TSQ_N 300000

/* What the simulated server knows of each request, by server number. */
typedef struct {
	guint64 cseq;		/* client number the client must see */
	gboolean injected;	/* the proxy's own */
	gboolean reply;		/* it gets a reply */
} TsqReq;

/* The whole simulation. */
typedef struct {
	XpSeq *seq;		/* the state under test */
	TsqReq *reqs;		/* by server number */
	guint64 sent;		/* server number of the last request sent */
	guint64 done;		/* server number of the last one answered */
	guint64 csent;		/* client number of the last client request */
	guint n_injected;	/* injected so far */
	guint n_checked;	/* responses checked */
} Tsq;

/* Sends one client request (with a reply when REPLY), then an injected one
 * when the seq machinery asks for it or when INJECT. */
static void tsq_request(Tsq *t, gboolean reply, gboolean inject)
{
	guint64 s = seq_client_request(t->seq);

	t->csent++;
	CU_ASSERT_EQUAL_FATAL(s, t->sent + 1);
	t->sent = s;
	t->reqs[s] = (TsqReq){ t->csent, FALSE, reply };
	if (reply) {
		SeqPending *p = seq_push(t->seq, s);
		p->what = SEQ_CLIENT;
		p->op = (guint16)s;
	}
	if (inject || seq_need_sync(t->seq)) {
		s = seq_inject(t->seq);
		t->sent = s;
		t->reqs[s] = (TsqReq){ t->csent, TRUE, TRUE };
		seq_push(t->seq, s)->what = SEQ_INJECTED;
		t->n_injected++;
	}
}

/* The proxy's side of one response carrying server number S (only its low
 * 16 bits travel): widening, client number, pending entry. */
static void tsq_response(Tsq *t, guint64 s, gboolean is_reply)
{
	guint64 w = seq_widen(t->seq, (guint16)s);
	SeqPending *p;

	CU_ASSERT_EQUAL_FATAL(w, s);
	CU_ASSERT_EQUAL_FATAL(seq_to_client(t->seq, w), t->reqs[s].cseq);
	p = seq_response(t->seq, w);
	if (is_reply) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_EQUAL_FATAL(p->sseq, s);
		CU_ASSERT_EQUAL_FATAL(p->what, t->reqs[s].injected ?
				      SEQ_INJECTED : SEQ_CLIENT);
		if (!t->reqs[s].injected)
			CU_ASSERT_EQUAL_FATAL(p->op, (guint16)s);
	}
	t->n_checked++;
}

/* The server answers every request sent so far, in order: a reply for each
 * that has one; for others, now and then an error (which ends a pending
 * entry like a reply would) or events. */
static void tsq_serve(Tsq *t)
{
	while (t->done < t->sent) {
		guint64 s = ++t->done;
		guint r = g_random_int_range(0, 1000);

		if (t->reqs[s].reply)
			tsq_response(t, s, TRUE);
		else if (r < 5)
			tsq_response(t, s, FALSE);		/* error */
		if (r >= 990) {
			tsq_response(t, s, FALSE);		/* events */
			tsq_response(t, s, FALSE);
		}
	}
}

/* The simulation: phases of plain runs without any response (longer than
 * the 16-bit space), runs with replies and injected requests, and batches
 * of varying size answered by the server afterwards. */
static void test_seq_wrap(void)
{
	Tsq t = { 0 };

	g_random_set_seed(4711);
	t.seq = seq_new(0, 0);
	t.reqs = g_new0(TsqReq, TSQ_N * 2 + 16);
	while (t.csent < TSQ_N) {
		guint phase = g_random_int_range(0, 4);
		guint n = phase == 0 ? 70000 : g_random_int_range(1, 20000);

		for (guint i = 0; i < n && t.csent < TSQ_N; i++) {
			gboolean reply = phase != 0 &&
					 g_random_int_range(0, 50) == 0;
			gboolean inject = phase == 2 &&
					  g_random_int_range(0, 100) == 0;
			tsq_request(&t, reply, inject);
			/* a slow server answers part of what was sent */
			if (phase == 3 && g_random_int_range(0, 3000) == 0)
				tsq_serve(&t);
		}
		tsq_serve(&t);
	}
	CU_ASSERT_EQUAL(seq_client_sent(t.seq), TSQ_N);
	CU_ASSERT_EQUAL(seq_server_sent(t.seq), TSQ_N + t.n_injected);
	/* the numbers wrapped several times, and the sync kept up */
	CU_ASSERT_TRUE(t.sent > 4 * 65536);
	CU_ASSERT_TRUE(t.n_injected > 2 * (70000 / SEQ_SYNC_INTERVAL));
	CU_ASSERT_TRUE(t.n_checked > 3000);
	/* everything is answered: nothing stays queued but the last entry */
	CU_ASSERT_TRUE(seq_n_pending(t.seq) <= 1);
	g_free(t.reqs);
	seq_free(t.seq);
}

/* Non-zero starting points (a restart: the client has used 1000 numbers,
 * the new server connection 7), and injected requests back to back. */
static void test_seq_offset(void)
{
	XpSeq *seq = seq_new(1000, 7);
	guint64 s;

	s = seq_inject(seq);				/* server 8 */
	CU_ASSERT_EQUAL(s, 8);
	s = seq_inject(seq);				/* server 9 */
	s = seq_client_request(seq);			/* server 10 = 1001 */
	CU_ASSERT_EQUAL(s, 10);
	CU_ASSERT_EQUAL(seq_widen(seq, 8), 8);
	CU_ASSERT_EQUAL(seq_to_client(seq, 8), 1000);
	CU_ASSERT_EQUAL(seq_widen(seq, 9), 9);
	CU_ASSERT_EQUAL(seq_to_client(seq, 9), 1000);
	CU_ASSERT_EQUAL(seq_widen(seq, 10), 10);
	CU_ASSERT_EQUAL(seq_to_client(seq, 10), 1001);
	CU_ASSERT_EQUAL(seq_n_marks(seq), 0);
	/* a response for a request never sent is refused */
	CU_ASSERT_EQUAL(seq_widen(seq, 11), SEQ_BAD);
	seq_free(seq);
}

/* Many pending entries: the ring grows and keeps its order. */
static void test_seq_ring(void)
{
	XpSeq *seq = seq_new(0, 0);

	for (guint i = 1; i <= 1000; i++) {
		guint64 s = seq_client_request(seq);
		seq_push(seq, s)->op = i;
		if (i % 7 == 0)
			seq_push(seq, seq_inject(seq))->what = SEQ_INJECTED;
	}
	CU_ASSERT_EQUAL(seq_n_pending(seq), 1000 + 142);
	SeqPending *p = seq_response(seq, seq_widen(seq, 500));
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->sseq, 500);
	/* server 500 is a client request (every 8th number is injected):
	 * its entry is the one pushed with the client's number */
	CU_ASSERT_EQUAL(p->op, seq_to_client(seq, 500));
	seq_free(seq);
}

static CU_TestInfo tsq_tests[] = {
	{ "16-bit wrap with injected requests", test_seq_wrap },
	{ "offsets and back-to-back injection", test_seq_offset },
	{ "pending ring growth", test_seq_ring },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("seq", tsq_tests)
