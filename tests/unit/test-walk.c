/*
 * test-walk.c: the generated protocol tables and the generic walker, on
 * canned wire packets.
 *
 * Each packet is built twice by the same builder: once as the client or
 * server sends it, once with every translated value already mapped through
 * a non-identity map (XIDs + 0x1000000, atoms + 1000, timestamps + 500000,
 * server IDs + 0x20000).  The walker runs over the first with a visitor that
 * applies the map; the result must equal the second byte for byte (so no
 * field was missed and no other byte changed), and the kinds visited must
 * be exactly the ones the builder wrote, in wire order.
 */
#include <string.h>
#include <glib.h>

#include "tests/unit/unit.h"
#include "xproxy/proto.h"

#define TW_MAX 4096
#define TW_MAX_KINDS 128
#define TW_RENDER_MAJOR 139	/* any major opcode: the walker ignores it */

/* A packet being built. */
typedef struct {
	guint8 b[TW_MAX];		/* the bytes */
	gsize n;			/* bytes written */
	gboolean mapped;		/* write translated values mapped */
	ProtoKind kinds[TW_MAX_KINDS];	/* kinds written, in order */
	guint nk;			/* entries in kinds */
} TwPkt;

/* What the visitor saw. */
typedef struct {
	ProtoKind kinds[TW_MAX_KINDS];	/* kinds visited, in order */
	guint n;			/* entries in kinds */
	const guint8 *buf;		/* the walked buffer */
	gsize len;			/* its length */
	gboolean out_of_bounds;		/* a field pointer left the buffer */
} TwVisits;

/* The non-identity map the tests use: returns V as translated. */
static guint32 tw_map(ProtoKind kind, guint32 v)
{
	switch (proto_kind_class(kind)) {
	case PROTO_CLASS_XID:
		return v + 0x1000000;
	case PROTO_CLASS_ATOM:
		return v + 1000;
	case PROTO_CLASS_TIME:
		return v + 500000;
	case PROTO_CLASS_SERVER_ID:
		return v + 0x20000;
	default:
		return v ^ 0xdeadbeef;	/* never expected */
	}
}

/* Returns the LSB-first CARD32 at P. */
static guint32 tw_get32(const guint8 *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (guint32)p[3] << 24;
}

/* Stores V LSB-first at P. */
static void tw_put32(guint8 *p, guint32 v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* The visitor: maps the field, records its kind, checks its bounds. */
static void tw_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	TwVisits *v = ud;

	if (field < v->buf || field + 4 > v->buf + v->len)
		v->out_of_bounds = TRUE;
	else
		tw_put32(field, tw_map(kind, tw_get32(field)));
	if (v->n < TW_MAX_KINDS)
		v->kinds[v->n++] = kind;
}

/* Appends byte V. */
static void tw_p8(TwPkt *p, guint v)
{
	p->b[p->n++] = v;
}

/* Appends V as a LSB-first CARD16. */
static void tw_p16(TwPkt *p, guint v)
{
	tw_p8(p, v & 0xff);
	tw_p8(p, v >> 8);
}

/* Appends V as a LSB-first CARD32. */
static void tw_p32(TwPkt *p, guint32 v)
{
	tw_put32(p->b + p->n, v);
	p->n += 4;
}

/* Appends N zero bytes. */
static void tw_ppad(TwPkt *p, guint n)
{
	while (n--)
		tw_p8(p, 0);
}

/* Writes a translated value of KIND (mapped in the expected packet). */
static void tw_pid(TwPkt *p, ProtoKind kind, guint32 v)
{
	tw_p32(p, p->mapped ? tw_map(kind, v) : v);
	g_assert(p->nk < TW_MAX_KINDS);
	p->kinds[p->nk++] = kind;
}

/* Sets a request's length field (BIG: the BIG-REQUESTS form). */
static void tw_req_len(TwPkt *p, gboolean big)
{
	g_assert(p->n % 4 == 0);
	if (big) {
		p->b[2] = p->b[3] = 0;
		tw_put32(p->b + 4, p->n / 4);
	} else {
		p->b[2] = (p->n / 4) & 0xff;
		p->b[3] = (p->n / 4) >> 8;
	}
}

/* Sets a reply's or Generic Event's length field. */
static void tw_ext_len(TwPkt *p)
{
	while (p->n < 32)
		tw_p8(p, 0);
	g_assert(p->n % 4 == 0);
	tw_put32(p->b + 4, (p->n - 32) / 4);
}

/* Builds a packet into P (P->mapped says which version). */
typedef void (*TwBuild)(TwPkt *p);

/* Walks the packet of BUILD as MSG in direction DIR and checks the result
 * against the mapped version, byte for byte and kind for kind. */
static void tw_check(const ProtoMsg *msg, ProtoDir dir, gboolean big,
		       TwBuild build)
{
	g_autofree TwPkt *in = g_new0(TwPkt, 1);
	g_autofree TwPkt *want = g_new0(TwPkt, 1);
	TwVisits v = { 0 };
	ProtoWalkResult r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	build(in);
	want->mapped = TRUE;
	build(want);
	CU_ASSERT_EQUAL_FATAL(in->n, want->n);
	/* An exact-size heap copy, so that any overrun is caught by ASan or
	 * valgrind. */
	g_autofree guint8 *buf = g_memdup2(in->b, in->n);
	v.buf = buf;
	v.len = in->n;
	r = walk_message(msg, dir, buf, in->n, big, tw_visit, &v);
	CU_ASSERT_EQUAL(r, PROTO_WALK_OK);
	CU_ASSERT_FALSE(v.out_of_bounds);
	CU_ASSERT_EQUAL(v.n, in->nk);
	for (guint i = 0; i < v.n && i < in->nk; i++)
		CU_ASSERT_EQUAL(v.kinds[i], in->kinds[i]);
	CU_ASSERT(memcmp(buf, want->b, in->n) == 0);
	if (memcmp(buf, want->b, in->n) != 0 || v.n != in->nk) {
		for (gsize i = 0; i < in->n; i++)
			if (buf[i] != want->b[i])
				fprintf(stderr, "\n  %s: byte %zu is 0x%02x, "
					"want 0x%02x", proto_msg_name(msg), i,
					buf[i], want->b[i]);
		fprintf(stderr, "\n  %s: %u visits, want %u\n",
			proto_msg_name(msg), v.n, in->nk);
	}
}

/* Walks BUILD's packet cut to LEN bytes and returns the result. */
static ProtoWalkResult tw_walk_cut(const ProtoMsg *msg, ProtoDir dir,
				     gboolean big, TwBuild build, gsize cut)
{
	g_autofree TwPkt *in = g_new0(TwPkt, 1);
	TwVisits v = { 0 };
	ProtoWalkResult r;

	build(in);
	g_assert(cut <= in->n);
	g_autofree guint8 *buf = g_memdup2(in->b, cut ? cut : 1);
	v.buf = buf;
	v.len = cut;
	r = walk_message(msg, dir, buf, cut, big, tw_visit, &v);
	CU_ASSERT_FALSE(v.out_of_bounds);
	return r;
}

/* Returns the tables of extension NAME (asserted to exist). */
static const ProtoExt *tw_ext(const char *name)
{
	const ProtoExt *ext = proto_ext_lookup(name);

	g_assert(ext);
	return ext;
}

/* ---- requests ---------------------------------------------------------- */

/* CreateWindow with background and border pixmaps, colormap and cursor in
 * its value list (and untranslated values in between). */
static void tw_build_create_window(TwPkt *p)
{
	tw_p8(p, 1);
	tw_p8(p, 24);			/* depth */
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);	/* wid */
	tw_pid(p, PROTO_K_WINDOW, 0x000123);	/* parent */
	tw_p16(p, 10);
	tw_p16(p, 20);
	tw_p16(p, 300);
	tw_p16(p, 200);
	tw_p16(p, 1);			/* border width */
	tw_p16(p, 1);			/* InputOutput */
	tw_pid(p, PROTO_K_VISUALID, 0x21);
	tw_p32(p, 0x1 | 0x2 | 0x4 | 0x10 | 0x800 | 0x2000 | 0x4000);
	tw_pid(p, PROTO_K_PIXMAP, 0x200002);	/* BackPixmap */
	tw_p32(p, 0xffffff);			/* BackPixel */
	tw_pid(p, PROTO_K_PIXMAP, 0x200003);	/* BorderPixmap */
	tw_p32(p, 1);				/* BitGravity */
	tw_p32(p, 0x28001);			/* EventMask */
	tw_pid(p, PROTO_K_COLORMAP, 0x200004);	/* Colormap */
	tw_pid(p, PROTO_K_CURSOR, 0x200005);	/* Cursor */
	tw_req_len(p, FALSE);
}

/* CreateWindow: header fields and value list mapped, nothing else touched. */
static void test_create_window(void)
{
	tw_check(proto_request(proto_core(), 1), PROTO_REQUEST, FALSE,
		   tw_build_create_window);
	CU_ASSERT_STRING_EQUAL(proto_msg_name(proto_request(proto_core(), 1)),
			       "CreateWindow");
}

/* The value list says 7 values; every shorter buffer must be refused. */
static void test_create_window_truncated(void)
{
	const ProtoMsg *m = proto_request(proto_core(), 1);
	g_autofree TwPkt *in = g_new0(TwPkt, 1);

	tw_build_create_window(in);
	for (gsize cut = 0; cut < in->n; cut += 4)
		CU_ASSERT_EQUAL(tw_walk_cut(m, PROTO_REQUEST, FALSE,
					      tw_build_create_window, cut),
				PROTO_WALK_BAD_LENGTH);
}

/* ChangeWindowAttributes: event mask (not an ID), colormap, cursor None. */
static void tw_build_change_window_attributes(TwPkt *p)
{
	tw_p8(p, 2);
	tw_p8(p, 0);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_p32(p, 0x800 | 0x2000 | 0x4000);	/* EventMask Colormap Cursor */
	tw_p32(p, 0x20000);
	tw_pid(p, PROTO_K_COLORMAP, 0x20);
	tw_pid(p, PROTO_K_CURSOR, 0);
	tw_req_len(p, FALSE);
}

/* ChangeWindowAttributes through the value-list op. */
static void test_change_window_attributes(void)
{
	tw_check(proto_request(proto_core(), 2), PROTO_REQUEST, FALSE,
		   tw_build_change_window_attributes);
}

/* CreateGC: pixmaps and a font in the value list, and a mask bit the
 * protocol does not define (no value on the wire for it). */
static void tw_build_create_gc(TwPkt *p)
{
	tw_p8(p, 55);
	tw_p8(p, 0);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_GCONTEXT, 0x200001);
	tw_pid(p, PROTO_K_DRAWABLE, 0x123);
	tw_p32(p, 0x4 | 0x400 | 0x4000 | 0x80000 | 0x400000 | 0x40000000);
	tw_p32(p, 0xff0000);			/* Foreground */
	tw_pid(p, PROTO_K_PIXMAP, 0x200002);	/* Tile */
	tw_pid(p, PROTO_K_FONT, 0x200003);		/* Font */
	tw_pid(p, PROTO_K_PIXMAP, 0x200004);	/* ClipMask */
	tw_p32(p, 1);				/* ArcMode */
	tw_req_len(p, FALSE);
}

/* CreateGC: IDs in the value list, an undefined mask bit ignored. */
static void test_create_gc(void)
{
	tw_check(proto_request(proto_core(), 55), PROTO_REQUEST, FALSE,
		   tw_build_create_gc);
}

/* ConfigureWindow: a 16-bit mask, the sibling window among plain values. */
static void tw_build_configure_window(TwPkt *p)
{
	tw_p8(p, 12);
	tw_p8(p, 0);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_p16(p, 0x1 | 0x4 | 0x20 | 0x40);
	tw_ppad(p, 2);
	tw_p32(p, (guint32)-5);			/* x */
	tw_p32(p, 640);				/* width */
	tw_pid(p, PROTO_K_WINDOW, 0x200009);	/* sibling */
	tw_p32(p, 0);				/* Above */
	tw_req_len(p, FALSE);
}

/* ConfigureWindow: the 16-bit mask selects the sibling among plain values. */
static void test_configure_window(void)
{
	tw_check(proto_request(proto_core(), 12), PROTO_REQUEST, FALSE,
		   tw_build_configure_window);
}

/* PolyFillRectangle: drawable, gc, three rectangles. */
static void tw_build_poly_fill_rectangle(TwPkt *p)
{
	tw_p8(p, 70);
	tw_p8(p, 0);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_DRAWABLE, 0x200001);
	tw_pid(p, PROTO_K_GCONTEXT, 0x200002);
	for (int i = 0; i < 3; i++) {
		tw_p16(p, i);
		tw_p16(p, 2 * i);
		tw_p16(p, 10);
		tw_p16(p, 10);
	}
	tw_req_len(p, FALSE);
}

/* PolyFillRectangle: the IDs mapped, the rectangles untouched. */
static void test_poly_fill_rectangle(void)
{
	tw_check(proto_request(proto_core(), 70), PROTO_REQUEST, FALSE,
		   tw_build_poly_fill_rectangle);
}

/* ChangeProperty: window, property and type; the data is a hook's. */
static void tw_build_change_property(TwPkt *p)
{
	tw_p8(p, 18);
	tw_p8(p, 0);			/* Replace */
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_pid(p, PROTO_K_ATOM, 39);	/* WM_NAME */
	tw_pid(p, PROTO_K_ATOM, 31);	/* STRING */
	tw_p8(p, 8);
	tw_ppad(p, 3);
	tw_p32(p, 5);
	tw_p32(p, 0x6c6c6568);		/* "hello" */
	tw_p32(p, 0x6f);
	tw_req_len(p, FALSE);
}

/* ChangeProperty: window and both atoms mapped, the data left to the hook. */
static void test_change_property(void)
{
	tw_check(proto_request(proto_core(), 18), PROTO_REQUEST, FALSE,
		   tw_build_change_property);
}

/* Appends a RENDER request header for MINOR (length set later). */
static void tw_render_hdr(TwPkt *p, guint minor)
{
	tw_p8(p, TW_RENDER_MAJOR);
	tw_p8(p, minor);
	tw_p16(p, 0);
}

/* RENDER Composite: three pictures. */
static void tw_build_render_composite(TwPkt *p)
{
	tw_render_hdr(p, 8);
	tw_p8(p, 3);			/* Over */
	tw_ppad(p, 3);
	tw_pid(p, PROTO_K_PICTURE, 0x200001);
	tw_pid(p, PROTO_K_PICTURE, 0);	/* mask None: still mapped here */
	tw_pid(p, PROTO_K_PICTURE, 0x200003);
	for (int i = 0; i < 8; i++)
		tw_p16(p, 100 + i);
	tw_req_len(p, FALSE);
}

/* RENDER CreateGlyphSet: glyph set and picture format. */
static void tw_build_render_create_glyph_set(TwPkt *p)
{
	tw_render_hdr(p, 17);
	tw_pid(p, PROTO_K_GLYPHSET, 0x200010);
	tw_pid(p, PROTO_K_PICTFORMAT, 0x25);
	tw_req_len(p, FALSE);
}

/* RENDER AddGlyphs: the glyph set; glyph IDs, infos and images are not IDs. */
static void tw_build_render_add_glyphs(TwPkt *p)
{
	tw_render_hdr(p, 20);
	tw_pid(p, PROTO_K_GLYPHSET, 0x200010);
	tw_p32(p, 2);			/* glyphs_len */
	tw_p32(p, 65);			/* glyph ids: not translated */
	tw_p32(p, 66);
	for (int i = 0; i < 2; i++) {	/* GLYPHINFO */
		tw_p16(p, 8);
		tw_p16(p, 12);
		tw_p16(p, 0);
		tw_p16(p, 10);
		tw_p16(p, 9);
		tw_p16(p, 0);
	}
	for (int i = 0; i < 8; i++)
		tw_p32(p, 0x11111111 * i);	/* image data */
	tw_req_len(p, FALSE);
}

/* RENDER CompositeGlyphs32: pictures, format, glyph set, one glyph item. */
static void tw_build_render_composite_glyphs32(TwPkt *p)
{
	tw_render_hdr(p, 25);
	tw_p8(p, 3);
	tw_ppad(p, 3);
	tw_pid(p, PROTO_K_PICTURE, 0x200001);
	tw_pid(p, PROTO_K_PICTURE, 0x200002);
	tw_pid(p, PROTO_K_PICTFORMAT, 0x25);
	tw_pid(p, PROTO_K_GLYPHSET, 0x200010);
	tw_p16(p, 5);
	tw_p16(p, 6);
	tw_p8(p, 2);			/* GLYPHELT32: 2 glyphs */
	tw_ppad(p, 3);
	tw_p16(p, 10);
	tw_p16(p, 20);
	tw_p32(p, 65);
	tw_p32(p, 66);
	tw_req_len(p, FALSE);
}

/* RENDER Trapezoids: pictures and format, two trapezoids. */
static void tw_build_render_trapezoids(TwPkt *p)
{
	tw_render_hdr(p, 10);
	tw_p8(p, 3);
	tw_ppad(p, 3);
	tw_pid(p, PROTO_K_PICTURE, 0x200001);
	tw_pid(p, PROTO_K_PICTURE, 0x200002);
	tw_pid(p, PROTO_K_PICTFORMAT, 0x26);
	tw_p16(p, 1);
	tw_p16(p, 2);
	for (int t = 0; t < 2; t++)	/* two TRAPEZOIDs of 40 bytes */
		for (int i = 0; i < 10; i++)
			tw_p32(p, (t + 1) << 16 | i);
	tw_req_len(p, FALSE);
}

/* The RENDER requests above. */
static void test_render_requests(void)
{
	const ProtoExt *r = tw_ext("RENDER");

	tw_check(proto_request(r, 8), PROTO_REQUEST, FALSE,
		   tw_build_render_composite);
	tw_check(proto_request(r, 17), PROTO_REQUEST, FALSE,
		   tw_build_render_create_glyph_set);
	tw_check(proto_request(r, 20), PROTO_REQUEST, FALSE,
		   tw_build_render_add_glyphs);
	tw_check(proto_request(r, 25), PROTO_REQUEST, FALSE,
		   tw_build_render_composite_glyphs32);
	tw_check(proto_request(r, 10), PROTO_REQUEST, FALSE,
		   tw_build_render_trapezoids);
}

/* XFIXES CreateRegion: the region, two rectangles. */
static void tw_build_xfixes_create_region(TwPkt *p)
{
	tw_p8(p, 140);
	tw_p8(p, 5);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_REGION, 0x200020);
	for (int i = 0; i < 2; i++) {
		tw_p16(p, i);
		tw_p16(p, i);
		tw_p16(p, 5);
		tw_p16(p, 5);
	}
	tw_req_len(p, FALSE);
}

/* XFIXES CreateRegion: the region mapped, rectangles untouched. */
static void test_xfixes_create_region(void)
{
	tw_check(proto_request(tw_ext("XFIXES"), 5), PROTO_REQUEST, FALSE,
		   tw_build_xfixes_create_region);
}

/* SYNC CreateAlarm: Counter, Value (8 bytes), TestType, Events. */
static void tw_build_sync_create_alarm(TwPkt *p)
{
	tw_p8(p, 141);
	tw_p8(p, 8);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_ALARM, 0x200030);
	tw_p32(p, 0x1 | 0x4 | 0x8 | 0x20);
	tw_pid(p, PROTO_K_COUNTER, 0x200031);
	tw_p32(p, 0);			/* value hi */
	tw_p32(p, 1000);			/* value lo */
	tw_p32(p, 2);			/* PositiveComparison */
	tw_p32(p, 1);			/* events */
	tw_req_len(p, FALSE);
}

/* SYNC CreateAlarm: bitcases of 4 and 8 bytes, the counter mapped. */
static void test_sync_create_alarm(void)
{
	tw_check(proto_request(tw_ext("SYNC"), 8), PROTO_REQUEST, FALSE,
		   tw_build_sync_create_alarm);
}

/* XISelectEvents with two masks of different lengths. */
static void tw_build_xi_select_events(TwPkt *p)
{
	tw_p8(p, 131);
	tw_p8(p, 46);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_p16(p, 2);			/* num_mask */
	tw_ppad(p, 2);
	tw_p16(p, 2);			/* deviceid */
	tw_p16(p, 1);			/* mask_len */
	tw_p32(p, 0x0001c070);
	tw_p16(p, 3);
	tw_p16(p, 2);
	tw_p32(p, 0xfffffffe);
	tw_p32(p, 0x00000003);
	tw_req_len(p, FALSE);
}

/* XISelectEvents: the window mapped, the masks untouched. */
static void test_xi_select_events(void)
{
	tw_check(proto_request(tw_ext("XInputExtension"), 46),
		   PROTO_REQUEST, FALSE, tw_build_xi_select_events);
}

/* PutImage in the BIG-REQUESTS form: every field 4 bytes further on. */
static void tw_build_big_put_image(TwPkt *p)
{
	tw_p8(p, 72);
	tw_p8(p, 2);			/* ZPixmap */
	tw_p16(p, 0);
	tw_p32(p, 0);			/* the big length */
	tw_pid(p, PROTO_K_DRAWABLE, 0x200001);
	tw_pid(p, PROTO_K_GCONTEXT, 0x200002);
	tw_p16(p, 4);
	tw_p16(p, 4);
	tw_p16(p, 0);
	tw_p16(p, 0);
	tw_p8(p, 0);
	tw_p8(p, 24);
	tw_ppad(p, 2);
	for (int i = 0; i < 16; i++)
		tw_p32(p, 0x00ff00ff ^ i);
	tw_req_len(p, TRUE);
}

/* The same request in the normal form. */
static void tw_build_put_image(TwPkt *p)
{
	tw_build_big_put_image(p);
	memmove(p->b + 4, p->b + 8, p->n - 8);
	p->n -= 4;
	tw_req_len(p, FALSE);
}

/* CreateWindow in the BIG-REQUESTS form (a value list after the shift). */
static void tw_build_big_create_window(TwPkt *p)
{
	TwPkt *tmp = g_new0(TwPkt, 1);

	tmp->mapped = p->mapped;
	tw_build_create_window(tmp);
	memcpy(p->b, tmp->b, 4);
	memcpy(p->b + 8, tmp->b + 4, tmp->n - 4);
	p->n = tmp->n + 4;
	memcpy(p->kinds, tmp->kinds, sizeof(p->kinds));
	p->nk = tmp->nk;
	tw_req_len(p, TRUE);
	g_free(tmp);
}

/* BIG-REQUESTS: PutImage and CreateWindow in the big form, cuts. */
static void test_big_requests(void)
{
	const ProtoMsg *put = proto_request(proto_core(), 72);

	tw_check(put, PROTO_REQUEST, TRUE, tw_build_big_put_image);
	tw_check(put, PROTO_REQUEST, FALSE, tw_build_put_image);
	tw_check(proto_request(proto_core(), 1), PROTO_REQUEST, TRUE,
		   tw_build_big_create_window);
	/* Cut into the big header or the shifted fixed part. */
	CU_ASSERT_EQUAL(tw_walk_cut(put, PROTO_REQUEST, TRUE,
				      tw_build_big_put_image, 24),
			PROTO_WALK_BAD_LENGTH);
	CU_ASSERT_EQUAL(tw_walk_cut(put, PROTO_REQUEST, TRUE,
				      tw_build_big_put_image, 28),
			PROTO_WALK_OK);
}

/* Writes a FONT most significant byte first (PolyText's font shift). */
static void tw_pid_msb(TwPkt *p, guint32 v)
{
	guint32 m = p->mapped ? tw_map(PROTO_K_FONT, v) : v;

	for (int i = 3; i >= 0; i--)
		tw_p8(p, m >> (8 * i));
	p->kinds[p->nk++] = PROTO_K_FONT;
}

/* PolyText8: two strings around a font shift, then padding. */
static void tw_build_poly_text8(TwPkt *p)
{
	tw_p8(p, 74);
	tw_p8(p, 0);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_DRAWABLE, 0x200001);
	tw_pid(p, PROTO_K_GCONTEXT, 0x200002);
	tw_p16(p, 10);
	tw_p16(p, 20);
	tw_p8(p, 3);			/* "abc", delta 5 */
	tw_p8(p, 5);
	tw_p8(p, 'a');
	tw_p8(p, 'b');
	tw_p8(p, 'c');
	tw_p8(p, 255);			/* font shift */
	tw_pid_msb(p, 0x200005);
	tw_p8(p, 2);
	tw_p8(p, 0);
	tw_p8(p, 255);			/* a character 255, not a shift */
	tw_p8(p, 'y');
	tw_ppad(p, 2);
	tw_req_len(p, FALSE);
}

/* RENDER CompositeGlyphs32: glyphs, a glyph-set switch, glyphs. */
static void tw_build_composite_glyphs32_switch(TwPkt *p)
{
	tw_build_render_composite_glyphs32(p);	/* one item of 2 glyphs */
	tw_p8(p, 255);			/* switch */
	tw_ppad(p, 3);
	tw_p16(p, 0);
	tw_p16(p, 0);
	tw_pid(p, PROTO_K_GLYPHSET, 0x200011);
	tw_p8(p, 1);			/* 1 glyph */
	tw_ppad(p, 3);
	tw_p16(p, 7);
	tw_p16(p, 8);
	tw_p32(p, 255);			/* glyph 255, not a switch */
	tw_req_len(p, FALSE);
}

/* Walks BUILD's packet as MSG, then its items with HELPER from OFF, and
 * checks the bytes and kinds as tw_check does. */
static void tw_check_items(const ProtoMsg *msg, TwBuild build,
			     ProtoWalkResult (*helper)(guint8 *, gsize, gsize,
						       guint, ProtoVisitFn,
						       gpointer),
			     gsize off, guint size)
{
	g_autofree TwPkt *in = g_new0(TwPkt, 1);
	g_autofree TwPkt *want = g_new0(TwPkt, 1);
	TwVisits v = { 0 };

	build(in);
	want->mapped = TRUE;
	build(want);
	g_autofree guint8 *buf = g_memdup2(in->b, in->n);
	v.buf = buf;
	v.len = in->n;
	CU_ASSERT_EQUAL(walk_message(msg, PROTO_REQUEST, buf, in->n, FALSE,
				     tw_visit, &v), PROTO_WALK_OK);
	CU_ASSERT_EQUAL(helper(buf, in->n, off, size, tw_visit, &v),
			PROTO_WALK_OK);
	CU_ASSERT_EQUAL(v.n, in->nk);
	for (guint i = 0; i < v.n && i < in->nk; i++)
		CU_ASSERT_EQUAL(v.kinds[i], in->kinds[i]);
	CU_ASSERT(memcmp(buf, want->b, in->n) == 0);
	/* Cut inside the items: refused, never read past the end. */
	for (gsize cut = off + 1; cut < in->n - 3; cut++) {
		g_autofree guint8 *c = g_memdup2(in->b, cut);
		TwVisits cv = { .buf = c, .len = cut };
		ProtoWalkResult r = helper(c, cut, off, size, tw_visit, &cv);

		CU_ASSERT(r == PROTO_WALK_OK || r == PROTO_WALK_BAD_LENGTH);
		CU_ASSERT_FALSE(cv.out_of_bounds);
	}
}

/* The hooks' item walkers on PolyText8 and CompositeGlyphs32. */
static void test_item_helpers(void)
{
	tw_check_items(proto_request(proto_core(), 74), tw_build_poly_text8,
			 walk_text_items, 16, 1);
	tw_check_items(proto_request(tw_ext("RENDER"), 25),
			 tw_build_composite_glyphs32_switch, walk_glyph_items,
			 28, 4);
}

/* ---- replies ------------------------------------------------------------ */

static void tw_reply_hdr(TwPkt *p, guint byte1)
{
	tw_p8(p, 1);
	tw_p8(p, byte1);
	tw_p16(p, 0x1234);			/* sequence */
	tw_p32(p, 0);			/* length, set later */
}

/* GetGeometry reply: the root. */
static void tw_build_get_geometry_reply(TwPkt *p)
{
	tw_reply_hdr(p, 24);
	tw_pid(p, PROTO_K_WINDOW, 0x123);
	tw_p16(p, 1);
	tw_p16(p, 2);
	tw_p16(p, 3);
	tw_p16(p, 4);
	tw_p16(p, 5);
	tw_ext_len(p);
}

/* QueryTree reply: root, parent None, three children. */
static void tw_build_query_tree_reply(TwPkt *p)
{
	tw_reply_hdr(p, 0);
	tw_pid(p, PROTO_K_WINDOW, 0x123);
	tw_pid(p, PROTO_K_WINDOW, 0);
	tw_p16(p, 3);
	tw_ppad(p, 14);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_pid(p, PROTO_K_WINDOW, 0x200002);
	tw_pid(p, PROTO_K_WINDOW, 0x400001);
	tw_ext_len(p);
}

/* GetWindowAttributes reply: visual and colormap. */
static void tw_build_get_window_attributes_reply(TwPkt *p)
{
	tw_reply_hdr(p, 1);		/* backing store */
	tw_pid(p, PROTO_K_VISUALID, 0x21);
	tw_p16(p, 1);			/* class */
	tw_p8(p, 1);
	tw_p8(p, 1);
	tw_p32(p, 0xffffffff);		/* backing planes */
	tw_p32(p, 0);
	tw_p8(p, 0);
	tw_p8(p, 1);
	tw_p8(p, 2);			/* Viewable */
	tw_p8(p, 0);
	tw_pid(p, PROTO_K_COLORMAP, 0x20);
	tw_p32(p, 0x28001);
	tw_p32(p, 0x8001);
	tw_p16(p, 0);
	tw_ppad(p, 2);
	tw_ext_len(p);
}

/* Core replies, and a children count past the end. */
static void test_core_replies(void)
{
	tw_check(proto_reply(proto_core(), 14), PROTO_REPLY, FALSE,
		   tw_build_get_geometry_reply);
	tw_check(proto_reply(proto_core(), 15), PROTO_REPLY, FALSE,
		   tw_build_query_tree_reply);
	tw_check(proto_reply(proto_core(), 3), PROTO_REPLY, FALSE,
		   tw_build_get_window_attributes_reply);
	CU_ASSERT_PTR_NULL(proto_reply(proto_core(), 1));
	/* A children count past the end of the reply. */
	CU_ASSERT_EQUAL(tw_walk_cut(proto_reply(proto_core(), 15),
				      PROTO_REPLY, FALSE,
				      tw_build_query_tree_reply, 40),
			PROTO_WALK_BAD_LENGTH);
}

/* RENDER QueryPictFormats: formats, then screens of depths of visuals. */
static void tw_build_query_pict_formats_reply(TwPkt *p)
{
	tw_reply_hdr(p, 0);
	tw_p32(p, 2);			/* num_formats */
	tw_p32(p, 1);			/* num_screens */
	tw_p32(p, 2);			/* num_depths */
	tw_p32(p, 3);			/* num_visuals */
	tw_p32(p, 1);			/* num_subpixel */
	tw_ppad(p, 4);
	for (int i = 0; i < 2; i++) {	/* PICTFORMINFO */
		tw_pid(p, PROTO_K_PICTFORMAT, 0x25 + i);
		tw_p8(p, 1);
		tw_p8(p, 24 + 8 * i);
		tw_ppad(p, 2);
		for (int j = 0; j < 8; j++)
			tw_p16(p, j);
		tw_pid(p, PROTO_K_COLORMAP, i ? 0 : 0x20);
	}
	tw_p32(p, 2);			/* PICTSCREEN: num_depths */
	tw_pid(p, PROTO_K_PICTFORMAT, 0x25);	/* fallback */
	tw_p8(p, 24);			/* PICTDEPTH */
	tw_ppad(p, 1);
	tw_p16(p, 1);
	tw_ppad(p, 4);
	tw_pid(p, PROTO_K_VISUALID, 0x21);
	tw_pid(p, PROTO_K_PICTFORMAT, 0x25);
	tw_p8(p, 32);
	tw_ppad(p, 1);
	tw_p16(p, 2);
	tw_ppad(p, 4);
	tw_pid(p, PROTO_K_VISUALID, 0x22);
	tw_pid(p, PROTO_K_PICTFORMAT, 0x26);
	tw_pid(p, PROTO_K_VISUALID, 0x23);
	tw_pid(p, PROTO_K_PICTFORMAT, 0x26);
	tw_p32(p, 1);			/* subpixel */
	tw_ext_len(p);
}

/* RENDER QueryPictFormats: nested struct lists. */
static void test_render_query_pict_formats(void)
{
	tw_check(proto_reply(tw_ext("RENDER"), 1), PROTO_REPLY, FALSE,
		   tw_build_query_pict_formats_reply);
}

/* RANDR GetScreenResources reply: timestamps, CRTCs, an output, a mode. */
static void tw_build_randr_get_screen_resources_reply(TwPkt *p)
{
	tw_reply_hdr(p, 0);
	tw_pid(p, PROTO_K_TIMESTAMP, 111);
	tw_pid(p, PROTO_K_TIMESTAMP, 222);
	tw_p16(p, 2);			/* crtcs */
	tw_p16(p, 1);			/* outputs */
	tw_p16(p, 1);			/* modes */
	tw_p16(p, 8);			/* names_len */
	tw_ppad(p, 8);
	tw_pid(p, PROTO_K_CRTC, 0x3f);
	tw_pid(p, PROTO_K_CRTC, 0x40);
	tw_pid(p, PROTO_K_OUTPUT, 0x41);
	tw_pid(p, PROTO_K_MODE, 0x42);	/* ModeInfo.id */
	for (int i = 0; i < 7; i++)
		tw_p32(p, 0x01000100 * (i + 1));
	tw_p32(p, 0x30323031);		/* "1024x768" */
	tw_p32(p, 0x38363778);
	tw_ext_len(p);
}

/* RANDR GetScreenResources: lists of IDs and ModeInfo.id. */
static void test_randr_get_screen_resources(void)
{
	tw_check(proto_reply(tw_ext("RANDR"), 8), PROTO_REPLY, FALSE,
		   tw_build_randr_get_screen_resources_reply);
}

/* XIQueryDevice: one device with a button class and a valuator class whose
 * length (len field) is 4 bytes longer than its fields. */
static void tw_build_xi_query_device_reply_len(TwPkt *p, guint valuator_len)
{
	tw_reply_hdr(p, 0);
	tw_p16(p, 1);			/* num_infos */
	tw_ppad(p, 22);
	tw_p16(p, 2);			/* deviceid */
	tw_p16(p, 1);			/* MasterPointer */
	tw_p16(p, 3);			/* attachment */
	tw_p16(p, 2);			/* num_classes */
	tw_p16(p, 3);			/* name_len */
	tw_p8(p, 1);
	tw_ppad(p, 1);
	tw_p8(p, 'p');
	tw_p8(p, 't');
	tw_p8(p, 'r');
	tw_ppad(p, 1);			/* align 4 */
	tw_p16(p, 1);			/* ButtonClass */
	tw_p16(p, 6);			/* len: 24 bytes */
	tw_p16(p, 2);			/* sourceid */
	tw_p16(p, 3);			/* num_buttons */
	tw_p32(p, 0x2);			/* state */
	tw_pid(p, PROTO_K_ATOM, 300);
	tw_pid(p, PROTO_K_ATOM, 301);
	tw_pid(p, PROTO_K_ATOM, 0);
	tw_p16(p, 2);			/* ValuatorClass */
	tw_p16(p, valuator_len);
	tw_p16(p, 2);
	tw_p16(p, 0);			/* number */
	tw_pid(p, PROTO_K_ATOM, 302);	/* label */
	for (int i = 0; i < 6; i++)	/* min, max, value */
		tw_p32(p, i);
	tw_p32(p, 1000);			/* resolution */
	tw_p8(p, 1);			/* mode */
	tw_ppad(p, 3);
	tw_p32(p, 0x77777777);		/* 4 bytes more than the fields */
	tw_ext_len(p);
}

/* XIQueryDevice reply with a well-formed valuator class. */
static void tw_build_xi_query_device_reply(TwPkt *p)
{
	tw_build_xi_query_device_reply_len(p, 12);
}

/* A class that claims fewer bytes than its fields take. */
static void tw_build_xi_query_device_reply_short(TwPkt *p)
{
	tw_build_xi_query_device_reply_len(p, 2);
}

/* XIQueryDevice: classes with <length>, and a class too short for its
 * fields. */
static void test_xi_query_device(void)
{
	const ProtoMsg *m = proto_reply(tw_ext("XInputExtension"), 48);
	g_autofree TwPkt *in = g_new0(TwPkt, 1);

	tw_check(m, PROTO_REPLY, FALSE, tw_build_xi_query_device_reply);
	tw_build_xi_query_device_reply_short(in);
	CU_ASSERT_EQUAL(tw_walk_cut(m, PROTO_REPLY, FALSE,
				      tw_build_xi_query_device_reply_short,
				      in->n),
			PROTO_WALK_BAD_VALUE);
}

/* XKB GetNames: value list with a sumof list (ktLevelNames), an alignment
 * pad, popcount lists and fixed-size struct lists. */
static void tw_build_xkb_get_names_reply(TwPkt *p)
{
	tw_reply_hdr(p, 3);		/* deviceID */
	tw_p32(p, 0x1 | 0x80 | 0x100 | 0x200 | 0x2000);
	tw_p8(p, 8);			/* minKeyCode */
	tw_p8(p, 255);
	tw_p8(p, 2);			/* nTypes */
	tw_p8(p, 0);			/* groupNames */
	tw_p16(p, 0);			/* virtualMods */
	tw_p8(p, 8);			/* firstKey */
	tw_p8(p, 1);			/* nKeys */
	tw_p32(p, 0x5);			/* indicators: 2 names */
	tw_p8(p, 1);			/* nRadioGroups */
	tw_p8(p, 0);
	tw_p16(p, 3);			/* nKTLevels */
	tw_ppad(p, 4);
	tw_pid(p, PROTO_K_ATOM, 400);	/* keycodesName */
	tw_p8(p, 2);			/* nLevelsPerType */
	tw_p8(p, 1);
	tw_ppad(p, 2);			/* align 4 */
	tw_pid(p, PROTO_K_ATOM, 401);	/* ktLevelNames: 2 + 1 */
	tw_pid(p, PROTO_K_ATOM, 402);
	tw_pid(p, PROTO_K_ATOM, 403);
	tw_pid(p, PROTO_K_ATOM, 404);	/* indicatorNames */
	tw_pid(p, PROTO_K_ATOM, 405);
	tw_p32(p, 0x45534341);		/* keyNames: "ACSE" */
	tw_pid(p, PROTO_K_ATOM, 406);	/* radioGroupNames */
	tw_ext_len(p);
}

/* XKB GetNames: sumof, alignment, popcount. */
static void test_xkb_get_names(void)
{
	tw_check(proto_reply(tw_ext("XKEYBOARD"), 17), PROTO_REPLY, FALSE,
		   tw_build_xkb_get_names_reply);
}

/* XI GetDeviceMotionEvents: a struct list whose inner list count comes
 * from a field of the enclosing reply (<paramref>). */
static void tw_build_xi_device_motion_reply(TwPkt *p)
{
	tw_reply_hdr(p, 0);
	tw_p32(p, 2);			/* num_events */
	tw_p8(p, 3);			/* num_axes */
	tw_p8(p, 0);
	tw_ppad(p, 18);
	for (int i = 0; i < 2; i++) {
		tw_pid(p, PROTO_K_TIMESTAMP, 1000 + i);
		for (int a = 0; a < 3; a++)
			tw_p32(p, 0x100 * i + a);
	}
	tw_ext_len(p);
}

/* XI GetDeviceMotionEvents: <paramref>. */
static void test_xi_device_motion(void)
{
	tw_check(proto_reply(tw_ext("XInputExtension"), 10), PROTO_REPLY,
		   FALSE, tw_build_xi_device_motion_reply);
}

/* The connection setup reply: one screen, two depths with visuals. */
static void tw_build_setup(TwPkt *p)
{
	tw_p8(p, 1);			/* Success */
	tw_p8(p, 0);
	tw_p16(p, 11);
	tw_p16(p, 0);
	tw_p16(p, 0);			/* length, set below */
	tw_p32(p, 12101004);		/* release */
	tw_p32(p, 0x200000);		/* resource_id_base: not translated */
	tw_p32(p, 0x1fffff);
	tw_p32(p, 256);
	tw_p16(p, 5);			/* vendor_len */
	tw_p16(p, 0xffff);
	tw_p8(p, 1);			/* roots_len */
	tw_p8(p, 2);			/* pixmap_formats_len */
	tw_p8(p, 0);
	tw_p8(p, 0);
	tw_p8(p, 32);
	tw_p8(p, 32);
	tw_p8(p, 8);
	tw_p8(p, 255);
	tw_ppad(p, 4);
	tw_p32(p, 0x6f63694d);		/* "Micro", padded */
	tw_p32(p, 0x72);
	for (int i = 0; i < 2; i++) {	/* FORMAT */
		tw_p8(p, i ? 24 : 1);
		tw_p8(p, i ? 32 : 1);
		tw_p8(p, 32);
		tw_ppad(p, 5);
	}
	tw_pid(p, PROTO_K_WINDOW, 0x3a0);		/* root */
	tw_pid(p, PROTO_K_COLORMAP, 0x21);		/* default colormap */
	tw_p32(p, 0xffffff);
	tw_p32(p, 0);
	tw_p32(p, 0xfa003f);
	tw_p16(p, 1280);
	tw_p16(p, 1024);
	tw_p16(p, 338);
	tw_p16(p, 270);
	tw_p16(p, 1);
	tw_p16(p, 1);
	tw_pid(p, PROTO_K_VISUALID, 0x22);		/* root visual */
	tw_p8(p, 0);
	tw_p8(p, 0);
	tw_p8(p, 24);
	tw_p8(p, 2);			/* allowed_depths_len */
	tw_p8(p, 1);			/* DEPTH 1: no visuals */
	tw_ppad(p, 1);
	tw_p16(p, 0);
	tw_ppad(p, 4);
	tw_p8(p, 24);			/* DEPTH 24: two visuals */
	tw_ppad(p, 1);
	tw_p16(p, 2);
	tw_ppad(p, 4);
	for (int i = 0; i < 2; i++) {	/* VISUALTYPE */
		tw_pid(p, PROTO_K_VISUALID, 0x22 + i);
		tw_p8(p, 4);
		tw_p8(p, 8);
		tw_p16(p, 256);
		tw_p32(p, 0xff0000);
		tw_p32(p, 0xff00);
		tw_p32(p, 0xff);
		tw_ppad(p, 4);
	}
	p->b[6] = (p->n - 8) / 4;
}

/* The connection setup reply. */
static void test_setup(void)
{
	tw_check(proto_setup(), PROTO_REPLY, FALSE, tw_build_setup);
}

/* ---- events ------------------------------------------------------------- */

static void tw_build_configure_notify(TwPkt *p)
{
	tw_p8(p, 22);
	tw_p8(p, 0);
	tw_p16(p, 0x4321);
	tw_pid(p, PROTO_K_WINDOW, 0x123);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_pid(p, PROTO_K_WINDOW, 0x200009);	/* above sibling */
	tw_p16(p, 1);
	tw_p16(p, 2);
	tw_p16(p, 300);
	tw_p16(p, 200);
	tw_p16(p, 0);
	tw_p8(p, 0);
	tw_ppad(p, 5);
}

/* CreateNotify: parent and window. */
static void tw_build_create_notify(TwPkt *p)
{
	tw_p8(p, 16);
	tw_p8(p, 0);
	tw_p16(p, 0x4321);
	tw_pid(p, PROTO_K_WINDOW, 0x123);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_p16(p, 1);
	tw_p16(p, 2);
	tw_p16(p, 300);
	tw_p16(p, 200);
	tw_p16(p, 0);
	tw_p8(p, 1);
	tw_ppad(p, 9);
}

/* PropertyNotify: window, atom, time. */
static void tw_build_property_notify(TwPkt *p)
{
	tw_p8(p, 28);
	tw_p8(p, 0);
	tw_p16(p, 0x4321);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_pid(p, PROTO_K_ATOM, 39);
	tw_pid(p, PROTO_K_TIMESTAMP, 123456);
	tw_p8(p, 0);
	tw_ppad(p, 15);
}

/* Core events, and the event codes that are not events. */
static void test_core_events(void)
{
	tw_check(proto_event(proto_core(), 22), PROTO_EVENT, FALSE,
		   tw_build_configure_notify);
	tw_check(proto_event(proto_core(), 16), PROTO_EVENT, FALSE,
		   tw_build_create_notify);
	tw_check(proto_event(proto_core(), 28), PROTO_EVENT, FALSE,
		   tw_build_property_notify);
	CU_ASSERT_PTR_NULL(proto_event(proto_core(), 0));
	CU_ASSERT_PTR_NULL(proto_event(proto_core(), 1));
	CU_ASSERT_EQUAL(proto_ext_n_events(proto_core()), 35);
}

/* XFIXES SelectionNotify: windows, selection atom, two timestamps. */
static void tw_build_xfixes_selection_notify(TwPkt *p)
{
	tw_p8(p, 87);
	tw_p8(p, 0);			/* SetSelectionOwner */
	tw_p16(p, 0x4321);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_pid(p, PROTO_K_WINDOW, 0x400001);	/* owner */
	tw_pid(p, PROTO_K_ATOM, 1);		/* PRIMARY */
	tw_pid(p, PROTO_K_TIMESTAMP, 5000);
	tw_pid(p, PROTO_K_TIMESTAMP, 4000);
	tw_ppad(p, 8);
}

/* XFIXES SelectionNotify. */
static void test_xfixes_selection_notify(void)
{
	tw_check(proto_event(tw_ext("XFIXES"), 0), PROTO_EVENT, FALSE,
		   tw_build_xfixes_selection_notify);
}

/* XKB StateNotify (xkbType 2): the time. */
static void tw_build_xkb_state_notify(TwPkt *p)
{
	tw_p8(p, 85);
	tw_p8(p, 2);			/* xkbType: StateNotify */
	tw_p16(p, 0x4321);
	tw_pid(p, PROTO_K_TIMESTAMP, 77777);
	tw_p8(p, 3);			/* deviceID */
	for (int i = 0; i < 23; i++)	/* mods, groups, ..., requestMinor */
		tw_p8(p, 0x40 + i);
}

/* An XKB event whose xkbType XKB does not define. */
static void tw_build_xkb_bad_type(TwPkt *p)
{
	tw_build_xkb_state_notify(p);
	p->b[1] = 200;
}

/* XKB StateNotify through the xkbType dispatch and directly; an unknown
 * xkbType. */
static void test_xkb_state_notify(void)
{
	const ProtoExt *xkb = tw_ext("XKEYBOARD");

	CU_ASSERT_EQUAL(proto_ext_n_events(xkb), 1);
	tw_check(proto_event(xkb, 0), PROTO_EVENT, FALSE,
		   tw_build_xkb_state_notify);
	tw_check(proto_xkb_event(2), PROTO_EVENT, FALSE,
		   tw_build_xkb_state_notify);
	CU_ASSERT_STRING_EQUAL(proto_msg_name(proto_xkb_event(2)),
			       "StateNotify");
	CU_ASSERT_PTR_NULL(proto_xkb_event(200));
	CU_ASSERT_EQUAL(tw_walk_cut(proto_event(xkb, 0), PROTO_EVENT, FALSE,
				      tw_build_xkb_bad_type, 32),
			PROTO_WALK_BAD_VALUE);
}

/* XI2 ButtonPress: a Generic Event with button and valuator masks and the
 * axis values they select. */
static void tw_build_xi_button_press(TwPkt *p)
{
	tw_p8(p, 35);
	tw_p8(p, 131);			/* XInput's major opcode */
	tw_p16(p, 0x4321);
	tw_p32(p, 0);			/* length, set later */
	tw_p16(p, 4);			/* evtype: ButtonPress */
	tw_p16(p, 2);			/* deviceid */
	tw_pid(p, PROTO_K_TIMESTAMP, 99999);
	tw_p32(p, 1);			/* detail */
	tw_pid(p, PROTO_K_WINDOW, 0x123);
	tw_pid(p, PROTO_K_WINDOW, 0x200001);
	tw_pid(p, PROTO_K_WINDOW, 0x200002);	/* child */
	for (int i = 0; i < 4; i++)	/* root_x .. event_y */
		tw_p32(p, 0x10000 * (i + 1));
	tw_p16(p, 1);			/* buttons_len */
	tw_p16(p, 1);			/* valuators_len */
	tw_p16(p, 4);			/* sourceid */
	tw_ppad(p, 2);
	tw_p32(p, 0);			/* flags */
	for (int i = 0; i < 4; i++)	/* mods */
		tw_p32(p, i);
	tw_p32(p, 0);			/* group */
	tw_p32(p, 0x2);			/* button_mask */
	tw_p32(p, 0x3);			/* valuator_mask: 2 values */
	for (int i = 0; i < 4; i++)
		tw_p32(p, 0x5000 + i);
	tw_ext_len(p);
}

/* XI2 ButtonPress Generic Event, masks untouched. */
static void test_xi_button_press(void)
{
	const ProtoExt *xi = tw_ext("XInputExtension");

	tw_check(proto_ge_event(xi, 4), PROTO_EVENT, FALSE,
		   tw_build_xi_button_press);
	CU_ASSERT_STRING_EQUAL(proto_msg_name(proto_ge_event(xi, 4)),
			       "ButtonPress");
	/* XInput's classic events are a separate table. */
	CU_ASSERT_EQUAL(proto_ext_n_events(xi), 17);
	CU_ASSERT_PTR_NOT_NULL(proto_event(xi, 4));
}

/* RANDR Notify, OutputChange arm of the union (selected by subCode). */
static void tw_build_randr_output_change(TwPkt *p)
{
	tw_p8(p, 90);
	tw_p8(p, 1);			/* subCode: OutputChange */
	tw_p16(p, 0x4321);
	tw_pid(p, PROTO_K_TIMESTAMP, 1);
	tw_pid(p, PROTO_K_TIMESTAMP, 2);
	tw_pid(p, PROTO_K_WINDOW, 0x123);
	tw_pid(p, PROTO_K_OUTPUT, 0x41);
	tw_pid(p, PROTO_K_CRTC, 0x3f);
	tw_pid(p, PROTO_K_MODE, 0x42);
	tw_p16(p, 1);
	tw_p8(p, 0);
	tw_p8(p, 0);
}

/* RANDR Notify: the union member selected by subCode. */
static void test_randr_notify(void)
{
	tw_check(proto_event(tw_ext("RANDR"), 1), PROTO_EVENT, FALSE,
		   tw_build_randr_output_change);
}

/* ---- errors ------------------------------------------------------------- */

static void test_errors(void)
{
	const ProtoExt *core = proto_core();
	guint8 err[32] = { 0, 3, 0x21, 0x43 };
	ProtoKind k;

	tw_put32(err + 4, 0x200001);
	k = proto_error_kind(core, err[1]);
	CU_ASSERT_EQUAL(k, PROTO_K_WINDOW);
	CU_ASSERT_EQUAL(proto_kind_class(k), PROTO_CLASS_XID);
	CU_ASSERT_EQUAL(proto_error_kind(core, 4), PROTO_K_PIXMAP);
	CU_ASSERT_EQUAL(proto_error_kind(core, 5), PROTO_K_ATOM);
	CU_ASSERT_EQUAL(proto_error_kind(core, 9), PROTO_K_DRAWABLE);
	CU_ASSERT_EQUAL(proto_error_kind(core, 13), PROTO_K_GCONTEXT);
	CU_ASSERT_EQUAL(proto_error_kind(core, 14), PROTO_K_XID);
	CU_ASSERT_EQUAL(proto_error_kind(core, 2), PROTO_K_NONE);	/* Value */
	CU_ASSERT_EQUAL(proto_error_kind(core, 16), PROTO_K_NONE);	/* Length */
	CU_ASSERT_EQUAL(proto_error_kind(core, 200), PROTO_K_NONE);
	CU_ASSERT_EQUAL(proto_ext_n_errors(core), 18);
	CU_ASSERT_EQUAL(proto_error_kind(tw_ext("RENDER"), 1),
			PROTO_K_PICTURE);
	CU_ASSERT_EQUAL(proto_error_kind(tw_ext("RENDER"), 3),
			PROTO_K_GLYPHSET);
	CU_ASSERT_EQUAL(proto_error_kind(tw_ext("XFIXES"), 0),
			PROTO_K_REGION);
	CU_ASSERT_EQUAL(proto_error_kind(tw_ext("DAMAGE"), 0),
			PROTO_K_DAMAGE);
	CU_ASSERT_EQUAL(proto_error_kind(tw_ext("SYNC"), 0),
			PROTO_K_COUNTER);
	CU_ASSERT_EQUAL(proto_error_kind(tw_ext("SYNC"), 1), PROTO_K_ALARM);
	CU_ASSERT_EQUAL(proto_error_kind(tw_ext("SYNC"), 2), PROTO_K_FENCE);
	CU_ASSERT_EQUAL(proto_ext_n_errors(tw_ext("SYNC")), 3);
	CU_ASSERT_EQUAL(proto_error_kind(tw_ext("RANDR"), 1), PROTO_K_CRTC);
	/* The proxy maps the bad value of a BadWindow like this. */
	tw_put32(err + 4, tw_map(k, tw_get32(err + 4)));
	CU_ASSERT_EQUAL(tw_get32(err + 4), 0x1200001);
}

/* ---- tables, lengths, robustness ---------------------------------------- */

static void test_tables(void)
{
	static const char *const names[] = {
		"BIG-REQUESTS", "XC-MISC", "Generic Event Extension",
		"XKEYBOARD", "RENDER", "XFIXES", "SHAPE", "RANDR",
		"XInputExtension", "SYNC", "DAMAGE", "Composite", "XTEST",
		"MIT-SCREEN-SAVER", "DOUBLE-BUFFER", "XINERAMA", "X-Resource",
	};

	CU_ASSERT_EQUAL(proto_n_exts(), G_N_ELEMENTS(names));
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		const ProtoExt *e = proto_ext_lookup(names[i]);

		CU_ASSERT_PTR_NOT_NULL(e);
		if (e)
			CU_ASSERT_STRING_EQUAL(proto_ext_name(e), names[i]);
	}
	CU_ASSERT_PTR_NULL(proto_ext_lookup("MIT-SHM"));
	CU_ASSERT_PTR_NULL(proto_ext_lookup("GLX"));
	CU_ASSERT_PTR_NULL(proto_ext_name(proto_core()));
	CU_ASSERT_PTR_NULL(proto_ext_nth(proto_n_exts()));
	CU_ASSERT_PTR_NULL(proto_request(proto_core(), 0));
	CU_ASSERT_PTR_NULL(proto_request(proto_core(), 128));
	CU_ASSERT_STRING_EQUAL(proto_msg_name(proto_request(proto_core(),
							    127)),
			       "NoOperation");
	CU_ASSERT_STRING_EQUAL(proto_kind_name(PROTO_K_WINDOW), "WINDOW");
	CU_ASSERT_EQUAL(proto_kind_class(PROTO_K_PROVIDER),
			PROTO_CLASS_SERVER_ID);
	CU_ASSERT_EQUAL(proto_kind_class(PROTO_K_BARRIER), PROTO_CLASS_XID);
	CU_ASSERT_EQUAL(proto_kind_class(PROTO_K_TIMESTAMP), PROTO_CLASS_TIME);
	CU_ASSERT_EQUAL(proto_kind_class(PROTO_K_NONE), PROTO_CLASS_NONE);
	/* Minimum sizes: fixed requests, RANDR 1.0's shorter SetScreenConfig
	 * (accepted by servers), replies and events. */
	CU_ASSERT_EQUAL(proto_msg_min_size(proto_request(proto_core(), 1)),
			32);
	CU_ASSERT_EQUAL(proto_msg_min_size(proto_request(proto_core(), 127)),
			4);
	CU_ASSERT_EQUAL(proto_msg_min_size(proto_request(tw_ext("RANDR"),
							 2)), 20);
	CU_ASSERT_EQUAL(proto_msg_min_size(proto_reply(proto_core(), 15)), 32);
	CU_ASSERT_EQUAL(proto_msg_min_size(proto_event(proto_core(), 22)), 32);
	/* RANDR CreateLease's reply passes a file descriptor. */
	CU_ASSERT_TRUE(proto_msg_has_fds(proto_reply(tw_ext("RANDR"), 45)));
	CU_ASSERT_FALSE(proto_msg_has_fds(proto_reply(tw_ext("RANDR"), 8)));
}

/* Every request of every extension: a buffer of the minimum size walks
 * (zero counts), one word less gives BAD_LENGTH, in both forms; the same
 * for replies.  Exact-size heap buffers, so ASan/valgrind see overruns. */
static void test_all_bad_length(void)
{
	guint n_req = 0;

	for (gint e = -1; e < (gint)proto_n_exts(); e++) {
		const ProtoExt *x = e < 0 ? proto_core() : proto_ext_nth(e);

		for (guint op = 0; op < 256; op++) {
			const ProtoMsg *m = proto_request(x, op);
			const ProtoMsg *r = proto_reply(x, op);

			if (!m)
				continue;
			n_req++;
			for (int big = 0; big < 2; big++) {
				gsize min = proto_msg_min_size(m) + 4 * big;
				g_autofree guint8 *ok = g_malloc0(min);
				g_autofree guint8 *cut = g_malloc0(min - 4);
				TwVisits v = { .buf = ok, .len = min };
				ProtoWalkResult res;

				res = walk_message(m, PROTO_REQUEST, ok, min,
						   big, tw_visit, &v);
				if (res != PROTO_WALK_OK)
					fprintf(stderr, "\n  %s %s: %d",
						proto_ext_name(x),
						proto_msg_name(m), res);
				CU_ASSERT_EQUAL(res, PROTO_WALK_OK);
				v.buf = cut;
				v.len = min - 4;
				res = walk_message(m, PROTO_REQUEST, cut,
						   min - 4, big, tw_visit,
						   &v);
				CU_ASSERT_EQUAL(res, PROTO_WALK_BAD_LENGTH);
				CU_ASSERT_FALSE(v.out_of_bounds);
			}
			if (r) {
				gsize min = proto_msg_min_size(r);
				g_autofree guint8 *ok = g_malloc0(min);
				TwVisits v = { .buf = ok, .len = min };

				CU_ASSERT(min >= 32);
				CU_ASSERT_EQUAL(walk_message(r, PROTO_REPLY,
							     ok, min, FALSE,
							     tw_visit, &v),
						PROTO_WALK_OK);
				CU_ASSERT_EQUAL(walk_message(r, PROTO_REPLY,
							     ok, min - 4,
							     FALSE, tw_visit,
							     &v),
						PROTO_WALK_BAD_LENGTH);
			}
		}
	}
	CU_ASSERT(n_req >= 394);	/* xcb-proto 1.15 has 394 */
}

/* Walks MSG over random buffers: whatever the bytes, the walker must stay
 * inside the buffer and return one of its three results. */
static void tw_fuzz_one(GRand *rnd, const ProtoMsg *m, ProtoDir dir)
{
	gsize min = proto_msg_min_size(m);

	for (int iter = 0; iter < 40; iter++) {
		gsize len = (min & ~(gsize)3) + 4 * g_rand_int_range(rnd, -1, 24);
		gboolean big = dir == PROTO_REQUEST && g_rand_boolean(rnd);
		gboolean small = iter & 1;	/* small values: deeper walks */
		g_autofree guint8 *buf = NULL;
		TwVisits v = { 0 };
		ProtoWalkResult r;

		if (len < 4)
			len = 4;
		buf = g_malloc(len);
		for (gsize i = 0; i < len; i++)
			buf[i] = small ? g_rand_int_range(rnd, 0, 4) :
				g_rand_int_range(rnd, 0, 256);
		v.buf = buf;
		v.len = len;
		r = walk_message(m, dir, buf, len, big, tw_visit, &v);
		CU_ASSERT(r == PROTO_WALK_OK || r == PROTO_WALK_BAD_LENGTH ||
			  r == PROTO_WALK_BAD_VALUE);
		CU_ASSERT_FALSE(v.out_of_bounds);
	}
}

/* Random buffers for every description and the item helpers. */
static void test_fuzz(void)
{
	g_autoptr(GRand) rnd = g_rand_new_with_seed(20261125);

	for (gint e = -1; e < (gint)proto_n_exts(); e++) {
		const ProtoExt *x = e < 0 ? proto_core() : proto_ext_nth(e);

		for (guint i = 0; i < 256; i++) {
			if (proto_request(x, i))
				tw_fuzz_one(rnd, proto_request(x, i),
					      PROTO_REQUEST);
			if (proto_reply(x, i))
				tw_fuzz_one(rnd, proto_reply(x, i),
					      PROTO_REPLY);
			if (proto_event(x, i))
				tw_fuzz_one(rnd, proto_event(x, i),
					      PROTO_EVENT);
			if (proto_ge_event(x, i))
				tw_fuzz_one(rnd, proto_ge_event(x, i),
					      PROTO_EVENT);
		}
	}
	for (guint i = 0; i < 256; i++)
		if (proto_xkb_event(i))
			tw_fuzz_one(rnd, proto_xkb_event(i), PROTO_EVENT);
	tw_fuzz_one(rnd, proto_setup(), PROTO_REPLY);
	/* The item helpers, on random items. */
	for (int iter = 0; iter < 2000; iter++) {
		gsize len = g_rand_int_range(rnd, 0, 80);
		g_autofree guint8 *buf = g_malloc(len ? len : 1);
		TwVisits v = { .buf = buf, .len = len };
		gsize off = g_rand_int_range(rnd, 0, 40);
		ProtoWalkResult r;

		for (gsize i = 0; i < len; i++)
			buf[i] = iter & 1 ? g_rand_int_range(rnd, 0, 256) :
				(g_rand_boolean(rnd) ? 255 :
				 g_rand_int_range(rnd, 0, 4));
		r = walk_text_items(buf, len, off, 1 + (iter & 2) / 2,
				    tw_visit, &v);
		CU_ASSERT(r == PROTO_WALK_OK || r == PROTO_WALK_BAD_LENGTH);
		r = walk_glyph_items(buf, len, off, 1 << (iter % 3),
				     tw_visit, &v);
		CU_ASSERT(r == PROTO_WALK_OK || r == PROTO_WALK_BAD_LENGTH);
		CU_ASSERT_FALSE(v.out_of_bounds);
	}
}

static CU_TestInfo walk_tests[] = {
	{ "tables", test_tables },
	{ "CreateWindow value list", test_create_window },
	{ "CreateWindow truncated", test_create_window_truncated },
	{ "ChangeWindowAttributes", test_change_window_attributes },
	{ "CreateGC value list", test_create_gc },
	{ "ConfigureWindow", test_configure_window },
	{ "PolyFillRectangle", test_poly_fill_rectangle },
	{ "ChangeProperty", test_change_property },
	{ "RENDER requests", test_render_requests },
	{ "XFIXES CreateRegion", test_xfixes_create_region },
	{ "SYNC CreateAlarm", test_sync_create_alarm },
	{ "XI XISelectEvents", test_xi_select_events },
	{ "BIG-REQUESTS", test_big_requests },
	{ "PolyText and CompositeGlyphs items", test_item_helpers },
	{ "core replies", test_core_replies },
	{ "RENDER QueryPictFormats", test_render_query_pict_formats },
	{ "RANDR GetScreenResources", test_randr_get_screen_resources },
	{ "XI XIQueryDevice", test_xi_query_device },
	{ "XKB GetNames", test_xkb_get_names },
	{ "XI GetDeviceMotionEvents", test_xi_device_motion },
	{ "connection setup", test_setup },
	{ "core events", test_core_events },
	{ "XFIXES SelectionNotify", test_xfixes_selection_notify },
	{ "XKB StateNotify", test_xkb_state_notify },
	{ "XI2 ButtonPress", test_xi_button_press },
	{ "RANDR Notify", test_randr_notify },
	{ "errors", test_errors },
	{ "all requests: BAD_LENGTH", test_all_bad_length },
	{ "fuzz", test_fuzz },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("walk", walk_tests)
