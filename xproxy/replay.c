/*
 * replay.c: the request stream that rebuilds a record (see replay.h).
 *
 * Everything is computed up front into one array of steps, each a request
 * of its own (the caller injects them one by one and may throttle).  The
 * record is only read.  Requests are copied from the record and edited
 * where the replay needs it: a window created before its parent gets the
 * root as parent, a value naming a resource created later is left out of a
 * creation's value list and set afterwards, a placeholder XID becomes the
 * zombie's new XID, and timestamps of SetSelectionOwner and SetInputFocus
 * become CurrentTime (the client's old times mean nothing to another
 * server, and an old time would make the server ignore the request).
 */
#include <string.h>

#include "xproxy/replay.h"
#include "xproxy/xlate.h"

/* The default maximum request length: 65535 words. */
#define REPLAY_MAX_NORMAL (65535u * 4)

/* Core opcodes the replay writes itself. */
enum {
	RP_CREATE_WINDOW = 1,
	RP_CHANGE_WINDOW_ATTRIBUTES = 2,
	RP_DESTROY_WINDOW = 4,
	RP_REPARENT_WINDOW = 7,
	RP_MAP_WINDOW = 8,
	RP_CONFIGURE_WINDOW = 12,
	RP_SET_SELECTION_OWNER = 22,
	RP_SET_INPUT_FOCUS = 42,
	RP_CLOSE_FONT = 46,
	RP_FREE_PIXMAP = 54,
	RP_CREATE_GC = 55,
	RP_CHANGE_GC = 56,
	RP_FREE_GC = 60,
	RP_PUT_IMAGE = 72,
	RP_FREE_COLORMAP = 79,
	RP_FREE_CURSOR = 95,
};

struct XpReplay {
	const XpRecord *rec;	/* the record (only during replay_new()) */
	GArray *steps;		/* ReplayStep */
	GArray *exposes;	/* ReplayExpose */
	GHashTable *ph;		/* placeholder -> XID */
	GHashTable *done;	/* entries created so far (RecRes *) */
	GHashTable *visiting;	/* entries being emitted (pull-forward) */
	gsize max;		/* longest request, bytes */
	guint32 next_free;	/* last free-ID candidate index used */
};

/* How each kind is freed: extension (NULL: core) and opcode; every such
 * request is 8 bytes: opcode(s), length 2, the XID. */
static const struct {
	const char *ext;	/* extension X name, NULL for core */
	guint8 op;		/* opcode */
} replay_free_req[REC_N_KINDS] = {
	[REC_WINDOW] = { NULL, RP_DESTROY_WINDOW },
	[REC_PIXMAP] = { NULL, RP_FREE_PIXMAP },
	[REC_GC] = { NULL, RP_FREE_GC },
	[REC_FONT] = { NULL, RP_CLOSE_FONT },
	[REC_CURSOR] = { NULL, RP_FREE_CURSOR },
	[REC_COLORMAP] = { NULL, RP_FREE_COLORMAP },
	[REC_PICTURE] = { "RENDER", 7 },
	[REC_GLYPHSET] = { "RENDER", 19 },
	[REC_REGION] = { "XFIXES", 10 },
	[REC_COUNTER] = { "SYNC", 6 },
	[REC_ALARM] = { "SYNC", 11 },
	[REC_FENCE] = { "SYNC", 17 },
	[REC_DAMAGE] = { "DAMAGE", 2 },
	[REC_BARRIER] = { "XFIXES", 32 },
	[REC_DBE_BUFFER] = { "DOUBLE-BUFFER", 2 },
};

/* The tables of request BUF (client's major opcode) with its opcode in
 * *OP, or NULL. */
static const ProtoExt *replay_ext(const XpRecord *rec, const guint8 *buf,
				  guint *op)
{
	if (buf[0] < 128) {
		*op = buf[0];
		return proto_core();
	}
	*op = buf[1];
	for (guint i = 0; i < proto_n_exts(); i++) {
		const ProtoExt *ext = proto_ext_nth(i);
		if (record_ext_major(rec, ext) == buf[0])
			return ext;
	}
	return NULL;
}

/* The description of request BUF (client's major opcode), or NULL. */
static const ProtoMsg *replay_msg(const XpRecord *rec, const guint8 *buf)
{
	guint op;
	const ProtoExt *ext = replay_ext(rec, buf, &op);

	return ext ? proto_request(ext, op) : NULL;
}

/* Walker visitor: placeholders to their XIDs (UD is the replay). */
static void replay_ph_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	XpReplay *rp = ud;
	guint32 v = xlate_get32(field);

	if (proto_kind_class(kind) == PROTO_CLASS_XID &&
	    (v & RECORD_PLACEHOLDER_BIT) == RECORD_PLACEHOLDER_BIT)
		xlate_put32(field, GPOINTER_TO_UINT(g_hash_table_lookup(
					   rp->ph, GUINT_TO_POINTER(v))));
}

/* Appends a step: DATA (LEN bytes, taken) in PHASE, for XID. */
static void replay_add(XpReplay *rp, guint8 *data, gsize len, gboolean big,
		       ReplayPhase phase, guint flags, guint32 xid)
{
	guint op;
	const ProtoExt *ext = replay_ext(rp->rec, data, &op);
	const ProtoMsg *msg = ext ? proto_request(ext, op) : NULL;
	ReplayStep s = { data, len, big, phase, flags, xid };

	if (msg) {
		if (g_hash_table_size(rp->ph))
			walk_message(msg, PROTO_REQUEST, data, len, big,
				     replay_ph_visit, rp);
		if (proto_reply(ext, op))
			s.flags |= REPLAY_F_REPLY;
	}
	g_array_append_val(rp->steps, s);
}

/* A free XID of the client's range, from the top down. */
static guint32 replay_free_xid(XpReplay *rp)
{
	guint32 base = record_base(rp->rec), mask = record_mask(rp->rec);
	guint32 inc = mask & -mask;

	for (;;) {
		guint32 id = base | (mask - inc * ++rp->next_free);
		if (!record_lookup(rp->rec, id))
			return id;
	}
}

/* A core request of LEN bytes with opcode OP and DATA byte D1 (zeroed
 * body); its length is set. */
static guint8 *replay_core(guint8 op, guint8 d1, gsize len)
{
	guint8 *b = g_malloc0(len);

	b[0] = op;
	b[1] = d1;
	xlate_put16(b + 2, len / 4);
	return b;
}

/* Unpacks the CARD32-masked value list at MOFF/LOFF of BUF (LEN bytes):
 * mask in *MASK, values by bit in V. */
static void replay_vals(const guint8 *buf, gsize len, guint moff, guint loff,
			guint32 *mask, guint32 v[32])
{
	guint32 m = xlate_get32(buf + moff);
	gsize p = loff;

	*mask = 0;
	for (guint bit = 0; bit < 32; bit++)
		if (m & (1u << bit)) {
			if (p + 4 > len)
				break;
			v[bit] = xlate_get32(buf + p);
			*mask |= 1u << bit;
			p += 4;
		}
}

/* Builds a request: the first LOFF bytes of BUF, mask at MOFF, the values
 * of MASK from V.  Length in *LEN. */
static guint8 *replay_build(const guint8 *buf, guint moff, guint loff,
			    guint32 mask, const guint32 v[32], gsize *len)
{
	guint8 *out;
	guint k = 0;

	*len = loff + 4 * __builtin_popcount(mask);
	out = g_malloc(*len);
	memcpy(out, buf, loff);
	xlate_put32(out + moff, mask);
	for (guint bit = 0; bit < 32; bit++)
		if (mask & (1u << bit))
			xlate_put32(out + loff + 4 * k++, v[bit]);
	xlate_put16(out + 2, *len / 4);
	return out;
}

/* What replay_later_visit() looks for. */
typedef struct {
	XpReplay *rp;		/* the replay */
	const guint8 *buf;	/* the request walked */
	guint32 self;		/* its entry's XID */
	guint loff;		/* where its value list starts */
	guint32 mask;		/* the value list's mask */
	guint32 later;		/* out: bits naming resources not yet made */
} ReplayLater;

/* Walker visitor: marks value-list bits that name an entry of the record
 * not yet created by the replay. */
static void replay_later_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	ReplayLater *l = ud;
	guint32 v = xlate_get32(field);
	gsize off = field - l->buf;
	RecRes *e;

	if (proto_kind_class(kind) != PROTO_CLASS_XID || v <= 1 ||
	    v == l->self || off < l->loff)
		return;
	e = record_lookup(l->rp->rec, v);
	if (!e || e->kind == REC_FOREIGN ||
	    g_hash_table_contains(l->rp->done, e))
		return;
	/* the (off - loff) / 4-th value: its bit is the mask's bit of that
	 * rank */
	guint k = (off - l->loff) / 4;
	for (guint bit = 0; bit < 32; bit++)
		if (l->mask & (1u << bit) && k-- == 0) {
			l->later |= 1u << bit;
			break;
		}
}

/* Deferred values: the change request for entry E's bits DEFER. */
typedef struct {
	RecRes *e;		/* the entry */
	guint8 *req;		/* the change request (owned) */
	gsize len;		/* its length */
} ReplayDeferred;

/* Pushes the pixmap contents of E: a temporary GC, PutImage pieces of
 * whole rows that fit the maximum request, the GC freed. */
static void replay_image(XpReplay *rp, const RecRes *e)
{
	gsize size, stride, rows_per, off = 0;
	const guint8 *img;
	guint w, h, y = 0;
	guint32 gc;
	guint8 *b;

	if (!e->image || !e->create || e->create_len < 16)
		return;
	img = g_bytes_get_data(e->image, &size);
	w = xlate_get16(e->create + 12);
	h = xlate_get16(e->create + 14);
	if (!w || !h || size % h)
		return;
	stride = size / h;
	if (stride % 4 || stride + 24 > rp->max)
		return;
	rows_per = (rp->max - 24) / stride;
	gc = replay_free_xid(rp);
	b = replay_core(RP_CREATE_GC, 0, 16);
	xlate_put32(b + 4, gc);
	xlate_put32(b + 8, e->xid);
	replay_add(rp, b, 16, FALSE, REPLAY_CREATE, 0, e->xid);
	while (y < h) {
		guint n = MIN(rows_per, h - y);
		gsize len = 24 + n * stride;
		b = g_malloc(len);
		b[0] = RP_PUT_IMAGE;
		b[1] = 2;	/* ZPixmap */
		xlate_put16(b + 2, len / 4);
		xlate_put32(b + 4, e->xid);
		xlate_put32(b + 8, gc);
		xlate_put16(b + 12, w);
		xlate_put16(b + 14, n);
		xlate_put16(b + 16, 0);
		xlate_put16(b + 18, y);
		b[20] = 0;
		b[21] = e->depth;
		b[22] = b[23] = 0;
		memcpy(b + 24, img + off, n * stride);
		replay_add(rp, b, len, FALSE, REPLAY_CREATE, 0, e->xid);
		off += n * stride;
		y += n;
	}
	b = replay_core(RP_FREE_GC, 0, 8);
	xlate_put32(b + 4, gc);
	replay_add(rp, b, 8, FALSE, REPLAY_CREATE, 0, e->xid);
}

/* Orders glyphs by ID. */
static gint replay_cmp_glyph(gconstpointer a, gconstpointer b)
{
	guint32 x = (*(RecGlyph *const *)a)->id, y = (*(RecGlyph *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* Pushes the glyphs of glyph set E in AddGlyphs requests that fit. */
static void replay_glyphs(XpReplay *rp, const RecRes *e, guint8 major)
{
	g_autoptr(GPtrArray) gs = NULL;
	GHashTableIter it;
	gpointer v;
	guint i = 0;

	if (!e->glyphs || !g_hash_table_size(e->glyphs))
		return;
	gs = g_ptr_array_new();
	g_hash_table_iter_init(&it, e->glyphs);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(gs, v);
	g_ptr_array_sort(gs, replay_cmp_glyph);
	while (i < gs->len) {
		gsize len = 12, n = 0, p;
		guint j;
		guint8 *b;

		for (j = i; j < gs->len; j++) {
			RecGlyph *g = gs->pdata[j];
			if (n && len + 16 + g->len > rp->max)
				break;
			len += 16 + g->len;
			n++;
		}
		if (len > rp->max)
			return;	/* one glyph too big to send */
		b = g_malloc0(len);
		b[0] = major;
		b[1] = 20;	/* AddGlyphs */
		xlate_put16(b + 2, len / 4);
		xlate_put32(b + 4, e->xid);
		xlate_put32(b + 8, n);
		p = 12 + 16 * n;
		for (guint k = 0; k < n; k++) {
			RecGlyph *g = gs->pdata[i + k];
			xlate_put32(b + 12 + 4 * k, g->id);
			memcpy(b + 12 + 4 * n + 12 * k, g->info, 12);
			memcpy(b + p, g->data, g->len);
			p += g->len;
		}
		replay_add(rp, b, len, FALSE, REPLAY_CREATE, 0, e->xid);
		i = j;
	}
}

/* The value-list layout of E's creation and the change request that sets
 * the same values: FALSE when it has none. */
static gboolean replay_vlist(const RecRes *e, guint *moff, guint *loff,
			     guint8 *chg_op, guint *chg_moff)
{
	if (!e->create || e->create_big)
		return FALSE;
	switch (e->kind) {
	case REC_WINDOW:
		*moff = 28, *loff = 32, *chg_op = RP_CHANGE_WINDOW_ATTRIBUTES;
		break;
	case REC_GC:
		*moff = 12, *loff = 16, *chg_op = RP_CHANGE_GC;
		break;
	case REC_PICTURE:
		if (e->create[1] != 4)
			return FALSE;
		*moff = 16, *loff = 20, *chg_op = 5;	/* ChangePicture */
		break;
	default:
		return FALSE;
	}
	*chg_moff = 8;
	return e->create_len >= *loff;
}

/* The creation of E, split into what can be created now and values to
 * set later (appended to DEFERRED); windows whose parent comes later are
 * created under the root and listed in REPARENT. */
static void replay_create(XpReplay *rp, RecRes *e, GArray *deferred,
			  GPtrArray *reparent)
{
	guint8 *b = g_memdup2(e->create, e->create_len);
	gsize len = e->create_len;
	guint moff, loff, chg_moff, flags = 0;
	guint8 chg_op;

	if (e->kind == REC_WINDOW && len >= 32 && !e->create_big) {
		guint32 parent = xlate_get32(b + 8);
		RecRes *p = record_lookup(rp->rec, parent);
		if (parent != record_root(rp->rec) &&
		    (!p || p->kind == REC_FOREIGN))
			flags |= REPLAY_F_FOREIGN;	/* another's window */
		if (p && p->kind != REC_FOREIGN &&
		    !g_hash_table_contains(rp->done, p)) {
			xlate_put32(b + 8, record_root(rp->rec));
			if (!b[1])
				b[1] = e->depth;
			g_ptr_array_add(reparent, e);
		}
	}
	if (b[0] >= 128) {
		guint op;
		const ProtoExt *ext = replay_ext(rp->rec, b, &op);
		/* Composite NameWindowPixmap needs the window redirected and
		 * mapped: it may fail here (the contents come with the
		 * pixmap's image anyway when it is used elsewhere) */
		if (ext && ext == proto_ext_lookup("Composite") && op == 6)
			flags |= REPLAY_F_MAY_FAIL;
	}
	if (replay_vlist(e, &moff, &loff, &chg_op, &chg_moff)) {
		ReplayLater l = { rp, b, e->xid, loff,
				  xlate_get32(b + moff), 0 };
		const ProtoMsg *msg = replay_msg(rp->rec, b);
		if (msg)
			walk_message(msg, PROTO_REQUEST, b, len, FALSE,
				     replay_later_visit, &l);
		if (l.later) {
			guint32 mask, v[32];
			ReplayDeferred d = { e, NULL, 0 };
			guint8 head[12] = { chg_op, 0, 0, 0 };
			guint8 *nb;
			replay_vals(b, len, moff, loff, &mask, v);
			if (e->kind == REC_PICTURE) {
				head[0] = b[0];
				head[1] = chg_op;
			}
			xlate_put32(head + 4, e->xid);
			d.req = replay_build(head, chg_moff, 12, mask & l.later,
					     v, &d.len);
			g_array_append_val(deferred, d);
			nb = replay_build(b, moff, loff, mask & ~l.later, v,
					  &len);
			g_free(b);
			b = nb;
		}
	}
	replay_add(rp, b, len, e->create_big, REPLAY_CREATE, flags, e->xid);
	g_hash_table_add(rp->done, e);
}

/* What replay_deps_visit() collects. */
typedef struct {
	XpReplay *rp;		/* the replay */
	const guint8 *buf;	/* the request walked */
	guint32 self;		/* its entry's XID */
	gsize fixed_end;	/* fields before this offset are required */
	GPtrArray *deps;	/* out: entries not yet created */
	GArray *required;	/* out: for each, whether it is required */
} ReplayDeps;

/* Walker visitor: the entries a creation names that are not created
 * yet. */
static void replay_deps_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	ReplayDeps *d = ud;
	guint32 v = xlate_get32(field);
	gboolean req;
	RecRes *e;

	if (proto_kind_class(kind) != PROTO_CLASS_XID || v <= 1 ||
	    v == d->self)
		return;
	e = record_lookup(d->rp->rec, v);
	if (!e || e->kind == REC_FOREIGN || !e->create ||
	    g_hash_table_contains(d->rp->done, e))
		return;
	req = (gsize)(field - d->buf) < d->fixed_end;
	g_ptr_array_add(d->deps, e);
	g_array_append_val(d->required, req);
}

/* Emits the creation of E (and its contents), first pulling forward the
 * resources its value list names that come later in creation order (a
 * colormap, cursor or background made after a window, a tile after its
 * GC), when they do not depend on E in turn; what cannot be pulled is set
 * later (replay_create()).  A window's parent is never pulled (see
 * replay_create()).  Returns FALSE, emitting nothing, when a required
 * field names an entry being emitted (a cycle): only for pulled entries. */
static gboolean replay_emit(XpReplay *rp, RecRes *e, GArray *deferred,
			    GPtrArray *reparent, gboolean pulled)
{
	g_autoptr(GPtrArray) deps = g_ptr_array_new();
	g_autoptr(GArray) required = g_array_new(FALSE, FALSE,
						 sizeof(gboolean));
	guint moff, loff, chg_moff;
	guint8 chg_op;
	const ProtoMsg *msg;
	ReplayDeps d = { rp, e->create, e->xid, G_MAXSIZE, deps, required };
	const ProtoExt *render = proto_ext_lookup("RENDER");

	if (g_hash_table_contains(rp->done, e))
		return TRUE;
	if (replay_vlist(e, &moff, &loff, &chg_op, &chg_moff))
		d.fixed_end = loff;
	if (e->kind == REC_WINDOW)
		d.fixed_end = 0;	/* the parent is not pulled */
	msg = replay_msg(rp->rec, e->create);
	if (msg)
		walk_message(msg, PROTO_REQUEST, e->create, e->create_len,
			     e->create_big, replay_deps_visit, &d);
	g_hash_table_add(rp->visiting, e);
	for (guint i = 0; i < deps->len; i++) {
		RecRes *x = deps->pdata[i];
		gboolean req = g_array_index(required, gboolean, i);
		gboolean ok = FALSE;

		if (g_hash_table_contains(rp->done, x))
			continue;
		if (x->kind != REC_WINDOW &&
		    !g_hash_table_contains(rp->visiting, x))
			ok = replay_emit(rp, x, deferred, reparent, TRUE);
		if (!ok && req && pulled) {
			g_hash_table_remove(rp->visiting, e);
			return FALSE;
		}
	}
	g_hash_table_remove(rp->visiting, e);
	replay_create(rp, e, deferred, reparent);
	if (e->kind == REC_PIXMAP)
		replay_image(rp, e);
	else if (e->kind == REC_GLYPHSET && render)
		replay_glyphs(rp, e, record_ext_major(rp->rec, render));
	return TRUE;
}

/* The windows of parent P in the order the replay's creations and
 * reparentings give them (bottom to top), into OUT. */
static void replay_natural(const RecRes *p, GPtrArray *reparented,
			   GPtrArray *out)
{
	g_autoptr(GPtrArray) kids = g_ptr_array_new();

	for (RecRes *c = p->bottom; c; c = c->above)
		if (!g_ptr_array_find(reparented, c, NULL))
			g_ptr_array_add(kids, c);
	/* created in serial order, each on top */
	for (guint i = 0; i < kids->len; i++)
		for (guint j = i + 1; j < kids->len; j++)
			if (((RecRes *)kids->pdata[j])->serial <
			    ((RecRes *)kids->pdata[i])->serial) {
				gpointer t = kids->pdata[i];
				kids->pdata[i] = kids->pdata[j];
				kids->pdata[j] = t;
			}
	for (guint i = 0; i < kids->len; i++)
		g_ptr_array_add(out, kids->pdata[i]);
	/* then the reparented ones, in the order they are reparented */
	for (guint i = 0; i < reparented->len; i++)
		if (((RecRes *)reparented->pdata[i])->parent == p)
			g_ptr_array_add(out, reparented->pdata[i]);
}

/* Phase 2 for parent P: raises its children bottom to top when their
 * order differs from what the replay gives. */
static void replay_stacking(XpReplay *rp, const RecRes *p,
			    GPtrArray *reparented)
{
	g_autoptr(GPtrArray) nat = g_ptr_array_new();
	gboolean same = TRUE;
	guint i = 0;

	replay_natural(p, reparented, nat);
	for (RecRes *c = p->bottom; c; c = c->above, i++)
		if (i >= nat->len || nat->pdata[i] != c)
			same = FALSE;
	if (same)
		return;
	for (RecRes *c = p->bottom; c; c = c->above) {
		guint8 *b = replay_core(RP_CONFIGURE_WINDOW, 0, 16);
		xlate_put32(b + 4, c->xid);
		xlate_put16(b + 8, 1u << 6);	/* stack-mode */
		xlate_put32(b + 12, 0);		/* Above */
		replay_add(rp, b, 16, FALSE, REPLAY_TREE, 0, c->xid);
	}
}

/* A mod with the entry it belongs to. */
typedef struct {
	const RecMod *m;	/* the mod */
	const RecRes *e;	/* its entry */
} ReplayMod;

/* Orders mods by serial. */
static gint replay_cmp_mod(gconstpointer a, gconstpointer b)
{
	guint64 x = ((const ReplayMod *)a)->m->serial;
	guint64 y = ((const ReplayMod *)b)->m->serial;

	return x < y ? -1 : x > y;
}

/* Whether window E and every ancestor up to a foreign entry is mapped. */
static gboolean replay_viewable(const RecRes *e)
{
	for (; e && e->kind == REC_WINDOW; e = e->parent)
		if (!(e->flags & REC_F_MAPPED))
			return FALSE;
	return e != NULL;
}

/* Phase 4 below window E: maps children before parents; notes the
 * windows to expose. */
static void replay_map(XpReplay *rp, const RecRes *e)
{
	for (RecRes *c = e->bottom; c; c = c->above)
		replay_map(rp, c);
	if (e->kind != REC_WINDOW || !(e->flags & REC_F_MAPPED))
		return;
	guint8 *b = replay_core(RP_MAP_WINDOW, 0, 8);
	xlate_put32(b + 4, e->xid);
	replay_add(rp, b, 8, FALSE, REPLAY_MAP, 0, e->xid);
	if (replay_viewable(e) && e->create && e->create_len >= 32 &&
	    e->create[22] != 2) {	/* not InputOnly */
		guint32 mask, v[32];
		replay_vals(e->create, e->create_len, 28, 32, &mask, v);
		if ((mask & (1u << 11)) && (v[11] & (1u << 15))) {
			ReplayExpose x = { e->xid,
					   xlate_get16(e->create + 16),
					   xlate_get16(e->create + 18) };
			g_array_append_val(rp->exposes, x);
		}
	}
}

/* Whether global mod M is a version handshake (phase 0): the global mods
 * with a reply that are extension requests. */
static gboolean replay_is_setup(const RecMod *m)
{
	return m->key >> 32 == RECORD_G_VERSION;
}

/* Phase 3: every retained change, in the order the client made them. */
static void replay_mods(XpReplay *rp, GPtrArray *entries, GArray *deferred,
			const RecMod **focus)
{
	g_autoptr(GArray) mods = g_array_new(FALSE, FALSE, sizeof(ReplayMod));
	const RecRes *glob = record_global(rp->rec);

	for (guint i = 0; i < deferred->len; i++) {
		ReplayDeferred *d = &g_array_index(deferred, ReplayDeferred, i);
		replay_add(rp, d->req, d->len, FALSE, REPLAY_STATE, 0,
			   d->e->xid);
	}
	for (guint i = 0; i <= entries->len; i++) {
		const RecRes *e = i < entries->len ? entries->pdata[i] : glob;
		for (guint j = 0; e->mods && j < e->mods->len; j++) {
			if (e == glob && replay_is_setup(e->mods->pdata[j]))
				continue;
			ReplayMod rm = { e->mods->pdata[j], e };
			g_array_append_val(mods, rm);
		}
	}
	g_array_sort(mods, replay_cmp_mod);
	for (guint i = 0; i < mods->len; i++) {
		ReplayMod *rm = &g_array_index(mods, ReplayMod, i);
		const RecMod *m = rm->m;
		guint flags = rm->e->kind == REC_FOREIGN ? REPLAY_F_FOREIGN : 0;
		guint8 *b;

		if (m->data[0] == RP_SET_INPUT_FOCUS) {
			*focus = m;
			continue;
		}
		b = g_memdup2(m->data, m->len);
		if (b[0] == RP_SET_SELECTION_OWNER && m->len >= 16)
			xlate_put32(b + 12, 0);	/* CurrentTime */
		replay_add(rp, b, m->len, m->big, REPLAY_STATE, flags,
			   rm->e->xid);
	}
}

/* Computes the replay. */
XpReplay *replay_new(const XpRecord *rec, const ReplayParams *params)
{
	XpReplay *rp = g_new0(XpReplay, 1);
	g_autoptr(GPtrArray) entries = record_entries(rec);
	g_autoptr(GArray) deferred = g_array_new(FALSE, FALSE,
						 sizeof(ReplayDeferred));
	g_autoptr(GPtrArray) reparent = g_ptr_array_new();
	const RecMod *focus = NULL;

	rp->rec = rec;
	rp->steps = g_array_new(FALSE, FALSE, sizeof(ReplayStep));
	rp->exposes = g_array_new(FALSE, FALSE, sizeof(ReplayExpose));
	rp->ph = g_hash_table_new(NULL, NULL);
	rp->done = g_hash_table_new(NULL, NULL);
	rp->visiting = g_hash_table_new(NULL, NULL);
	rp->max = params && params->max_request_bytes ?
			  params->max_request_bytes : REPLAY_MAX_NORMAL;

	/* zombies renamed to placeholders get free XIDs */
	for (guint i = 0; i < entries->len; i++) {
		RecRes *e = entries->pdata[i];
		if ((e->xid & RECORD_PLACEHOLDER_BIT) == RECORD_PLACEHOLDER_BIT)
			g_hash_table_insert(rp->ph, GUINT_TO_POINTER(e->xid),
					    GUINT_TO_POINTER(
						    replay_free_xid(rp)));
	}

	/* 0. version handshakes, in the client's order */
	{
		const RecRes *g = record_global(rec);
		g_autoptr(GArray) vs = g_array_new(FALSE, FALSE,
						   sizeof(ReplayMod));
		for (guint j = 0; g->mods && j < g->mods->len; j++) {
			ReplayMod rm = { g->mods->pdata[j], g };
			if (replay_is_setup(rm.m))
				g_array_append_val(vs, rm);
		}
		g_array_sort(vs, replay_cmp_mod);
		for (guint j = 0; j < vs->len; j++) {
			const RecMod *m = g_array_index(vs, ReplayMod, j).m;
			replay_add(rp, g_memdup2(m->data, m->len), m->len,
				   m->big, REPLAY_SETUP, 0, 0);
		}
	}

	/* 1. creations, in creation order */
	for (guint i = 0; i < entries->len; i++) {
		RecRes *e = entries->pdata[i];
		if (e->kind != REC_FOREIGN && e->create)
			replay_emit(rp, e, deferred, reparent, FALSE);
	}

	/* 2. the tree: reparenting, then stacking */
	for (guint i = 0; i < reparent->len; i++) {
		RecRes *e = reparent->pdata[i];
		guint8 *b = replay_core(RP_REPARENT_WINDOW, 0, 16);
		xlate_put32(b + 4, e->xid);
		xlate_put32(b + 8, e->parent->xid);
		memcpy(b + 12, e->create + 12, 4);
		replay_add(rp, b, 16, FALSE, REPLAY_TREE, 0, e->xid);
	}
	for (guint i = 0; i < entries->len; i++) {
		RecRes *e = entries->pdata[i];
		if ((e->kind == REC_WINDOW || e->kind == REC_FOREIGN) &&
		    e->bottom && e->bottom != e->top)
			replay_stacking(rp, e, reparent);
	}

	/* 3. retained changes */
	replay_mods(rp, entries, deferred, &focus);

	/* 4. mapping, from the top-levels down */
	for (guint i = 0; i < entries->len; i++) {
		RecRes *e = entries->pdata[i];
		if (e->kind == REC_FOREIGN)
			replay_map(rp, e);
	}

	/* 5. the focus */
	if (focus) {
		guint8 *b = g_memdup2(focus->data, focus->len);
		if (focus->len >= 12)
			xlate_put32(b + 8, 0);	/* CurrentTime */
		replay_add(rp, b, focus->len, FALSE, REPLAY_FOCUS,
			   REPLAY_F_MAY_FAIL, 0);
	}

	/* 6. zombies freed again, newest first */
	for (guint i = entries->len; i-- > 0;) {
		RecRes *e = entries->pdata[i];
		const ProtoExt *ext;
		guint8 *b;
		if (!(e->flags & REC_F_ZOMBIE) || e->kind >= REC_N_KINDS ||
		    !replay_free_req[e->kind].op)
			continue;
		b = replay_core(replay_free_req[e->kind].op, 0, 8);
		if (replay_free_req[e->kind].ext) {
			ext = proto_ext_lookup(replay_free_req[e->kind].ext);
			b[1] = b[0];
			b[0] = ext ? record_ext_major(rec, ext) : 0;
		}
		xlate_put32(b + 4, e->xid);
		replay_add(rp, b, 8, FALSE, REPLAY_FREE, 0, e->xid);
	}

	g_hash_table_unref(rp->done);
	g_hash_table_unref(rp->visiting);
	rp->done = rp->visiting = NULL;
	rp->rec = NULL;
	return rp;
}

/* Frees a replay. */
void replay_free(XpReplay *rp)
{
	if (!rp)
		return;
	for (guint i = 0; i < rp->steps->len; i++)
		g_free(g_array_index(rp->steps, ReplayStep, i).data);
	g_array_unref(rp->steps);
	g_array_unref(rp->exposes);
	g_hash_table_unref(rp->ph);
	g_free(rp);
}

/* The number of steps. */
guint replay_n_steps(const XpReplay *rp)
{
	return rp->steps->len;
}

/* The I-th step. */
const ReplayStep *replay_step(const XpReplay *rp, guint i)
{
	return i < rp->steps->len ? &g_array_index(rp->steps, ReplayStep, i) :
				    NULL;
}

/* The windows to expose. */
const ReplayExpose *replay_exposures(const XpReplay *rp, guint *n)
{
	*n = rp->exposes->len;
	return (const ReplayExpose *)rp->exposes->data;
}

/* The XID a placeholder got. */
guint32 replay_placeholder_xid(const XpReplay *rp, guint32 ph)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(rp->ph,
						    GUINT_TO_POINTER(ph)));
}

/* A phase's name. */
const char *replay_phase_name(ReplayPhase phase)
{
	static const char *const names[REPLAY_N_PHASES] = {
		"setup", "create", "tree", "state", "map", "focus", "free"
	};

	return phase < REPLAY_N_PHASES ? names[phase] : "?";
}
