/*
 * test-xmap.c: translation between a client's view and a server's with
 * NON-identity maps (as after a restart on another server): the maps
 * themselves, then whole canned messages through xlate_*(): requests (value
 * lists, BIG-REQUESTS form, extension majors), replies (lists), events (core,
 * extension, Generic Events), errors, and the hooks (SendEvent's embedded
 * event, typed property data, QueryExtension, ListExtensions, InternAtom).
 */
#include <string.h>

#include "tests/unit/unit.h"
#include "xproxy/proto.h"
#include "xproxy/xlate.h"
#include "xproxy/xmap.h"

/* The maps every test uses: client IDs 0x00400000/0x1fffff live at
 * 0x00a00000 on the server; the root window is 0x100 for the client and
 * 0x200 for the server; atom 300 is 400; visual 0x21 is 0x42; server time
 * runs 1000 ahead; DAMAGE is major 150 (events from 100, errors from 160)
 * for the client and 143/91/152 for the server; XInputExtension is 131 for
 * the client and 135 for the server. */
#define C_BASE 0x00400000u
#define S_BASE 0x00a00000u
#define MASK 0x001fffffu
#define C_ROOT 0x100u
#define S_ROOT 0x200u
#define C_ATOM 300u
#define S_ATOM 400u
#define C_VISUAL 0x21u
#define S_VISUAL 0x42u
#define TIME_OFF 1000u

/* The tables of extension NAME (must exist). */
static const ProtoExt *txm_ext(const char *name)
{
	const ProtoExt *e = proto_ext_lookup(name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	return e;
}

/* Builds the test maps (caller frees). */
static XpMap *txm_map(void)
{
	XpMap *m = xmap_new();

	xmap_set_xid_range(m, C_BASE, MASK, S_BASE, MASK);
	xmap_add(m, PROTO_CLASS_XID, C_ROOT, S_ROOT);
	xmap_add(m, PROTO_CLASS_ATOM, C_ATOM, S_ATOM);
	xmap_add(m, PROTO_CLASS_SERVER_ID, C_VISUAL, S_VISUAL);
	xmap_set_time_offset(m, TIME_OFF);
	xmap_add_ext(m, txm_ext("DAMAGE"), 150, 100, 160, 143, 91, 152);
	xmap_add_ext(m, txm_ext("XInputExtension"), 131, 0, 0, 135, 0, 0);
	CU_ASSERT_FALSE(xmap_is_identity(m));
	return m;
}

#define G32 xlate_get32
#define P32 xlate_put32
#define P16 xlate_put16

/* The maps alone: ranges, tables, predefined atoms, None, time, codes. */
static void test_maps(void)
{
	XpMap *m = txm_map();
	guint num;
	guint8 other;

	/* own range by base/mask, both ways */
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_XID, C_BASE | 0x1234),
			S_BASE | 0x1234);
	CU_ASSERT_EQUAL(xmap_to_client(m, PROTO_CLASS_XID, S_BASE | 0x1234),
			C_BASE | 0x1234);
	/* foreign IDs through the table; unknown ones unchanged */
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_XID, C_ROOT), S_ROOT);
	CU_ASSERT_EQUAL(xmap_to_client(m, PROTO_CLASS_XID, S_ROOT), C_ROOT);
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_XID, 0x777), 0x777);
	/* None / CurrentTime / AnyPropertyType stay 0 */
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_XID, 0), 0);
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_TIME, 0), 0);
	CU_ASSERT_EQUAL(xmap_to_client(m, PROTO_CLASS_ATOM, 0), 0);
	/* predefined atoms never move, even if a table says otherwise */
	xmap_add(m, PROTO_CLASS_ATOM, 39, 999);
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_ATOM, 39), 39);
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_ATOM, C_ATOM), S_ATOM);
	CU_ASSERT_EQUAL(xmap_to_client(m, PROTO_CLASS_ATOM, S_ATOM), C_ATOM);
	/* replacing a pair drops the stale reverse entry */
	xmap_add(m, PROTO_CLASS_ATOM, C_ATOM, 401);
	CU_ASSERT_EQUAL(xmap_to_client(m, PROTO_CLASS_ATOM, 401), C_ATOM);
	CU_ASSERT_EQUAL(xmap_to_client(m, PROTO_CLASS_ATOM, S_ATOM), S_ATOM);
	xmap_remove(m, PROTO_CLASS_ATOM, C_ATOM);
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_ATOM, C_ATOM), C_ATOM);
	/* time and server IDs */
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_TIME, 5), 1005);
	CU_ASSERT_EQUAL(xmap_to_client(m, PROTO_CLASS_TIME, 1005), 5);
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_SERVER_ID, C_VISUAL),
			S_VISUAL);
	/* extension codes */
	CU_ASSERT_PTR_EQUAL(xmap_event_from_server(m, 91, &num, &other),
			    txm_ext("DAMAGE"));
	CU_ASSERT_EQUAL(num, 0);
	CU_ASSERT_EQUAL(other, 100);
	CU_ASSERT_PTR_EQUAL(xmap_event_from_client(m, 100, &num, &other),
			    txm_ext("DAMAGE"));
	CU_ASSERT_EQUAL(other, 91);
	CU_ASSERT_PTR_EQUAL(xmap_error_from_server(m, 152, &num, &other),
			    txm_ext("DAMAGE"));
	CU_ASSERT_EQUAL(other, 160);
	CU_ASSERT_PTR_EQUAL(xmap_event_from_server(m, 22, &num, &other),
			    proto_core());
	CU_ASSERT_EQUAL(other, 22);
	CU_ASSERT_PTR_NULL(xmap_event_from_server(m, 120, &num, &other));
	CU_ASSERT_EQUAL(other, 120);
	CU_ASSERT_PTR_NULL(xmap_ext_by_client_major(m, 143, &other));
	/* atom names */
	xmap_note_atom_name(m, C_ATOM, "WM_PROTOCOLS");
	CU_ASSERT_STRING_EQUAL(xmap_atom_name(m, C_ATOM), "WM_PROTOCOLS");
	CU_ASSERT_EQUAL(xmap_atom_by_name(m, "WM_PROTOCOLS"), C_ATOM);
	xmap_free(m);

	/* a fresh map is the identity and translates nothing */
	m = xmap_new();
	CU_ASSERT_TRUE(xmap_is_identity(m));
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_XID, 0x1234), 0x1234);
	xmap_free(m);
}

/* Fills a CreateWindow request with a value list (BackPixmap, BackPixel,
 * EventMask, Colormap, Cursor) into B; BIG puts it in BIG-REQUESTS form.
 * Returns its length. */
static gsize txm_create_window(guint8 *b, gboolean big)
{
	gsize o = big ? 4 : 0, len = 52 + o;

	memset(b, 0, len);
	b[0] = 1;			/* CreateWindow */
	b[1] = 24;			/* depth */
	if (big)
		P32(b + 4, len / 4);
	else
		P16(b + 2, len / 4);
	P32(b + o + 4, C_BASE | 5);	/* wid */
	P32(b + o + 8, C_ROOT);		/* parent */
	P16(b + o + 16, 100);		/* width */
	P16(b + o + 18, 50);		/* height */
	P16(b + o + 22, 1);		/* InputOutput */
	P32(b + o + 24, C_VISUAL);	/* visual */
	P32(b + o + 28, 0x1 | 0x2 | 0x800 | 0x2000 | 0x4000);
	P32(b + o + 32, C_BASE | 6);	/* background pixmap */
	P32(b + o + 36, C_BASE | 0xabc);/* background pixel: a number */
	P32(b + o + 40, 0x8000);	/* event mask */
	P32(b + o + 44, C_BASE | 7);	/* colormap */
	P32(b + o + 48, C_BASE | 8);	/* cursor */
	return len;
}

/* Checks the CreateWindow of txm_create_window() after translation. */
static void txm_check_create_window(const guint8 *b, gboolean big)
{
	gsize o = big ? 4 : 0;

	CU_ASSERT_EQUAL(b[0], 1);
	CU_ASSERT_EQUAL(G32(b + o + 4), S_BASE | 5);
	CU_ASSERT_EQUAL(G32(b + o + 8), S_ROOT);
	CU_ASSERT_EQUAL(G32(b + o + 24), S_VISUAL);
	CU_ASSERT_EQUAL(G32(b + o + 28), 0x1 | 0x2 | 0x800 | 0x2000 | 0x4000);
	CU_ASSERT_EQUAL(G32(b + o + 32), S_BASE | 6);
	CU_ASSERT_EQUAL(G32(b + o + 36), C_BASE | 0xabc);
	CU_ASSERT_EQUAL(G32(b + o + 40), 0x8000);
	CU_ASSERT_EQUAL(G32(b + o + 44), S_BASE | 7);
	CU_ASSERT_EQUAL(G32(b + o + 48), S_BASE | 8);
}

/* Core requests: a value list, both length forms; bad ones. */
static void test_requests(void)
{
	XpMap *m = txm_map();
	guint8 b[256];
	XlateReq r;
	gsize len;

	len = txm_create_window(b, FALSE);
	CU_ASSERT_EQUAL(xlate_request(m, b, len, FALSE, &r), XLATE_OK);
	CU_ASSERT_PTR_EQUAL(r.ext, proto_core());
	CU_ASSERT_EQUAL(r.op, 1);
	CU_ASSERT_FALSE(r.has_reply);
	txm_check_create_window(b, FALSE);

	len = txm_create_window(b, TRUE);
	CU_ASSERT_EQUAL(xlate_request(m, b, len, TRUE, &r), XLATE_OK);
	txm_check_create_window(b, TRUE);

	/* GetProperty: window, property atom, type atom (predefined) */
	memset(b, 0, 24);
	b[0] = 20;
	P16(b + 2, 6);
	P32(b + 4, C_BASE | 9);
	P32(b + 8, C_ATOM);
	P32(b + 12, 4);
	CU_ASSERT_EQUAL(xlate_request(m, b, 24, FALSE, &r), XLATE_OK);
	CU_ASSERT_TRUE(r.has_reply);
	CU_ASSERT_EQUAL(G32(b + 4), S_BASE | 9);
	CU_ASSERT_EQUAL(G32(b + 8), S_ATOM);
	CU_ASSERT_EQUAL(G32(b + 12), 4);

	/* a CreateWindow whose value list runs past its length */
	len = txm_create_window(b, FALSE);
	P16(b + 2, 10);
	CU_ASSERT_EQUAL(xlate_request(m, b, 40, FALSE, &r), XLATE_BAD_LENGTH);

	/* an unknown major (no extension there for this client) */
	memset(b, 0, 8);
	b[0] = 200;
	b[1] = 3;
	P16(b + 2, 2);
	CU_ASSERT_EQUAL(xlate_request(m, b, 8, FALSE, &r), XLATE_BAD_REQUEST);
	CU_ASSERT_EQUAL(r.cmajor, 200);
	/* the server's DAMAGE major means nothing to this client */
	b[0] = 143;
	CU_ASSERT_EQUAL(xlate_request(m, b, 8, FALSE, &r), XLATE_BAD_REQUEST);
	/* an unknown minor of a known extension */
	b[0] = 150;
	b[1] = 99;
	CU_ASSERT_EQUAL(xlate_request(m, b, 8, FALSE, &r), XLATE_BAD_REQUEST);
	CU_ASSERT_EQUAL(r.cminor, 99);
	xmap_free(m);
}

/* Extension requests: the major opcode and the extension's ID kinds. */
static void test_ext_requests(void)
{
	XpMap *m = txm_map();
	guint8 b[64];
	XlateReq r;

	/* DAMAGE Create: damage (new ID), drawable, level */
	memset(b, 0, 16);
	b[0] = 150;
	b[1] = 1;
	P16(b + 2, 4);
	P32(b + 4, C_BASE | 0x20);
	P32(b + 8, C_ROOT);
	b[12] = 3;
	CU_ASSERT_EQUAL(xlate_request(m, b, 16, FALSE, &r), XLATE_OK);
	CU_ASSERT_PTR_EQUAL(r.ext, txm_ext("DAMAGE"));
	CU_ASSERT_EQUAL(r.op, 1);
	CU_ASSERT_EQUAL(b[0], 143);
	CU_ASSERT_EQUAL(b[1], 1);
	CU_ASSERT_EQUAL(G32(b + 4), S_BASE | 0x20);
	CU_ASSERT_EQUAL(G32(b + 8), S_ROOT);
	CU_ASSERT_EQUAL(b[12], 3);
	xmap_free(m);
}

/* Replies: fields and lists of IDs, in the client's view. */
static void test_replies(void)
{
	XpMap *m = txm_map();
	guint8 b[64];
	XlateReq r = { .ext = proto_core(), .op = 15 };	/* QueryTree */

	memset(b, 0, sizeof(b));
	b[0] = 1;
	P32(b + 4, 3);
	P32(b + 8, S_ROOT);			/* root */
	P32(b + 12, S_BASE | 1);		/* parent */
	P16(b + 16, 3);				/* children */
	P32(b + 32, S_BASE | 2);
	P32(b + 36, 0x5000);			/* another client's */
	P32(b + 40, S_BASE | 3);
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 44), 44);
	CU_ASSERT_EQUAL(G32(b + 8), C_ROOT);
	CU_ASSERT_EQUAL(G32(b + 12), C_BASE | 1);
	CU_ASSERT_EQUAL(G32(b + 32), C_BASE | 2);
	CU_ASSERT_EQUAL(G32(b + 36), 0x5000);
	CU_ASSERT_EQUAL(G32(b + 40), C_BASE | 3);

	/* a reply whose list runs past the message */
	P16(b + 16, 9);
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 44), -1);

	/* GetProperty of type ATOM, format 32: the data are atoms */
	r.op = 20;
	memset(b, 0, sizeof(b));
	b[0] = 1;
	b[1] = 32;
	P32(b + 4, 2);
	P32(b + 8, 4);				/* type ATOM */
	P32(b + 16, 2);				/* two items */
	P32(b + 32, S_ATOM);
	P32(b + 36, 39);			/* predefined */
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 40), 40);
	CU_ASSERT_EQUAL(G32(b + 32), C_ATOM);
	CU_ASSERT_EQUAL(G32(b + 36), 39);
	/* ... and of type CARDINAL they are numbers */
	P32(b + 8, 6);
	P32(b + 32, S_ATOM);
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 40), 40);
	CU_ASSERT_EQUAL(G32(b + 32), S_ATOM);
	xmap_free(m);
}

/* Events: core, extension (code translated), Generic (major in byte 1). */
static void test_events(void)
{
	XpMap *m = txm_map();
	guint8 b[128];

	/* ConfigureNotify from the server */
	memset(b, 0, 32);
	b[0] = 22;
	P32(b + 4, S_BASE | 1);			/* event */
	P32(b + 8, S_BASE | 2);			/* window */
	P32(b + 12, S_ROOT);			/* above sibling */
	CU_ASSERT_TRUE(xlate_event(m, b, 32, FALSE));
	CU_ASSERT_EQUAL(b[0], 22);
	CU_ASSERT_EQUAL(G32(b + 4), C_BASE | 1);
	CU_ASSERT_EQUAL(G32(b + 8), C_BASE | 2);
	CU_ASSERT_EQUAL(G32(b + 12), C_ROOT);

	/* PropertyNotify, as sent with SendEvent (bit 0x80 kept) */
	memset(b, 0, 32);
	b[0] = 28 | 0x80;
	P32(b + 4, S_BASE | 1);
	P32(b + 8, S_ATOM);
	P32(b + 12, 5000);
	CU_ASSERT_TRUE(xlate_event(m, b, 32, FALSE));
	CU_ASSERT_EQUAL(b[0], 28 | 0x80);
	CU_ASSERT_EQUAL(G32(b + 4), C_BASE | 1);
	CU_ASSERT_EQUAL(G32(b + 8), C_ATOM);
	CU_ASSERT_EQUAL(G32(b + 12), 4000);

	/* DAMAGE Notify: server code 91 is the client's 100 */
	memset(b, 0, 32);
	b[0] = 91;
	P32(b + 4, S_BASE | 3);			/* drawable */
	P32(b + 8, S_BASE | 4);			/* damage */
	P32(b + 12, 7000);			/* timestamp */
	CU_ASSERT_TRUE(xlate_event(m, b, 32, FALSE));
	CU_ASSERT_EQUAL(b[0], 100);
	CU_ASSERT_EQUAL(G32(b + 4), C_BASE | 3);
	CU_ASSERT_EQUAL(G32(b + 8), C_BASE | 4);
	CU_ASSERT_EQUAL(G32(b + 12), 6000);

	/* XI2 KeyPress as a Generic Event: extension 135 -> 131 */
	memset(b, 0, 80);
	b[0] = 35;
	b[1] = 135;
	P32(b + 4, (80 - 32) / 4);
	P16(b + 8, 2);				/* XI_KeyPress */
	P16(b + 10, 3);				/* deviceid */
	P32(b + 12, 9000);			/* time */
	P32(b + 16, 38);			/* detail: keycode */
	P32(b + 20, S_ROOT);
	P32(b + 24, S_BASE | 5);		/* event window */
	P32(b + 28, 0);				/* child: None */
	CU_ASSERT_TRUE(xlate_event(m, b, 80, FALSE));
	CU_ASSERT_EQUAL(b[0], 35);
	CU_ASSERT_EQUAL(b[1], 131);
	CU_ASSERT_EQUAL(G32(b + 12), 8000);
	CU_ASSERT_EQUAL(G32(b + 16), 38);
	CU_ASSERT_EQUAL(G32(b + 20), C_ROOT);
	CU_ASSERT_EQUAL(G32(b + 24), C_BASE | 5);
	CU_ASSERT_EQUAL(G32(b + 28), 0);

	/* an event of an extension the maps do not know passes unchanged */
	memset(b, 0, 32);
	b[0] = 120;
	P32(b + 4, S_BASE | 1);
	CU_ASSERT_TRUE(xlate_event(m, b, 32, FALSE));
	CU_ASSERT_EQUAL(b[0], 120);
	CU_ASSERT_EQUAL(G32(b + 4), S_BASE | 1);
	xmap_free(m);
}

/* Errors: code, bad value by the error's kind, major opcode. */
static void test_errors(void)
{
	XpMap *m = txm_map();
	guint8 b[32];

	/* BadWindow on a CreateWindow */
	memset(b, 0, 32);
	b[1] = 3;
	P32(b + 4, S_BASE | 5);
	b[10] = 1;
	xlate_error(m, b);
	CU_ASSERT_EQUAL(b[1], 3);
	CU_ASSERT_EQUAL(G32(b + 4), C_BASE | 5);
	CU_ASSERT_EQUAL(b[10], 1);

	/* BadValue: the value is a number */
	memset(b, 0, 32);
	b[1] = 2;
	P32(b + 4, S_BASE | 5);
	b[10] = 1;
	xlate_error(m, b);
	CU_ASSERT_EQUAL(G32(b + 4), S_BASE | 5);

	/* DAMAGE's BadDamage (server 152 -> client 160), major 143 -> 150 */
	memset(b, 0, 32);
	b[1] = 152;
	P32(b + 4, S_BASE | 4);
	P16(b + 8, 2);
	b[10] = 143;
	xlate_error(m, b);
	CU_ASSERT_EQUAL(b[1], 160);
	CU_ASSERT_EQUAL(G32(b + 4), C_BASE | 4);
	CU_ASSERT_EQUAL(xlate_get16(b + 8), 2);
	CU_ASSERT_EQUAL(b[10], 150);
	xmap_free(m);
}

/* SendEvent: the embedded event goes to the server's view, including a
 * WM_PROTOCOLS ClientMessage's data (an atom and a timestamp). */
static void test_send_event(void)
{
	XpMap *m = txm_map();
	guint8 b[44];
	XlateReq r;

	xmap_add(m, PROTO_CLASS_ATOM, 301, 501);
	xmap_note_atom_name(m, C_ATOM, "WM_PROTOCOLS");
	xmap_note_atom_name(m, 301, "WM_DELETE_WINDOW");
	memset(b, 0, 44);
	b[0] = 25;
	P16(b + 2, 11);
	P32(b + 4, C_BASE | 1);			/* destination */
	b[12] = 33;				/* ClientMessage */
	b[13] = 32;				/* format */
	P32(b + 16, C_BASE | 1);		/* window */
	P32(b + 20, C_ATOM);			/* type WM_PROTOCOLS */
	P32(b + 24, 301);			/* WM_DELETE_WINDOW */
	P32(b + 28, 20);			/* time */
	P32(b + 32, C_BASE | 77);		/* data[2]: just a number */
	CU_ASSERT_EQUAL(xlate_request(m, b, 44, FALSE, &r), XLATE_OK);
	CU_ASSERT_EQUAL(G32(b + 4), S_BASE | 1);
	CU_ASSERT_EQUAL(b[12], 33);
	CU_ASSERT_EQUAL(G32(b + 16), S_BASE | 1);
	CU_ASSERT_EQUAL(G32(b + 20), S_ATOM);
	CU_ASSERT_EQUAL(G32(b + 24), 501);
	CU_ASSERT_EQUAL(G32(b + 28), 1020);
	CU_ASSERT_EQUAL(G32(b + 32), C_BASE | 77);

	/* the same ClientMessage coming from the server */
	guint8 *e = b + 12;
	CU_ASSERT_TRUE(xlate_event(m, e, 32, FALSE));
	CU_ASSERT_EQUAL(G32(e + 4), C_BASE | 1);
	CU_ASSERT_EQUAL(G32(e + 8), C_ATOM);
	CU_ASSERT_EQUAL(G32(e + 12), 301);
	CU_ASSERT_EQUAL(G32(e + 16), 20);

	/* a DAMAGE event sent by the client gets the server's code */
	memset(b + 12, 0, 32);
	b[12] = 100;
	P32(b + 16, C_BASE | 3);
	CU_ASSERT_EQUAL(xlate_request(m, b, 44, FALSE, &r), XLATE_OK);
	CU_ASSERT_EQUAL(b[12], 91);
	CU_ASSERT_EQUAL(G32(b + 16), S_BASE | 3);
	xmap_free(m);
}

/* ChangeProperty: format-32 data of type WINDOW, in BIG-REQUESTS form. */
static void test_change_property(void)
{
	XpMap *m = txm_map();
	guint8 b[40];
	XlateReq r;

	memset(b, 0, sizeof(b));
	b[0] = 18;
	P32(b + 4, 10);				/* big length: 40 bytes */
	P32(b + 8, C_BASE | 1);			/* window */
	P32(b + 12, C_ATOM);			/* property */
	P32(b + 16, 33);			/* type WINDOW */
	b[20] = 32;				/* format */
	P32(b + 24, 3);				/* three items */
	P32(b + 28, C_BASE | 2);
	P32(b + 32, C_ROOT);
	P32(b + 36, 0);
	CU_ASSERT_EQUAL(xlate_request(m, b, 40, TRUE, &r), XLATE_OK);
	CU_ASSERT_EQUAL(G32(b + 8), S_BASE | 1);
	CU_ASSERT_EQUAL(G32(b + 12), S_ATOM);
	CU_ASSERT_EQUAL(G32(b + 28), S_BASE | 2);
	CU_ASSERT_EQUAL(G32(b + 32), S_ROOT);
	CU_ASSERT_EQUAL(G32(b + 36), 0);

	/* a data count beyond the request is a bad length */
	P32(b + 24, 4);
	CU_ASSERT_EQUAL(xlate_request(m, b, 40, TRUE, &r), XLATE_BAD_LENGTH);
	xmap_free(m);
}

/* Fills a QueryExtension request for NAME into B; returns its length. */
static gsize txm_query_extension(guint8 *b, const char *name)
{
	gsize n = strlen(name), len = 8 + ((n + 3) & ~3);

	memset(b, 0, len);
	b[0] = 98;
	P16(b + 2, len / 4);
	P16(b + 4, n);
	memcpy(b + 8, name, n);
	return len;
}

/* QueryExtension: hidden extensions are absent whatever the server says;
 * a translated one is registered, and answered with the client's codes. */
static void test_query_extension(void)
{
	XpMap *m = xmap_new();
	guint8 b[64];
	XlateReq r;
	gsize len;
	guint8 other;

	len = txm_query_extension(b, "MIT-SHM");
	CU_ASSERT_EQUAL(xlate_request(m, b, len, FALSE, &r), XLATE_OK);
	memset(b, 0, 32);
	b[0] = 1;
	b[8] = 1;
	b[9] = 130;
	b[10] = 65;
	b[11] = 128;
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 32), 32);
	CU_ASSERT_EQUAL(b[8], 0);
	CU_ASSERT_EQUAL(b[9], 0);
	CU_ASSERT_EQUAL(b[10], 0);
	CU_ASSERT_EQUAL(b[11], 0);
	CU_ASSERT_PTR_NULL(xmap_ext_by_client_major(m, 130, &other));

	len = txm_query_extension(b, "NOT-AN-EXTENSION");
	CU_ASSERT_EQUAL(xlate_request(m, b, len, FALSE, &r), XLATE_OK);
	CU_ASSERT_EQUAL(r.hook_data, 0);

	len = txm_query_extension(b, "DAMAGE");
	CU_ASSERT_EQUAL(xlate_request(m, b, len, FALSE, &r), XLATE_OK);
	memset(b, 0, 32);
	b[0] = 1;
	b[8] = 1;
	b[9] = 143;
	b[10] = 91;
	b[11] = 152;
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 32), 32);
	CU_ASSERT_EQUAL(b[8], 1);
	CU_ASSERT_EQUAL(b[9], 143);
	CU_ASSERT_PTR_EQUAL(xmap_ext_by_client_major(m, 143, &other),
			    txm_ext("DAMAGE"));

	/* a name longer than the request */
	len = txm_query_extension(b, "DAMAGE");
	P16(b + 4, 200);
	CU_ASSERT_EQUAL(xlate_request(m, b, len, FALSE, &r), XLATE_BAD_LENGTH);
	xmap_free(m);
}

/* ListExtensions: hidden names are dropped and the reply rebuilt. */
static void test_list_extensions(void)
{
	static const char *names[] = { "MIT-SHM", "RENDER", "GLX", "DAMAGE",
				       "XVideo", "SHAPE", "NO-SUCH-EXT" };
	XpMap *m = xmap_new();
	XlateReq r = { .ext = proto_core(), .op = 99 };
	guint8 b[256];
	gsize o = 32;
	gssize len;

	memset(b, 0xee, sizeof(b));
	memset(b, 0, 32);
	b[0] = 1;
	b[1] = G_N_ELEMENTS(names);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		b[o] = strlen(names[i]);
		memcpy(b + o + 1, names[i], b[o]);
		o += 1 + b[o];
	}
	o = (o + 3) & ~3;
	P32(b + 4, (o - 32) / 4);
	len = xlate_reply(m, &r, b, o);
	/* RENDER, DAMAGE, SHAPE: 7 + 7 + 6 = 20 bytes, no padding */
	CU_ASSERT_EQUAL(len, 32 + 20);
	CU_ASSERT_EQUAL(b[1], 3);
	CU_ASSERT_EQUAL(G32(b + 4), 5);
	CU_ASSERT_EQUAL(memcmp(b + 32, "\006RENDER\006DAMAGE\005SHAPE", 20),
			0);

	/* RENDER, MIT-SHM: RENDER's 7 bytes are padded with a zero */
	b[1] = 2;
	P32(b + 4, 4);
	memcpy(b + 39, "\007MIT-SHM\xee", 9);
	len = xlate_reply(m, &r, b, 48);
	CU_ASSERT_EQUAL(len, 32 + 8);
	CU_ASSERT_EQUAL(b[1], 1);
	CU_ASSERT_EQUAL(G32(b + 4), 2);
	CU_ASSERT_EQUAL(memcmp(b + 32, "\006RENDER\0", 8), 0);
	xmap_free(m);
}

/* InternAtom: the reply teaches the atom's name. */
static void test_intern_atom(void)
{
	XpMap *m = txm_map();
	guint8 b[64];
	XlateReq r;

	memset(b, 0, 24);
	b[0] = 16;
	P16(b + 2, 5);
	P16(b + 4, 12);
	memcpy(b + 8, "WM_PROTOCOLS", 12);
	CU_ASSERT_EQUAL(xlate_request(m, b, 20, FALSE, &r), XLATE_OK);
	memset(b, 0, 32);
	b[0] = 1;
	P32(b + 8, S_ATOM);
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 32), 32);
	CU_ASSERT_EQUAL(G32(b + 8), C_ATOM);
	CU_ASSERT_STRING_EQUAL(xmap_atom_name(m, C_ATOM), "WM_PROTOCOLS");
	xmap_free(m);
}

/* InternAtom after a restart: a name new to the client whose server value
 * the client already uses for another atom gets a fresh client value, and
 * both atoms translate right both ways. */
static void test_intern_atom_collision(void)
{
	XpMap *m = txm_map();
	guint8 b[64];
	XlateReq r;
	guint32 fresh;

	/* the client knows C_ATOM as WM_PROTOCOLS; the new server gave a
	 * new name the value C_ATOM */
	xmap_note_atom_name(m, C_ATOM, "WM_PROTOCOLS");
	memset(b, 0, 24);
	b[0] = 16;
	P16(b + 2, 5);
	P16(b + 4, 8);
	memcpy(b + 8, "NEW_ATOM", 8);
	CU_ASSERT_EQUAL(xlate_request(m, b, 16, FALSE, &r), XLATE_OK);
	memset(b, 0, 32);
	b[0] = 1;
	P32(b + 8, C_ATOM);
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 32), 32);
	fresh = G32(b + 8);
	CU_ASSERT_NOT_EQUAL(fresh, C_ATOM);
	CU_ASSERT_NOT_EQUAL(fresh, S_ATOM);
	CU_ASSERT_STRING_EQUAL(xmap_atom_name(m, fresh), "NEW_ATOM");
	CU_ASSERT_STRING_EQUAL(xmap_atom_name(m, C_ATOM), "WM_PROTOCOLS");
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_ATOM, fresh), C_ATOM);
	CU_ASSERT_EQUAL(xmap_to_server(m, PROTO_CLASS_ATOM, C_ATOM), S_ATOM);
	CU_ASSERT_EQUAL(xmap_to_client(m, PROTO_CLASS_ATOM, C_ATOM), fresh);
	xmap_free(m);
}

/* XC-MISC GetXIDRange: the range is given in the client's ID space. */
static void test_xid_range(void)
{
	XpMap *m = txm_map();
	XlateReq r = { .ext = txm_ext("XC-MISC"), .op = 1 };
	guint8 b[32];

	memset(b, 0, 32);
	b[0] = 1;
	P32(b + 8, S_BASE | 0x1000);
	P32(b + 12, 0x800);
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 32), 32);
	CU_ASSERT_EQUAL(G32(b + 8), C_BASE | 0x1000);
	CU_ASSERT_EQUAL(G32(b + 12), 0x800);
	xmap_free(m);
}

/* QueryFont reply: the FONT property's value is an atom; a number-valued
 * property (POINT_SIZE) is left alone. */
static void test_font_props(void)
{
	XpMap *m = txm_map();
	XlateReq r = { .ext = proto_core(), .op = 47 };
	guint8 b[76];

	memset(b, 0, sizeof(b));
	b[0] = 1;
	P32(b + 4, (76 - 32) / 4);
	P16(b + 46, 2);				/* two properties */
	P32(b + 60, 18);			/* FONT */
	P32(b + 64, S_ATOM);
	P32(b + 68, 59);			/* POINT_SIZE */
	P32(b + 72, S_ATOM);
	CU_ASSERT_EQUAL(xlate_reply(m, &r, b, 76), 76);
	CU_ASSERT_EQUAL(G32(b + 60), 18);
	CU_ASSERT_EQUAL(G32(b + 64), C_ATOM);
	CU_ASSERT_EQUAL(G32(b + 72), S_ATOM);
	xmap_free(m);
}

static CU_TestInfo txm_tests[] = {
	{ "font properties", test_font_props },
	{ "maps", test_maps },
	{ "requests", test_requests },
	{ "extension requests", test_ext_requests },
	{ "replies", test_replies },
	{ "events", test_events },
	{ "errors", test_errors },
	{ "SendEvent", test_send_event },
	{ "ChangeProperty (big)", test_change_property },
	{ "QueryExtension", test_query_extension },
	{ "ListExtensions", test_list_extensions },
	{ "InternAtom", test_intern_atom },
	{ "InternAtom after a restart (collision)", test_intern_atom_collision },
	{ "GetXIDRange", test_xid_range },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("xmap", txm_tests)
