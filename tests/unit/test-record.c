/*
 * test-record.c: recording (record.h) and replay order (replay.h) on canned
 * traffic, built byte by byte.
 *
 * The client has resource-ID base 0x00400000, mask 0x001fffff, and the
 * root 0x000003b5 (depth 24), like a first client of Xvfb.  RENDER is
 * called by major opcode 139.
 *
 * The dependency check (tr_check_order) is the heart: for every replayed
 * request it walks the XID fields with the generated tables and asserts
 * that each one in the client's range was created by an earlier step (or
 * is the one this step creates).
 */
#include <string.h>
#include <glib.h>

#include "tests/unit/unit.h"
#include "xproxy/record.h"
#include "xproxy/replay.h"
#include "xproxy/xlate.h"

#define TR_BASE 0x00400000u
#define TR_MASK 0x001fffffu
#define TR_ROOT 0x000003b5u
#define TR_RENDER 139

/* A request being built. */
typedef struct {
	guint8 b[8192];		/* bytes */
	gsize n;		/* bytes written */
} TrReq;

/* The client's last sequence number. */
static guint64 tr_seq;

/* Starts a request with opcode OP and data byte D1. */
static void tr_begin(TrReq *r, guint8 op, guint8 d1)
{
	memset(r, 0, sizeof(*r));
	r->b[0] = op;
	r->b[1] = d1;
	r->n = 4;
}

/* Appends byte V. */
static void tr_8(TrReq *r, guint8 v)
{
	r->b[r->n++] = v;
}

/* Appends the CARD16 V. */
static void tr_16(TrReq *r, guint16 v)
{
	xlate_put16(r->b + r->n, v);
	r->n += 2;
}

/* Appends the CARD32 V. */
static void tr_32(TrReq *r, guint32 v)
{
	xlate_put32(r->b + r->n, v);
	r->n += 4;
}

/* Appends N raw bytes from P. */
static void tr_raw(TrReq *r, const void *p, gsize n)
{
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

/* Pads to 4 bytes and sets the length. */
static void tr_end(TrReq *r)
{
	r->n = (r->n + 3) & ~(gsize)3;
	xlate_put16(r->b + 2, r->n / 4);
}

/* The client's major opcodes for the extensions the tests use. */
static const struct {
	const char *name;	/* X name */
	guint8 major;		/* the client's major opcode */
} tr_exts[] = {
	{ "RENDER", TR_RENDER }, { "XFIXES", 140 }, { "SHAPE", 141 },
	{ "SYNC", 142 }, { "DAMAGE", 143 }, { "Composite", 144 },
	{ "XInputExtension", 145 }, { "XKEYBOARD", 146 }, { "RANDR", 147 },
	{ "DOUBLE-BUFFER", 148 },
};

/* The tables of request major MAJOR. */
static const ProtoExt *tr_ext(guint8 major)
{
	if (major < 128)
		return proto_core();
	for (guint i = 0; i < G_N_ELEMENTS(tr_exts); i++)
		if (tr_exts[i].major == major)
			return proto_ext_lookup(tr_exts[i].name);
	return NULL;
}

/* Ends R and records it. */
static guint64 tr_feed(XpRecord *rec, TrReq *r)
{
	const ProtoExt *ext = tr_ext(r->b[0]);

	tr_end(r);
	record_request(rec, ext, r->b[0] < 128 ? r->b[0] : r->b[1], r->b,
		       r->n, FALSE, ++tr_seq);
	return tr_seq;
}

/* A new record for the test client. */
static XpRecord *tr_rec(void)
{
	return record_new(TR_BASE, TR_MASK, TR_ROOT, 24);
}

/* CreateWindow WID under PARENT with N values of MASK. */
static void tr_window(XpRecord *rec, guint32 wid, guint32 parent, gint16 x,
		      gint16 y, guint16 w, guint16 h, guint32 mask,
		      const guint32 *vals)
{
	TrReq r;

	tr_begin(&r, 1, 0);
	tr_32(&r, wid);
	tr_32(&r, parent);
	tr_16(&r, x);
	tr_16(&r, y);
	tr_16(&r, w);
	tr_16(&r, h);
	tr_16(&r, 0);	/* border */
	tr_16(&r, 1);	/* InputOutput */
	tr_32(&r, 0);	/* CopyFromParent visual */
	tr_32(&r, mask);
	for (guint i = 0, k = 0; i < 32; i++)
		if (mask & (1u << i))
			tr_32(&r, vals[k++]);
	tr_feed(rec, &r);
}

/* A request with one XID: OP (core) on ID. */
static void tr_one(XpRecord *rec, guint8 op, guint32 id)
{
	TrReq r;

	tr_begin(&r, op, 0);
	tr_32(&r, id);
	tr_feed(rec, &r);
}

/* ChangeWindowAttributes (or ChangeGC: OP 56) of ID with one value. */
static void tr_change1(XpRecord *rec, guint8 op, guint32 id, guint32 bit,
		       guint32 v)
{
	TrReq r;

	tr_begin(&r, op, 0);
	tr_32(&r, id);
	tr_32(&r, 1u << bit);
	tr_32(&r, v);
	tr_feed(rec, &r);
}

/* CreatePixmap PID of depth DEPTH on DRAWABLE. */
static void tr_pixmap(XpRecord *rec, guint32 pid, guint32 drawable,
		      guint8 depth, guint16 w, guint16 h)
{
	TrReq r;

	tr_begin(&r, 53, depth);
	tr_32(&r, pid);
	tr_32(&r, drawable);
	tr_16(&r, w);
	tr_16(&r, h);
	tr_feed(rec, &r);
}

/* CreateGC CID on DRAWABLE with no values. */
static void tr_gc(XpRecord *rec, guint32 cid, guint32 drawable)
{
	TrReq r;

	tr_begin(&r, 55, 0);
	tr_32(&r, cid);
	tr_32(&r, drawable);
	tr_32(&r, 0);
	tr_feed(rec, &r);
}

/* CreateCursor CID from pixmap SRC (no mask). */
static void tr_cursor(XpRecord *rec, guint32 cid, guint32 src)
{
	TrReq r;

	tr_begin(&r, 93, 0);
	tr_32(&r, cid);
	tr_32(&r, src);
	tr_32(&r, 0);
	for (guint i = 0; i < 6; i++)
		tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_feed(rec, &r);
}

/* ChangeProperty MODE on WIN: PROP of TYPE, format 8, STR. */
static void tr_prop(XpRecord *rec, guint8 mode, guint32 win, guint32 prop,
		    guint32 type, const char *str)
{
	TrReq r;

	tr_begin(&r, 18, mode);
	tr_32(&r, win);
	tr_32(&r, prop);
	tr_32(&r, type);
	tr_8(&r, 8);
	tr_8(&r, 0);
	tr_16(&r, 0);
	tr_32(&r, strlen(str));
	tr_raw(&r, str, strlen(str));
	tr_feed(rec, &r);
}

/* ConfigureWindow WIN: stack mode MODE (with SIBLING when not 0). */
static void tr_stack(XpRecord *rec, guint32 win, guint32 sibling,
		     guint32 mode)
{
	TrReq r;

	tr_begin(&r, 12, 0);
	tr_32(&r, win);
	tr_16(&r, sibling ? 0x60 : 0x40);
	tr_16(&r, 0);
	if (sibling)
		tr_32(&r, sibling);
	tr_32(&r, mode);
	tr_feed(rec, &r);
}

/* ReparentWindow WIN under PARENT at X, Y. */
static void tr_reparent(XpRecord *rec, guint32 win, guint32 parent,
			gint16 x, gint16 y)
{
	TrReq r;

	tr_begin(&r, 7, 0);
	tr_32(&r, win);
	tr_32(&r, parent);
	tr_16(&r, x);
	tr_16(&r, y);
	tr_feed(rec, &r);
}

/* The offset of the XID a creation request creates, or 0 (a table of the
 * test's own, independent of record.c's). */
static guint tr_creates_at(const guint8 *b)
{
	if (b[0] == TR_RENDER) {
		switch (b[1]) {
		case 4: case 17: case 18: case 27: case 31:
		case 33: case 34: case 35: case 36:
			return 4;
		}
		return 0;
	}
	if (b[0] == 140)	/* XFIXES regions */
		return b[1] >= 5 && b[1] <= 9 ? 4 : 0;
	if (b[0] == 142)	/* SYNC counter, alarm, fence */
		return b[1] == 2 || b[1] == 8 ? 4 : b[1] == 14 ? 8 : 0;
	if (b[0] == 143)	/* DAMAGE */
		return b[1] == 1 ? 4 : 0;
	if (b[0] == 148)	/* DOUBLE-BUFFER */
		return b[1] == 1 ? 8 : 0;
	if (b[0] >= 128)
		return 0;
	switch (b[0]) {
	case 1: case 45: case 53: case 55: case 78: case 93: case 94:
		return 4;
	}
	return 0;
}

/* What the order check keeps. */
typedef struct {
	GHashTable *made;	/* XIDs created so far */
	const guint8 *buf;	/* the request walked */
	guint create_off;	/* the field this request creates (0: none) */
	guint bad;		/* references to XIDs not yet created */
	guint32 first_bad;	/* the first such XID */
} TrOrder;

/* Walker visitor for the order check. */
static void tr_order_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	TrOrder *o = ud;
	guint32 v = xlate_get32(field);

	if (proto_kind_class(kind) != PROTO_CLASS_XID ||
	    (v & ~TR_MASK) != TR_BASE)
		return;		/* server-owned (the root) or special */
	if (o->create_off && field == o->buf + o->create_off) {
		g_hash_table_add(o->made, GUINT_TO_POINTER(v));
		return;
	}
	if (!g_hash_table_contains(o->made, GUINT_TO_POINTER(v))) {
		if (!o->bad)
			o->first_bad = v;
		o->bad++;
	}
}

/* Asserts that every replayed request only names XIDs created by an
 * earlier step; returns the number of steps. */
static guint tr_check_order(XpReplay *rp)
{
	g_autoptr(GHashTable) made = g_hash_table_new(NULL, NULL);
	guint n = replay_n_steps(rp);
	guint8 last_phase = 0;

	for (guint i = 0; i < n; i++) {
		const ReplayStep *s = replay_step(rp, i);
		const ProtoExt *ext = tr_ext(s->data[0]);
		const ProtoMsg *msg = proto_request(
			ext, s->data[0] < 128 ? s->data[0] : s->data[1]);
		TrOrder o = { made, s->data, tr_creates_at(s->data), 0, 0 };

		CU_ASSERT_FATAL(msg != NULL);
		CU_ASSERT(s->phase >= last_phase);
		last_phase = s->phase;
		CU_ASSERT(xlate_get16(s->data + 2) * 4 == s->len);
		CU_ASSERT(walk_message(msg, PROTO_REQUEST, s->data, s->len,
				       s->big, tr_order_visit, &o) ==
			  PROTO_WALK_OK);
		if (o.bad)
			fprintf(stderr, "step %u (%s, %s) names 0x%x before "
				"it is created\n", i, proto_msg_name(msg),
				replay_phase_name(s->phase), o.first_bad);
		CU_ASSERT(o.bad == 0);
	}
	return n;
}

/* The index of the first step with opcode OP (core) on XID at offset 4
 * from FROM on, or -1. */
static gint tr_find(XpReplay *rp, guint8 op, guint32 xid, guint from)
{
	for (guint i = from; i < replay_n_steps(rp); i++) {
		const ReplayStep *s = replay_step(rp, i);
		if (s->data[0] == op && s->len >= 8 &&
		    xlate_get32(s->data + 4) == xid)
			return i;
	}
	return -1;
}

/* Counts the steps with opcode OP (core). */
static guint tr_count(XpReplay *rp, guint8 op)
{
	guint n = 0;

	for (guint i = 0; i < replay_n_steps(rp); i++)
		n += replay_step(rp, i)->data[0] == op;
	return n;
}

/* Create, reparent, destroy: the tree follows; a destroyed parent takes
 * its reparented child with it. */
static void tr_create_reparent_destroy(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	guint32 a = TR_BASE | 1, b = TR_BASE | 2, c = TR_BASE | 3;
	RecordStats st;

	tr_window(rec, a, TR_ROOT, 0, 0, 100, 100, 0, NULL);
	tr_window(rec, b, TR_ROOT, 0, 0, 100, 100, 0, NULL);
	tr_window(rec, c, a, 5, 5, 10, 10, 0, NULL);
	CU_ASSERT(record_lookup(rec, c)->parent == record_lookup(rec, a));
	tr_reparent(rec, c, b, 7, 8);
	CU_ASSERT(record_lookup(rec, c)->parent == record_lookup(rec, b));
	CU_ASSERT(record_lookup(rec, a)->bottom == NULL);
	CU_ASSERT(xlate_get16(record_lookup(rec, c)->create + 12) == 7);
	tr_one(rec, 4, b);	/* DestroyWindow */
	CU_ASSERT(record_lookup(rec, b) == NULL);
	CU_ASSERT(record_lookup(rec, c) == NULL);
	CU_ASSERT(record_lookup(rec, a) != NULL);
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 1);
	CU_ASSERT(st.zombies == 0);

	/* destroyed by someone else: DestroyNotify */
	guint8 ev[32] = { 17 };
	tr_window(rec, b, a, 0, 0, 10, 10, 0, NULL);
	tr_window(rec, c, b, 0, 0, 5, 5, 0, NULL);
	xlate_put32(ev + 4, b);
	xlate_put32(ev + 8, b);
	record_event(rec, ev);
	CU_ASSERT(record_lookup(rec, b) == NULL);
	CU_ASSERT(record_lookup(rec, c) == NULL);
	/* resized by someone else: ConfigureNotify */
	guint8 cn[32] = { 22 };
	xlate_put32(cn + 4, a);
	xlate_put32(cn + 8, a);
	xlate_put16(cn + 16, 50);
	xlate_put16(cn + 18, 60);
	xlate_put16(cn + 20, 300);
	xlate_put16(cn + 22, 200);
	record_event(rec, cn);
	CU_ASSERT(xlate_get16(record_lookup(rec, a)->create + 16) == 300);
	CU_ASSERT(xlate_get16(record_lookup(rec, a)->create + 18) == 200);
	/* a top-level keeps its own position */
	CU_ASSERT(xlate_get16(record_lookup(rec, a)->create + 12) == 0);
}

/* Reparenting under a window created later: the replay creates the child
 * under the root and reparents it once the parent exists. */
static void tr_reparent_later(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 a = TR_BASE | 1, b = TR_BASE | 2;
	gint ca, cb, re;

	tr_window(rec, a, TR_ROOT, 0, 0, 10, 10, 0, NULL);
	tr_window(rec, b, TR_ROOT, 0, 0, 100, 100, 0, NULL);
	tr_reparent(rec, a, b, 3, 4);
	rp = replay_new(rec, NULL);
	tr_check_order(rp);
	ca = tr_find(rp, 1, a, 0);
	cb = tr_find(rp, 1, b, 0);
	re = tr_find(rp, 7, a, 0);
	CU_ASSERT(ca >= 0 && cb > ca && re > cb);
	CU_ASSERT(xlate_get32(replay_step(rp, ca)->data + 8) == TR_ROOT);
	CU_ASSERT(xlate_get32(replay_step(rp, re)->data + 8) == b);
	CU_ASSERT(xlate_get16(replay_step(rp, re)->data + 12) == 3);
}

/* Resources created and freed before the checkpoint leave the record and
 * its memory. */
static void tr_created_and_freed(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 p = TR_BASE | 10, g = TR_BASE | 11, c = TR_BASE | 12;
	RecordStats st0, st;

	record_stats(rec, &st0);
	tr_pixmap(rec, p, TR_ROOT, 1, 16, 16);
	tr_gc(rec, g, p);
	tr_cursor(rec, c, p);
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 3);
	CU_ASSERT(st.bytes > st0.bytes);
	tr_one(rec, 60, g);	/* FreeGC */
	tr_one(rec, 95, c);	/* FreeCursor */
	tr_one(rec, 54, p);	/* FreePixmap */
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 0);
	CU_ASSERT(st.zombies == 0);
	CU_ASSERT(st.foreign == 0);
	CU_ASSERT(st.mods == 0);
	CU_ASSERT(st.bytes == st0.bytes);
	rp = replay_new(rec, NULL);
	CU_ASSERT(replay_n_steps(rp) == 0);
}

/* A cursor (made from a pixmap) freed while set on a window: both are
 * zombies, created, used and freed again by the replay. */
static void tr_zombie_cursor(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 w = TR_BASE | 1, p = TR_BASE | 2, c = TR_BASE | 3;
	RecordStats st;
	gint cc, cw, fc, fp;

	tr_window(rec, w, TR_ROOT, 0, 0, 50, 50, 0, NULL);
	tr_pixmap(rec, p, w, 1, 16, 16);
	tr_cursor(rec, c, p);
	/* FreePixmap: the cursor's recipe needs it, so it is a zombie, and
	 * the caller must read its contents before the server frees it */
	TrReq fr;
	tr_begin(&fr, 54, 0);
	tr_32(&fr, p);
	tr_end(&fr);
	CU_ASSERT(record_request(rec, proto_core(), 54, fr.b, fr.n, FALSE,
				 ++tr_seq) == RECORD_NEED_IMAGE);
	tr_change1(rec, 2, w, 14, c);	/* cursor */
	tr_one(rec, 95, c);	/* FreeCursor */
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 1);
	CU_ASSERT(st.zombies == 2);
	CU_ASSERT(record_lookup(rec, c)->flags & REC_F_ZOMBIE);

	rp = replay_new(rec, NULL);
	tr_check_order(rp);
	/* the cursor, made after the window from a pixmap made on the
	 * window, cannot come before it: the window is created without it
	 * and gets it in the STATE phase */
	cc = tr_find(rp, 93, c, 0);
	cw = tr_find(rp, 2, w, 0);
	fc = tr_find(rp, 95, c, 0);
	fp = tr_find(rp, 54, p, 0);
	CU_ASSERT(cc >= 0 && cw > cc && fc > cw && fp > cc);
	CU_ASSERT(tr_find(rp, 1, w, 0) < cc);
	CU_ASSERT(xlate_get32(replay_step(rp, tr_find(rp, 1, w, 0))->data +
			      28) == 0);
	CU_ASSERT(replay_step(rp, cw)->phase == REPLAY_STATE);
	CU_ASSERT(replay_step(rp, fc)->phase == REPLAY_FREE);
	CU_ASSERT(xlate_get32(replay_step(rp, cw)->data + 12) == c);

	/* the window goes: nothing refers to the zombies any more */
	tr_one(rec, 4, w);
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 0);
	CU_ASSERT(st.zombies == 0);
}

/* A zombie whose XID the client reuses is renamed; the replay gives it a
 * free XID and the window's cursor follows. */
static void tr_zombie_reuse(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 w = TR_BASE | 1, c = TR_BASE | 3, font = TR_BASE | 4;
	TrReq r;
	gint cw, cc;
	guint32 nc;

	tr_window(rec, w, TR_ROOT, 0, 0, 50, 50, 0, NULL);
	tr_begin(&r, 45, 0);	/* OpenFont "cursor" */
	tr_32(&r, font);
	tr_16(&r, 6);
	tr_16(&r, 0);
	tr_raw(&r, "cursor", 6);
	tr_feed(rec, &r);
	tr_begin(&r, 94, 0);	/* CreateGlyphCursor */
	tr_32(&r, c);
	tr_32(&r, font);
	tr_32(&r, font);
	tr_16(&r, 68);
	tr_16(&r, 69);
	for (guint i = 0; i < 6; i++)
		tr_16(&r, 0);
	tr_feed(rec, &r);
	tr_one(rec, 46, font);	/* CloseFont: a zombie */
	tr_change1(rec, 2, w, 14, c);
	tr_one(rec, 95, c);
	tr_pixmap(rec, c, w, 24, 4, 4);	/* same XID, new pixmap */
	CU_ASSERT(record_lookup(rec, c)->kind == REC_PIXMAP);

	/* the glyph cursor does not depend on the window: it is pulled
	 * before it and goes into its CreateWindow */
	rp = replay_new(rec, NULL);
	tr_check_order(rp);
	cw = tr_find(rp, 1, w, 0);
	CU_ASSERT_FATAL(cw >= 0);
	CU_ASSERT(tr_find(rp, 2, w, 0) < 0);
	nc = xlate_get32(replay_step(rp, cw)->data + 32);
	CU_ASSERT(nc != c);
	CU_ASSERT((nc & ~TR_MASK) == TR_BASE);
	cc = tr_find(rp, 94, nc, 0);
	CU_ASSERT(cc >= 0 && cc < cw);
	CU_ASSERT(tr_find(rp, 95, nc, 0) > cw);
	CU_ASSERT(tr_find(rp, 46, font, 0) > cc);
	CU_ASSERT(tr_find(rp, 53, c, 0) >= 0);
}

/* Properties: Replace, then Append merged into one; Delete removes. */
static void tr_properties(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	guint32 w = TR_BASE | 1;
	RecRes *e;
	RecMod *m;

	tr_window(rec, w, TR_ROOT, 0, 0, 50, 50, 0, NULL);
	tr_prop(rec, 0, w, 39, 31, "abc");	/* WM_NAME, STRING */
	tr_prop(rec, 0, w, 39, 31, "xyz");
	tr_prop(rec, 2, w, 39, 31, "def");	/* Append */
	tr_prop(rec, 1, w, 39, 31, "<");	/* Prepend */
	tr_prop(rec, 0, w, 37, 31, "icon");	/* WM_ICON_NAME */
	e = record_lookup(rec, w);
	CU_ASSERT_FATAL(e->mods && e->mods->len == 2);
	m = e->mods->pdata[0];
	CU_ASSERT(m->data[1] == 0);
	CU_ASSERT(xlate_get32(m->data + 20) == 7);
	CU_ASSERT(memcmp(m->data + 24, "<xyzdef", 7) == 0);
	CU_ASSERT(xlate_get16(m->data + 2) * 4 == m->len);
	TrReq r;
	tr_begin(&r, 19, 0);	/* DeleteProperty WM_NAME */
	tr_32(&r, w);
	tr_32(&r, 39);
	tr_feed(rec, &r);
	CU_ASSERT(e->mods->len == 1);
	m = e->mods->pdata[0];
	CU_ASSERT(xlate_get32(m->data + 8) == 37);
}

/* DestroySubwindows takes the children and grandchildren, not the window. */
static void tr_subtree(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	guint32 top = TR_BASE | 1;
	RecordStats st;

	tr_window(rec, top, TR_ROOT, 0, 0, 100, 100, 0, NULL);
	for (guint i = 0; i < 5; i++) {
		tr_window(rec, TR_BASE | (10 + i), top, 0, 0, 10, 10, 0, NULL);
		tr_window(rec, TR_BASE | (20 + i), TR_BASE | (10 + i), 0, 0, 5,
			  5, 0, NULL);
		tr_prop(rec, 0, TR_BASE | (20 + i), 39, 31, "leaf");
	}
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 11);
	CU_ASSERT(st.mods == 5);
	tr_one(rec, 5, top);	/* DestroySubwindows */
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 1);
	CU_ASSERT(st.mods == 0);
	CU_ASSERT(record_lookup(rec, top)->bottom == NULL);
	tr_one(rec, 4, top);
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 0);
	CU_ASSERT(st.foreign == 0);
}

/* Stacking order of siblings is kept and replayed. */
static void tr_stacking(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 top = TR_BASE | 1, a = TR_BASE | 2, b = TR_BASE | 3,
		c = TR_BASE | 4;
	RecRes *t;
	gint ia, ib, ic;

	tr_window(rec, top, TR_ROOT, 0, 0, 100, 100, 0, NULL);
	tr_window(rec, a, top, 0, 0, 10, 10, 0, NULL);
	tr_window(rec, b, top, 0, 0, 10, 10, 0, NULL);
	tr_window(rec, c, top, 0, 0, 10, 10, 0, NULL);
	tr_stack(rec, a, 0, 0);		/* a on top: b c a */
	tr_stack(rec, c, b, 1);		/* c below b: c b a */
	t = record_lookup(rec, top);
	CU_ASSERT(t->bottom->xid == c);
	CU_ASSERT(t->bottom->above->xid == b);
	CU_ASSERT(t->top->xid == a);
	CU_ASSERT(t->top->below->xid == b);

	rp = replay_new(rec, NULL);
	tr_check_order(rp);
	ic = tr_find(rp, 12, c, 0);
	ib = tr_find(rp, 12, b, 0);
	ia = tr_find(rp, 12, a, 0);
	CU_ASSERT(ic >= 0 && ib > ic && ia > ib);
	CU_ASSERT(replay_step(rp, ia)->phase == REPLAY_TREE);
}

/* Map state: the last request wins; windows are mapped after everything
 * else, children before parents. */
static void tr_map_state(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 w = TR_BASE | 1, k = TR_BASE | 2, u = TR_BASE | 3;
	const guint32 ev = 1u << 15;	/* ExposureMask */
	const ReplayExpose *x;
	guint n;

	tr_window(rec, w, TR_ROOT, 0, 0, 100, 80, 1u << 11, &ev);
	tr_window(rec, k, w, 0, 0, 10, 10, 1u << 11, &ev);
	tr_window(rec, u, w, 0, 0, 10, 10, 0, NULL);
	tr_one(rec, 8, w);
	tr_one(rec, 10, w);
	tr_one(rec, 8, w);	/* Map, Unmap, Map */
	tr_one(rec, 9, w);	/* MapSubwindows */
	tr_one(rec, 10, u);	/* Unmap u */
	CU_ASSERT(record_lookup(rec, w)->flags & REC_F_MAPPED);
	CU_ASSERT(!(record_lookup(rec, u)->flags & REC_F_MAPPED));
	rp = replay_new(rec, NULL);
	tr_check_order(rp);
	CU_ASSERT(tr_count(rp, 8) == 2);
	CU_ASSERT(tr_find(rp, 8, k, 0) < tr_find(rp, 8, w, 0));
	CU_ASSERT(tr_find(rp, 8, u, 0) < 0);
	CU_ASSERT(replay_step(rp, tr_find(rp, 8, w, 0))->phase == REPLAY_MAP);
	x = replay_exposures(rp, &n);
	CU_ASSERT_FATAL(n == 2);
	CU_ASSERT(x[0].window == k || x[1].window == k);
	CU_ASSERT(x[0].window == w ? x[0].width == 100 && x[0].height == 80 :
				    x[1].width == 100 && x[1].height == 80);
}

/* ChangeWindowAttributes merged per bit into CreateWindow; on the root,
 * into one ChangeWindowAttributes. */
static void tr_attributes(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	guint32 w = TR_BASE | 1;
	const guint32 ev = 1u << 15;
	RecRes *e, *root;
	RecMod *m;

	tr_window(rec, w, TR_ROOT, 0, 0, 100, 80, 1u << 11, &ev);
	tr_change1(rec, 2, w, 11, (1u << 15) | 1);	/* + KeyPress */
	tr_change1(rec, 2, w, 0, TR_BASE | 7);		/* bg pixmap */
	tr_change1(rec, 2, w, 1, 0x123456);		/* bg pixel wins */
	tr_change1(rec, 2, w, 11, (1u << 15) | 3);
	/* a cursor the client does not hold: the server rejects the whole
	 * request, so nothing of it is merged */
	tr_change1(rec, 2, w, 14, TR_BASE | 99);
	e = record_lookup(rec, w);
	CU_ASSERT(e->mods == NULL);
	CU_ASSERT(e->create_len == 40);
	CU_ASSERT(xlate_get32(e->create + 28) == ((1u << 1) | (1u << 11)));
	CU_ASSERT(xlate_get32(e->create + 32) == 0x123456);
	CU_ASSERT(xlate_get32(e->create + 36) == ((1u << 15) | 3));
	CU_ASSERT(xlate_get16(e->create + 2) == 10);

	/* the root: PropertyChange, then StructureNotify too */
	tr_change1(rec, 2, TR_ROOT, 11, 1u << 22);
	tr_change1(rec, 2, TR_ROOT, 11, (1u << 22) | (1u << 17));
	root = record_lookup(rec, TR_ROOT);
	CU_ASSERT_FATAL(root && root->kind == REC_FOREIGN);
	CU_ASSERT_FATAL(root->mods && root->mods->len == 1);
	m = root->mods->pdata[0];
	CU_ASSERT(m->len == 16);
	CU_ASSERT(xlate_get32(m->data + 12) == ((1u << 22) | (1u << 17)));
	/* deselecting all leaves the mask at 0, still recorded */
	tr_change1(rec, 2, TR_ROOT, 11, 0);
	CU_ASSERT(xlate_get32(((RecMod *)root->mods->pdata[0])->data + 12) ==
		  0);
}

/* GCs: ChangeGC merged, a tile created later is set after the pixmap
 * exists; clip rectangles dropped by a clip mask; CopyGC copies. */
static void tr_gcs(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 w = TR_BASE | 1, g = TR_BASE | 2, tile = TR_BASE | 3,
		g2 = TR_BASE | 4;
	TrReq r;
	RecRes *e;
	gint ct, chg;

	tr_window(rec, w, TR_ROOT, 0, 0, 100, 80, 0, NULL);
	tr_gc(rec, g, w);
	tr_change1(rec, 56, g, 2, 0xff0000);	/* foreground */
	tr_pixmap(rec, tile, w, 24, 8, 8);
	tr_change1(rec, 56, g, 10, tile);	/* tile */
	tr_begin(&r, 59, 0);	/* SetClipRectangles */
	tr_32(&r, g);
	tr_16(&r, 1);
	tr_16(&r, 2);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 5);
	tr_16(&r, 5);
	tr_feed(rec, &r);
	e = record_lookup(rec, g);
	CU_ASSERT(e->mods && e->mods->len == 1);
	tr_gc(rec, g2, w);
	tr_begin(&r, 57, 0);	/* CopyGC g -> g2: foreground, clip */
	tr_32(&r, g);
	tr_32(&r, g2);
	tr_32(&r, (1u << 2) | (1u << 19));
	tr_feed(rec, &r);
	CU_ASSERT(record_lookup(rec, g2)->mods->len == 1);
	tr_change1(rec, 56, g, 19, 0);	/* clip-mask None */
	CU_ASSERT(e->mods->len == 0);

	rp = replay_new(rec, NULL);
	tr_check_order(rp);
	/* the tile, made after the GC, is pulled before it */
	ct = tr_find(rp, 53, tile, 0);
	chg = tr_find(rp, 55, g, 0);
	CU_ASSERT(ct >= 0 && chg > ct);
	CU_ASSERT(tr_find(rp, 56, g, 0) < 0);
	CU_ASSERT(tr_find(rp, 59, g2, 0) > 0);
	tr_one(rec, 54, tile);		/* freed: a zombie while the GC's
					 * tile */
	CU_ASSERT(record_lookup(rec, tile)->flags & REC_F_ZOMBIE);
	tr_one(rec, 60, g);
	CU_ASSERT(record_lookup(rec, tile) == NULL);
}

/* RENDER: a picture on a pixmap, its clip, and glyph sets with glyphs
 * added and freed. */
static void tr_render(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 w = TR_BASE | 1, p = TR_BASE | 2, pic = TR_BASE | 3,
		gs = TR_BASE | 4;
	TrReq r;
	RecRes *e;
	gint cp, cpic, ag;

	tr_window(rec, w, TR_ROOT, 0, 0, 100, 80, 0, NULL);
	tr_pixmap(rec, p, w, 32, 10, 10);
	tr_begin(&r, TR_RENDER, 4);	/* CreatePicture */
	tr_32(&r, pic);
	tr_32(&r, p);
	tr_32(&r, 0x2a);	/* a format */
	tr_32(&r, 1);		/* repeat */
	tr_32(&r, 1);
	tr_feed(rec, &r);
	tr_begin(&r, TR_RENDER, 6);	/* SetPictureClipRectangles */
	tr_32(&r, pic);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 4);
	tr_16(&r, 4);
	tr_feed(rec, &r);

	tr_begin(&r, TR_RENDER, 17);	/* CreateGlyphSet, A8 */
	tr_32(&r, gs);
	tr_32(&r, 0x25);
	tr_feed(rec, &r);
	/* AddGlyphs: 3 glyphs 3x2, 5x1, 4x4 at 8 bpp (rows of 4, 8, 4) */
	static const guint16 dims[4][2] = { { 3, 2 }, { 5, 1 }, { 4, 4 },
					    { 1, 1 } };
	tr_begin(&r, TR_RENDER, 20);
	tr_32(&r, gs);
	tr_32(&r, 3);
	for (guint i = 0; i < 3; i++)
		tr_32(&r, 100 + i);
	for (guint i = 0; i < 3; i++) {
		tr_16(&r, dims[i][0]);
		tr_16(&r, dims[i][1]);
		tr_16(&r, 0);
		tr_16(&r, 0);
		tr_16(&r, dims[i][0]);
		tr_16(&r, 0);
	}
	for (guint i = 0; i < 3; i++)
		for (guint b = 0; b < ((dims[i][0] + 3u) & ~3u) * dims[i][1];
		     b++)
			tr_8(&r, 0x10 * (i + 1) + b);
	tr_feed(rec, &r);
	tr_begin(&r, TR_RENDER, 20);	/* one more */
	tr_32(&r, gs);
	tr_32(&r, 1);
	tr_32(&r, 200);
	tr_16(&r, 1);
	tr_16(&r, 1);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 1);
	tr_16(&r, 0);
	tr_32(&r, 0x000000ff);
	tr_feed(rec, &r);
	tr_begin(&r, TR_RENDER, 22);	/* FreeGlyphs 101 */
	tr_32(&r, gs);
	tr_32(&r, 101);
	tr_feed(rec, &r);
	e = record_lookup(rec, gs);
	CU_ASSERT_FATAL(e->glyphs != NULL);
	CU_ASSERT(g_hash_table_size(e->glyphs) == 3);
	CU_ASSERT(e->gs_bpp == 8);
	CU_ASSERT(g_hash_table_lookup(e->glyphs, GUINT_TO_POINTER(101)) ==
		  NULL);
	RecGlyph *g2 = g_hash_table_lookup(e->glyphs, GUINT_TO_POINTER(102));
	CU_ASSERT_FATAL(g2 != NULL);
	CU_ASSERT(g2->len == 16);
	CU_ASSERT(g2->data[0] == 0x30);

	rp = replay_new(rec, NULL);
	tr_check_order(rp);
	cp = tr_find(rp, 53, p, 0);
	cpic = -1;
	ag = -1;
	for (guint i = 0; i < replay_n_steps(rp); i++) {
		const ReplayStep *s = replay_step(rp, i);
		if (s->data[0] == TR_RENDER && s->data[1] == 4)
			cpic = i;
		if (s->data[0] == TR_RENDER && s->data[1] == 20) {
			ag = i;
			CU_ASSERT(xlate_get32(s->data + 8) == 3);
			CU_ASSERT(s->len == 12 + 3 * 16 + 8 + 16 + 4);
		}
	}
	CU_ASSERT(cp >= 0 && cpic > cp && ag > cpic);
}

/* Adds one glyph ID of W x H with image bytes LEN to glyph set GS. */
static void tr_glyph(XpRecord *rec, guint32 gs, guint32 id, guint16 w,
		     guint16 h, gsize len)
{
	TrReq r;

	tr_begin(&r, TR_RENDER, 20);
	tr_32(&r, gs);
	tr_32(&r, 1);
	tr_32(&r, id);
	tr_16(&r, w);
	tr_16(&r, h);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, w);
	tr_16(&r, 0);
	for (gsize i = 0; i < len; i++)
		tr_8(&r, 0xa5);
	tr_feed(rec, &r);
}

/* A glyph set whose first glyphs fit several depths (A1 or A8) learns its
 * depth from a later one. */
static void tr_glyph_depth(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	guint32 gs = TR_BASE | 4;
	TrReq r;
	RecRes *e;

	tr_begin(&r, TR_RENDER, 17);
	tr_32(&r, gs);
	tr_32(&r, 0x26);
	tr_feed(rec, &r);
	tr_glyph(rec, gs, 1, 3, 2, 8);	/* 4-byte rows at 1 or 8 bpp */
	e = record_lookup(rec, gs);
	CU_ASSERT(e->gs_bpp == 8);
	tr_glyph(rec, gs, 2, 20, 1, 4);	/* only 1 bpp gives 4 bytes */
	CU_ASSERT(e->gs_bpp == 1);
	CU_ASSERT(g_hash_table_size(e->glyphs) == 2);
	CU_ASSERT(e->mods == NULL);
}

/* A creation the server refused leaves the record. */
static void tr_error(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	guint32 font = TR_BASE | 5;
	guint8 err[32] = { 0, 15 };	/* BadName */
	TrReq r;
	guint64 s;

	tr_begin(&r, 45, 0);
	tr_32(&r, font);
	tr_16(&r, 7);
	tr_16(&r, 0);
	tr_raw(&r, "nofont!", 7);
	s = tr_feed(rec, &r);
	CU_ASSERT(record_lookup(rec, font) != NULL);
	tr_one(rec, 43, 0);	/* something else in between */
	record_error(rec, s, err);
	CU_ASSERT(record_lookup(rec, font) == NULL);
}

/* InternAtom and GetAtomName replies name atoms; AllocColor's reply keys
 * the cell, FreeColors drops it. */
static void tr_atoms_colors(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(GArray) atoms = NULL;
	guint8 rep[64] = { 1 };
	guint32 cmap = 0x20;	/* the default colormap: foreign */
	TrReq r;
	guint64 s;
	RecRes *e;

	tr_begin(&r, 16, 0);
	tr_16(&r, 16);
	tr_16(&r, 0);
	tr_raw(&r, "_NET_WM_PID\0\0\0\0\0", 16);
	xlate_put16(r.b + 4, 11);
	s = tr_feed(rec, &r);
	xlate_put32(rep + 8, 300);
	record_reply(rec, s, rep, 32);
	tr_one(rec, 17, 301);	/* GetAtomName */
	s = tr_seq;
	memset(rep, 0, sizeof(rep));
	rep[0] = 1;
	xlate_put16(rep + 8, 4);
	memcpy(rep + 32, "UTF8", 4);
	record_reply(rec, s, rep, 36);
	atoms = record_atoms(rec);
	CU_ASSERT_FATAL(atoms->len == 2);
	CU_ASSERT(g_array_index(atoms, RecordAtom, 0).atom == 300);
	CU_ASSERT_STRING_EQUAL(g_array_index(atoms, RecordAtom, 0).name,
			       "_NET_WM_PID");
	CU_ASSERT_STRING_EQUAL(g_array_index(atoms, RecordAtom, 1).name,
			       "UTF8");

	/* atoms used but never named: a property of type 400 holding atoms
	 * 300 (named) and 401 (not) */
	guint32 w = TR_BASE | 1;
	tr_window(rec, w, TR_ROOT, 0, 0, 10, 10, 0, NULL);
	tr_begin(&r, 18, 0);
	tr_32(&r, w);
	tr_32(&r, 402);
	tr_32(&r, 4);		/* ATOM */
	tr_8(&r, 32);
	tr_8(&r, 0);
	tr_16(&r, 0);
	tr_32(&r, 2);
	tr_32(&r, 300);
	tr_32(&r, 401);
	tr_feed(rec, &r);
	{
		g_autoptr(GArray) un = record_unnamed_atoms(rec);
		CU_ASSERT_FATAL(un->len == 2);
		CU_ASSERT(g_array_index(un, guint32, 0) == 401);
		CU_ASSERT(g_array_index(un, guint32, 1) == 402);
		record_note_atom(rec, 401, "_A");
		record_note_atom(rec, 402, "_B");
	}
	{
		g_autoptr(GArray) un = record_unnamed_atoms(rec);
		CU_ASSERT(un->len == 0);
	}

	tr_begin(&r, 84, 0);	/* AllocColor */
	tr_32(&r, cmap);
	tr_16(&r, 0xffff);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 0);
	s = tr_feed(rec, &r);
	memset(rep, 0, sizeof(rep));
	rep[0] = 1;
	xlate_put32(rep + 16, 0xff0000);
	record_reply(rec, s, rep, 32);
	e = record_lookup(rec, cmap);
	CU_ASSERT_FATAL(e && e->mods && e->mods->len == 1);
	tr_begin(&r, 88, 0);	/* FreeColors */
	tr_32(&r, cmap);
	tr_32(&r, 0);
	tr_32(&r, 0xff0000);
	tr_feed(rec, &r);
	CU_ASSERT(record_lookup(rec, cmap) == NULL);	/* nothing left */
}

/* Pixmap contents: PutImage pieces of whole rows within the maximum
 * request length, with a temporary GC. */
static void tr_pixmap_image(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	g_autoptr(GBytes) img = NULL;
	guint32 p = TR_BASE | 2;
	guint8 data[10 * 40];
	ReplayParams prm = { 24 + 3 * 40 };
	guint puts = 0, rows = 0;

	for (guint i = 0; i < sizeof(data); i++)
		data[i] = i;
	tr_pixmap(rec, p, TR_ROOT, 24, 10, 10);
	img = g_bytes_new(data, sizeof(data));
	CU_ASSERT(record_set_pixmap_image(rec, p, img));
	CU_ASSERT(!record_set_pixmap_image(rec, TR_BASE | 9, img));
	rp = replay_new(rec, &prm);
	tr_check_order(rp);
	for (guint i = 0; i < replay_n_steps(rp); i++) {
		const ReplayStep *s = replay_step(rp, i);
		if (s->data[0] != 72)
			continue;
		CU_ASSERT(s->len <= prm.max_request_bytes);
		CU_ASSERT(xlate_get16(s->data + 18) == rows);
		CU_ASSERT(memcmp(s->data + 24, data + 40 * rows,
				 s->len - 24) == 0);
		rows += xlate_get16(s->data + 14);
		puts++;
	}
	CU_ASSERT(puts == 4);
	CU_ASSERT(rows == 10);
	CU_ASSERT(tr_count(rp, 55) == 1 && tr_count(rp, 60) == 1);
}

/* Grabs, selections, focus: kept, ungrabbed, replayed in their phases. */
static void tr_grabs_focus(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 w = TR_BASE | 1;
	TrReq r;
	RecRes *e;
	gint f, m;

	tr_window(rec, w, TR_ROOT, 0, 0, 10, 10, 0, NULL);
	for (guint k = 10; k < 13; k++) {
		tr_begin(&r, 33, 1);	/* GrabKey */
		tr_32(&r, w);
		tr_16(&r, 4);		/* Control */
		tr_8(&r, k);
		tr_8(&r, 1);
		tr_8(&r, 1);
		tr_feed(rec, &r);
	}
	tr_begin(&r, 34, 11);	/* UngrabKey 11, any modifier */
	tr_32(&r, w);
	tr_16(&r, 0x8000);
	tr_feed(rec, &r);
	e = record_lookup(rec, w);
	CU_ASSERT(e->mods && e->mods->len == 2);
	tr_begin(&r, 22, 0);	/* SetSelectionOwner PRIMARY */
	tr_32(&r, w);
	tr_32(&r, 1);
	tr_32(&r, 12345);
	tr_feed(rec, &r);
	tr_begin(&r, 42, 2);	/* SetInputFocus */
	tr_32(&r, w);
	tr_32(&r, 777);
	tr_feed(rec, &r);
	tr_one(rec, 8, w);
	rp = replay_new(rec, NULL);
	tr_check_order(rp);
	CU_ASSERT(tr_count(rp, 33) == 2);
	f = tr_find(rp, 42, w, 0);
	m = tr_find(rp, 8, w, 0);
	CU_ASSERT(f > m && m > 0);
	CU_ASSERT(xlate_get32(replay_step(rp, f)->data + 8) == 0);
	CU_ASSERT(xlate_get32(replay_step(rp, tr_find(rp, 22, w, 0))->data +
			      12) == 0);
	tr_one(rec, 4, w);	/* the grabs go with the window */
	CU_ASSERT(record_lookup(rec, w) == NULL);
}

/* The number of mods of XID's entry (0 when none or no entry). */
static guint tr_mods(XpRecord *rec, guint32 xid)
{
	RecRes *e = record_lookup(rec, xid);

	return e && e->mods ? e->mods->len : 0;
}

/* Extension state: XFIXES selections and regions, SHAPE, SYNC, DAMAGE,
 * Composite, XI2, XKB, RANDR, DOUBLE-BUFFER. */
static void tr_extensions(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	g_autoptr(XpReplay) rp = NULL;
	guint32 w = TR_BASE | 1, rg = TR_BASE | 2, ctr = TR_BASE | 3,
		fence = TR_BASE | 4, dmg = TR_BASE | 5, buf = TR_BASE | 6;
	RecRes *e;
	TrReq r;

	tr_window(rec, w, TR_ROOT, 0, 0, 100, 100, 0, NULL);
	/* XFIXES selection input: set, cleared by a zero mask */
	for (guint mask = 7;; mask = 0) {
		tr_begin(&r, 140, 2);
		tr_32(&r, w);
		tr_32(&r, 300);
		tr_32(&r, mask);
		tr_feed(rec, &r);
		if (!mask)
			break;
		CU_ASSERT(tr_mods(rec, w) == 1);
	}
	CU_ASSERT(tr_mods(rec, w) == 0);
	tr_begin(&r, 140, 3);	/* SelectCursorInput on the root */
	tr_32(&r, TR_ROOT);
	tr_32(&r, 1);
	tr_feed(rec, &r);
	CU_ASSERT(tr_mods(rec, TR_ROOT) == 1);
	/* regions: SetRegion starts over */
	tr_begin(&r, 140, 5);
	tr_32(&r, rg);
	tr_feed(rec, &r);
	for (guint i = 0; i < 2; i++) {
		tr_begin(&r, 140, 11);	/* SetRegion */
		tr_32(&r, rg);
		tr_16(&r, 0);
		tr_16(&r, 0);
		tr_16(&r, 10);
		tr_16(&r, 10);
		tr_feed(rec, &r);
		tr_begin(&r, 140, 13);	/* UnionRegion rg, rg -> rg */
		tr_32(&r, rg);
		tr_32(&r, rg);
		tr_32(&r, rg);
		tr_feed(rec, &r);
	}
	CU_ASSERT(tr_mods(rec, rg) == 2);
	/* SHAPE: a Set starts the kind over; SelectInput on, then off */
	static const guint8 ops[][2] = { { 0, 0 }, { 1, 0 }, { 0, 2 },
					 { 0, 0 } };
	for (guint i = 0; i < G_N_ELEMENTS(ops); i++) {
		tr_begin(&r, 141, 1);
		tr_8(&r, ops[i][0]);
		tr_8(&r, ops[i][1]);
		tr_8(&r, 0);
		tr_8(&r, 0);
		tr_32(&r, w);
		tr_16(&r, 0);
		tr_16(&r, 0);
		tr_16(&r, 0);
		tr_16(&r, 0);
		tr_16(&r, 5);
		tr_16(&r, 5);
		tr_feed(rec, &r);
	}
	CU_ASSERT(tr_mods(rec, w) == 2);
	tr_begin(&r, 141, 6);
	tr_32(&r, w);
	tr_8(&r, 1);
	tr_feed(rec, &r);
	CU_ASSERT(tr_mods(rec, w) == 3);
	tr_begin(&r, 141, 6);
	tr_32(&r, w);
	tr_8(&r, 0);
	tr_feed(rec, &r);
	CU_ASSERT(tr_mods(rec, w) == 2);
	/* SYNC: the counter's value follows Change and Set */
	tr_begin(&r, 142, 2);
	tr_32(&r, ctr);
	tr_32(&r, 0);
	tr_32(&r, 5);
	tr_feed(rec, &r);
	tr_begin(&r, 142, 4);	/* ChangeCounter -10 */
	tr_32(&r, ctr);
	tr_32(&r, 0xffffffff);
	tr_32(&r, (guint32)-10);
	tr_feed(rec, &r);
	e = record_lookup(rec, ctr);
	CU_ASSERT(xlate_get32(e->create + 8) == 0xffffffff);
	CU_ASSERT(xlate_get32(e->create + 12) == (guint32)-5);
	tr_begin(&r, 142, 14);	/* CreateFence on w, then Trigger */
	tr_32(&r, w);
	tr_32(&r, fence);
	tr_8(&r, 0);
	tr_feed(rec, &r);
	tr_begin(&r, 142, 15);
	tr_32(&r, fence);
	tr_feed(rec, &r);
	CU_ASSERT(record_lookup(rec, fence)->create[12] == 1);
	/* an alarm on the counter: ChangeAlarm merged into CreateAlarm */
	tr_begin(&r, 142, 8);
	tr_32(&r, TR_BASE | 7);
	tr_32(&r, 0x5);		/* counter, value */
	tr_32(&r, ctr);
	tr_32(&r, 0);
	tr_32(&r, 10);
	tr_feed(rec, &r);
	tr_begin(&r, 142, 9);
	tr_32(&r, TR_BASE | 7);
	tr_32(&r, 0x14);	/* value, delta */
	tr_32(&r, 0);
	tr_32(&r, 20);
	tr_32(&r, 0);
	tr_32(&r, 1);
	tr_feed(rec, &r);
	e = record_lookup(rec, TR_BASE | 7);
	CU_ASSERT_FATAL(e && e->create_len == 32 && !e->mods);
	CU_ASSERT(xlate_get32(e->create + 8) == 0x15);
	CU_ASSERT(xlate_get32(e->create + 12) == ctr);
	CU_ASSERT(xlate_get32(e->create + 20) == 20);
	CU_ASSERT(xlate_get32(e->create + 28) == 1);
	CU_ASSERT(xlate_get16(e->create + 2) == 8);
	/* DAMAGE */
	tr_begin(&r, 143, 1);
	tr_32(&r, dmg);
	tr_32(&r, w);
	tr_8(&r, 3);
	tr_feed(rec, &r);
	/* Composite: redirected, then not */
	tr_begin(&r, 144, 2);
	tr_32(&r, TR_ROOT);
	tr_8(&r, 1);
	tr_feed(rec, &r);
	CU_ASSERT(tr_mods(rec, TR_ROOT) == 2);
	tr_begin(&r, 144, 4);
	tr_32(&r, TR_ROOT);
	tr_8(&r, 1);
	tr_feed(rec, &r);
	CU_ASSERT(tr_mods(rec, TR_ROOT) == 1);
	/* XI2: one mask per device; the client pointer */
	static const guint16 devs[] = { 2, 2, 3 };
	for (guint i = 0; i < G_N_ELEMENTS(devs); i++) {
		tr_begin(&r, 145, 46);
		tr_32(&r, w);
		tr_16(&r, 1);
		tr_16(&r, 0);
		tr_16(&r, devs[i]);
		tr_16(&r, 1);
		tr_32(&r, 0x3c + i);
		tr_feed(rec, &r);
	}
	CU_ASSERT(tr_mods(rec, w) == 4);
	tr_begin(&r, 145, 44);
	tr_32(&r, w);
	tr_16(&r, 2);
	tr_feed(rec, &r);
	/* XKB per-client selections and flags; RANDR on the root */
	tr_begin(&r, 146, 1);
	tr_16(&r, 0x100);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_feed(rec, &r);
	tr_begin(&r, 146, 21);
	tr_16(&r, 0x100);
	tr_16(&r, 0);
	tr_32(&r, 1);
	tr_32(&r, 1);
	tr_32(&r, 0);
	tr_32(&r, 0);
	tr_32(&r, 0);
	tr_feed(rec, &r);
	CU_ASSERT(tr_mods(rec, 0) == 3);
	tr_begin(&r, 147, 4);
	tr_32(&r, TR_ROOT);
	tr_16(&r, 1);
	tr_feed(rec, &r);
	CU_ASSERT(tr_mods(rec, TR_ROOT) == 2);
	/* DOUBLE-BUFFER: allocated and freed */
	tr_begin(&r, 148, 1);
	tr_32(&r, w);
	tr_32(&r, buf);
	tr_8(&r, 1);
	tr_feed(rec, &r);
	CU_ASSERT(record_lookup(rec, buf) != NULL);
	tr_begin(&r, 148, 2);
	tr_32(&r, buf);
	tr_feed(rec, &r);
	CU_ASSERT(record_lookup(rec, buf) == NULL);

	rp = replay_new(rec, NULL);
	/* 6 creations; mods: 2 on the root, 4 on the window, 2 on the
	 * region, 3 global */
	CU_ASSERT(tr_check_order(rp) == 6 + 2 + 4 + 2 + 3);
	for (guint i = 0; i < replay_n_steps(rp); i++) {
		const ReplayStep *s = replay_step(rp, i);
		if (s->data[0] == 140 && s->data[1] == 3)
			CU_ASSERT(s->flags & REPLAY_F_FOREIGN);
		if (s->data[0] >= 128)
			CU_ASSERT(s->phase == REPLAY_CREATE ||
				  s->phase == REPLAY_STATE);
	}

	/* the window goes: its own state with it; the damage and fence
	 * made on it keep it as a zombie until they go */
	tr_one(rec, 4, w);
	CU_ASSERT(record_lookup(rec, w)->flags & REC_F_ZOMBIE);
	tr_begin(&r, 143, 2);
	tr_32(&r, dmg);
	tr_feed(rec, &r);
	CU_ASSERT(record_lookup(rec, w) != NULL);
	tr_begin(&r, 142, 17);
	tr_32(&r, fence);
	tr_feed(rec, &r);
	CU_ASSERT(record_lookup(rec, w) == NULL);
}

/* Memory per recorded resource: windows with a property and a GC each;
 * all of it goes when they are freed. */
static void tr_memory(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	RecordStats st0, st;
	const guint n = 1000;
	const guint32 ev = (1u << 15) | (1u << 17);

	record_stats(rec, &st0);
	for (guint i = 0; i < n; i++) {
		guint32 w = TR_BASE | (2 * i + 1);
		tr_window(rec, w, TR_ROOT, 0, 0, 10, 10, 1u << 11, &ev);
		tr_prop(rec, 0, w, 39, 31, "a window title");
		tr_gc(rec, TR_BASE | (2 * i + 2), w);
	}
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 2 * n);
	fprintf(stderr, "\n  record: %u windows (one 14-byte property each) "
		"+ %u GCs: %zu bytes, %zu per resource\n", n, n,
		st.bytes - st0.bytes, (st.bytes - st0.bytes) / (2 * n));
	for (guint i = 0; i < n; i++) {
		tr_one(rec, 60, TR_BASE | (2 * i + 2));
		tr_one(rec, 4, TR_BASE | (2 * i + 1));
	}
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 0);
	CU_ASSERT(st.bytes == st0.bytes);
}

/* Drawing requests and queries are ignored, and cheaply. */
static void tr_ignored(void)
{
	g_autoptr(XpRecord) rec = tr_rec();
	RecordStats st;
	TrReq r;
	gint64 t0;
	guint n = 1000000;

	tr_begin(&r, 70, 0);	/* PolyFillRectangle */
	tr_32(&r, TR_BASE | 1);
	tr_32(&r, TR_BASE | 2);
	tr_16(&r, 0);
	tr_16(&r, 0);
	tr_16(&r, 5);
	tr_16(&r, 5);
	tr_end(&r);
	t0 = g_get_monotonic_time();
	for (guint i = 0; i < n; i++)
		record_request(rec, proto_core(), 70, r.b, r.n, FALSE, i + 1);
	fprintf(stderr, "\n  record: %.1f ns per ignored request\n",
		(g_get_monotonic_time() - t0) * 1000.0 / n);
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 0 && st.mods == 0 && st.foreign == 0);

	/* recorded changes: ChangeGC (merged into CreateGC) and a
	 * ChangeProperty that replaces the kept one */
	tr_window(rec, TR_BASE | 1, TR_ROOT, 0, 0, 10, 10, 0, NULL);
	tr_gc(rec, TR_BASE | 2, TR_BASE | 1);
	tr_begin(&r, 56, 0);
	tr_32(&r, TR_BASE | 2);
	tr_32(&r, 1u << 2);
	tr_32(&r, 0);
	tr_end(&r);
	n = 200000;
	t0 = g_get_monotonic_time();
	for (guint i = 0; i < n; i++) {
		xlate_put32(r.b + 12, i);
		record_request(rec, proto_core(), 56, r.b, r.n, FALSE, i + 1);
	}
	fprintf(stderr, "  record: %.1f ns per ChangeGC\n",
		(g_get_monotonic_time() - t0) * 1000.0 / n);
	tr_begin(&r, 18, 0);
	tr_32(&r, TR_BASE | 1);
	tr_32(&r, 39);
	tr_32(&r, 31);
	tr_8(&r, 8);
	tr_8(&r, 0);
	tr_16(&r, 0);
	tr_32(&r, 16);
	tr_raw(&r, "a window title..", 16);
	tr_end(&r);
	t0 = g_get_monotonic_time();
	for (guint i = 0; i < n; i++)
		record_request(rec, proto_core(), 18, r.b, r.n, FALSE, i + 1);
	fprintf(stderr, "  record: %.1f ns per ChangeProperty\n",
		(g_get_monotonic_time() - t0) * 1000.0 / n);
	record_stats(rec, &st);
	CU_ASSERT(st.resources == 2 && st.mods == 1);
	CU_ASSERT(xlate_get32(record_lookup(rec, TR_BASE | 2)->create + 16) ==
		  n - 1);
}

/* The tests. */
static CU_TestInfo tr_tests[] = {
	{ "create, reparent, destroy", tr_create_reparent_destroy },
	{ "reparent under a later window", tr_reparent_later },
	{ "created and freed leave the record", tr_created_and_freed },
	{ "zombie cursor and pixmap", tr_zombie_cursor },
	{ "zombie XID reused", tr_zombie_reuse },
	{ "properties coalesced", tr_properties },
	{ "subtree destroy", tr_subtree },
	{ "stacking order", tr_stacking },
	{ "map state, exposures", tr_map_state },
	{ "attributes merged", tr_attributes },
	{ "GC values, clip, CopyGC", tr_gcs },
	{ "RENDER pictures and glyphs", tr_render },
	{ "glyph set depth", tr_glyph_depth },
	{ "failed creation", tr_error },
	{ "atoms and colours", tr_atoms_colors },
	{ "pixmap contents", tr_pixmap_image },
	{ "grabs, selection, focus", tr_grabs_focus },
	{ "extension state", tr_extensions },
	{ "memory per resource", tr_memory },
	{ "ignored requests", tr_ignored },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("record", tr_tests)
