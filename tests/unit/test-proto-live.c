/*
 * test-proto-live.c: the generated tables against a real X server.
 *
 * Starts a private Xvfb (the first free display of XCKPT_TEST_DISPLAYS,
 * default 50-99), sends raw requests of core X11 and the translated
 * extensions with libxcb, and walks the real replies and events.  Every walk
 * must succeed, and every value the walker reports must be what its kind
 * says: an ATOM the server can name, a WINDOW whose geometry it can give, a
 * VISUALID of the set-up, a COUNTER it can query, and so on.  A description
 * that is off by a byte reports garbage, which these checks catch.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <xcb/xcb.h>
#include <xcb/xcbext.h>

#include "tests/unit/unit.h"
#include "xproxy/proto.h"

/* Displays the private Xvfb may use, unless XCKPT_TEST_DISPLAYS ("A-B", as
 * for the end-to-end tests) says otherwise. */
#define LIVE_FIRST_DISPLAY 50
#define LIVE_LAST_DISPLAY 99
#define LIVE_MAX_VALUES 8192

/* One value the walker reported. */
typedef struct {
	ProtoKind kind;		/* its kind */
	guint32 value;		/* its value */
} LiveValue;

/* What one walk reported. */
typedef struct {
	LiveValue v[LIVE_MAX_VALUES];	/* the values, in wire order */
	guint n;			/* entries in v */
	const guint8 *buf;		/* the walked buffer */
	gsize len;			/* its length */
	gboolean out_of_bounds;		/* a field pointer left the buffer */
} LiveWalk;

/* The private server and the connection to it. */
static UnitXvfb live_xvfb;
static xcb_connection_t *live_c;
static xcb_window_t live_root;
static gboolean live_tried;

/* Kills the private Xvfb at exit. */
static void live_stop(void)
{
	if (live_c)
		xcb_disconnect(live_c);
	live_c = NULL;
	unit_xvfb_stop(&live_xvfb);
}

/* Starts Xvfb on the first free display of the test range and connects;
 * returns the connection (owned here) or NULL. */
static xcb_connection_t *live_conn(void)
{
	int first = LIVE_FIRST_DISPLAY, last = LIVE_LAST_DISPLAY;
	g_autofree char *disp = NULL;

	if (live_tried)
		return live_c;
	live_tried = TRUE;
	if (!unit_display_range(&first, &last))
		return NULL;
	atexit(live_stop);
	if (!unit_xvfb_start(&live_xvfb, &first, last)) {
		fprintf(stderr, "test-proto-live: cannot start Xvfb on :%d-:%d\n",
			first, last);
		return NULL;
	}
	disp = g_strdup_printf(":%d", live_xvfb.display);
	live_c = xcb_connect(disp, NULL);
	if (xcb_connection_has_error(live_c)) {
		xcb_disconnect(live_c);
		live_c = NULL;
		return NULL;
	}
	live_root = xcb_setup_roots_iterator(xcb_get_setup(live_c)).data->root;
	return live_c;
}

/* The visitor: records each value. */
static void live_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	LiveWalk *w = ud;

	if (field < w->buf || field + 4 > w->buf + w->len) {
		w->out_of_bounds = TRUE;
		return;
	}
	if (w->n < LIVE_MAX_VALUES) {
		w->v[w->n].kind = kind;
		w->v[w->n].value = field[0] | field[1] << 8 | field[2] << 16 |
				   (guint32)field[3] << 24;
		w->n++;
	}
}

/* Returns the extension record for XNAME (static storage, as libxcb
 * wants it). */
static xcb_extension_t *live_ext(const char *xname)
{
	static GHashTable *exts;
	xcb_extension_t *e;

	if (!exts)
		exts = g_hash_table_new(g_str_hash, g_str_equal);
	e = g_hash_table_lookup(exts, xname);
	if (!e) {
		e = g_new0(xcb_extension_t, 1);
		e->name = xname;
		g_hash_table_insert(exts, (gpointer)xname, e);
	}
	return e;
}

/* Sends request BODY (LEN bytes, header included; libxcb fills opcode and
 * length) of extension XNAME (NULL: core, OP the major opcode) and returns
 * its reply (g_free) and its length in *RLEN, or NULL on an X error (its
 * code in *ERR_CODE when ERR_CODE is not NULL). */
static guint8 *live_request(const char *xname, guint8 op, guint8 *body,
			    gsize len, gsize *rlen, guint8 *err_code)
{
	struct iovec iov[3];
	xcb_protocol_request_t req = { 1, xname ? live_ext(xname) : NULL, op,
				       0 };
	xcb_generic_error_t *err = NULL;
	unsigned int seq;
	guint8 *reply, *copy;

	g_assert(len % 4 == 0);
	iov[2].iov_base = body;
	iov[2].iov_len = len;
	seq = xcb_send_request(live_c, XCB_REQUEST_CHECKED, iov + 2, &req);
	reply = xcb_wait_for_reply(live_c, seq, &err);
	if (!reply) {
		if (err_code)
			*err_code = err ? err->error_code : 0;
		free(err);
		return NULL;
	}
	*rlen = 32 + 4 * (gsize)(reply[4] | reply[5] << 8 | reply[6] << 16 |
				 (guint32)reply[7] << 24);
	copy = g_memdup2(reply, *rlen);
	free(reply);
	return copy;
}

/* Whether ATOM names an atom. */
static gboolean live_atom_ok(guint32 atom)
{
	xcb_get_atom_name_reply_t *r =
		xcb_get_atom_name_reply(live_c,
					xcb_get_atom_name(live_c, atom), NULL);

	free(r);
	return r != NULL;
}

/* Whether DRAWABLE exists. */
static gboolean live_drawable_ok(guint32 d)
{
	xcb_get_geometry_reply_t *r =
		xcb_get_geometry_reply(live_c, xcb_get_geometry(live_c, d),
				       NULL);

	free(r);
	return r != NULL;
}

/* Whether VISUAL is one of the set-up's visuals. */
static gboolean live_visual_ok(guint32 visual)
{
	xcb_screen_iterator_t s = xcb_setup_roots_iterator(
		xcb_get_setup(live_c));

	for (; s.rem; xcb_screen_next(&s)) {
		xcb_depth_iterator_t d = xcb_screen_allowed_depths_iterator(
			s.data);

		for (; d.rem; xcb_depth_next(&d)) {
			xcb_visualtype_iterator_t v =
				xcb_depth_visuals_iterator(d.data);

			for (; v.rem; xcb_visualtype_next(&v))
				if (v.data->visual_id == visual)
					return TRUE;
		}
	}
	return FALSE;
}

/* Whether a request to check ID of KIND succeeds on the server: raw
 * extension requests that fail with their "bad ID" error otherwise. */
static gboolean live_ext_id_ok(const char *xname, guint8 minor, guint32 id,
			       guint32 extra, gsize len)
{
	guint8 body[16] = { 0 };
	gsize rlen;
	g_autofree guint8 *r = NULL;

	memcpy(body + 4, &id, 4);
	memcpy(body + 8, &extra, 4);
	r = live_request(xname, minor, body, len, &rlen, NULL);
	return r != NULL;
}

/* Checks every value of walk W by its kind; WHAT names the message. */
static void live_check_values(const LiveWalk *w, const char *what)
{
	for (guint i = 0; i < w->n; i++) {
		guint32 v = w->v[i].value;
		gboolean ok = TRUE;

		switch (w->v[i].kind) {
		case PROTO_K_ATOM:
			ok = v == 0 || live_atom_ok(v);
			break;
		case PROTO_K_WINDOW:
		case PROTO_K_DRAWABLE:
		case PROTO_K_PIXMAP:
			/* 0 None, 1 PointerRoot (GetInputFocus); IDs of
			 * client 0 are the server's (e.g. the screen
			 * saver's window, allocated before it exists). */
			ok = v <= 1 || live_drawable_ok(v) || v < 0x200000;
			break;
		case PROTO_K_VISUALID:
			ok = v == 0 || live_visual_ok(v);
			break;
		case PROTO_K_TIMESTAMP:
			/* Server time: milliseconds since it started. */
			ok = v < 0x40000000;
			break;
		case PROTO_K_COUNTER:
			ok = live_ext_id_ok("SYNC", 5, v, 0, 8);
			break;
		case PROTO_K_OUTPUT:
			ok = v == 0 || live_ext_id_ok("RANDR", 9, v, 0, 12);
			break;
		case PROTO_K_CRTC:
			ok = v == 0 || live_ext_id_ok("RANDR", 20, v, 0, 12);
			break;
		case PROTO_K_COLORMAP:
		case PROTO_K_PICTFORMAT:
		case PROTO_K_MODE:
		case PROTO_K_FONT:
			ok = v != 0xffffffff;	/* checked where used */
			break;
		default:
			ok = TRUE;
			break;
		}
		if (!ok)
			fprintf(stderr, "\n  %s: value %u: %s 0x%x is not one",
				what, i, proto_kind_name(w->v[i].kind), v);
		CU_ASSERT_TRUE(ok);
	}
}

/* Walks BUF (LEN bytes) as MSG, checks the result and the values, and
 * returns how many values the walk reported; KINDS gets the count of
 * each kind when not NULL. */
static guint live_walk(const ProtoMsg *msg, ProtoDir dir, guint8 *buf,
		       gsize len, const char *what)
{
	g_autofree LiveWalk *w = g_new0(LiveWalk, 1);
	ProtoWalkResult r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	w->buf = buf;
	w->len = len;
	r = walk_message(msg, dir, buf, len, FALSE, live_visit, w);
	if (r != PROTO_WALK_OK)
		fprintf(stderr, "\n  %s: walk result %d (%zu bytes)", what, r,
			len);
	CU_ASSERT_EQUAL(r, PROTO_WALK_OK);
	CU_ASSERT_FALSE(w->out_of_bounds);
	live_check_values(w, what);
	return w->n;
}

/* Sends a request and walks its reply; returns the number of values the
 * walk reported, or -1 (a failed assertion) without a reply. */
static int live_reply(const char *xname, guint8 op, guint8 *body, gsize len,
		      const char *what)
{
	const ProtoExt *ext = xname ? proto_ext_lookup(xname) : proto_core();
	gsize rlen = 0;
	g_autofree guint8 *r = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ext);
	/* The request itself must walk too. */
	live_walk(proto_request(ext, op), PROTO_REQUEST, body, len, what);
	r = live_request(xname, op, body, len, &rlen, NULL);
	if (!r) {
		fprintf(stderr, "\n  %s: no reply", what);
		CU_FAIL("no reply");
		return -1;
	}
	return live_walk(proto_reply(ext, op), PROTO_REPLY, r, rlen, what);
}

/* Stores V LSB-first at P. */
static void live_put16(guint8 *p, guint16 v)
{
	p[0] = v;
	p[1] = v >> 8;
}

/* Stores V LSB-first at P. */
static void live_put32(guint8 *p, guint32 v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* Returns the atom named NAME (interned). */
static guint32 live_intern(const char *name)
{
	xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(
		live_c, xcb_intern_atom(live_c, 0, strlen(name), name), NULL);
	guint32 a = r ? r->atom : 0;

	free(r);
	return a;
}

#define LIVE_NEED() do {						\
		if (!live_conn()) {					\
			CU_FAIL("no private Xvfb");			\
			return;						\
		}							\
	} while (0)

/* Core replies and the set-up of the private server. */
static void test_live_core(void)
{
	guint8 b[64];
	xcb_font_t font;
	int n;

	LIVE_NEED();
	memset(b, 0, sizeof(b));
	live_put32(b + 4, live_root);
	CU_ASSERT(live_reply(NULL, 3, b, 8, "GetWindowAttributes") == 2);
	CU_ASSERT(live_reply(NULL, 14, b, 8, "GetGeometry") == 1);
	CU_ASSERT(live_reply(NULL, 15, b, 8, "QueryTree") >= 2);
	CU_ASSERT(live_reply(NULL, 21, b, 8, "ListProperties") >= 1);
	CU_ASSERT(live_reply(NULL, 38, b, 8, "QueryPointer") == 2);
	CU_ASSERT(live_reply(NULL, 83, b, 8, "ListInstalledColormaps") >= 1);
	memset(b + 4, 0, 4);
	CU_ASSERT(live_reply(NULL, 43, b, 4, "GetInputFocus") == 1);
	live_put32(b + 4, 1);		/* PRIMARY */
	CU_ASSERT(live_reply(NULL, 23, b, 8, "GetSelectionOwner") == 1);
	/* GetProperty of the root's _XKB_RULES_NAMES: type STRING. */
	memset(b, 0, sizeof(b));
	live_put32(b + 4, live_root);
	live_put32(b + 8, live_intern("_XKB_RULES_NAMES"));
	live_put32(b + 16, 0);
	live_put32(b + 20, 1000);
	CU_ASSERT(live_reply(NULL, 20, b, 24, "GetProperty") == 1);
	/* QueryFont: FONTPROP names are atoms. */
	font = xcb_generate_id(live_c);
	xcb_open_font(live_c, font, 5, "fixed");
	memset(b, 0, sizeof(b));
	live_put32(b + 4, font);
	n = live_reply(NULL, 47, b, 8, "QueryFont");
	CU_ASSERT(n >= 10);
	xcb_close_font(live_c, font);
	/* GetImage: the visual. */
	memset(b, 0, sizeof(b));
	b[1] = 2;			/* ZPixmap */
	live_put32(b + 4, live_root);
	live_put16(b + 12, 1);
	live_put16(b + 14, 1);
	live_put32(b + 16, 0xffffffff);
	CU_ASSERT(live_reply(NULL, 73, b, 20, "GetImage") == 1);
	/* The connection set-up. */
	{
		const xcb_setup_t *s = xcb_get_setup(live_c);
		gsize slen = 8 + 4 * s->length;
		g_autofree guint8 *copy = g_memdup2(s, slen);

		CU_ASSERT(live_walk(proto_setup(), PROTO_REPLY, copy, slen,
				    "Setup") >= 4);
	}
}

/* XKEYBOARD replies: names, indicators, geometry, device info, keymap. */
static void test_live_xkb(void)
{
	guint8 b[64];

	LIVE_NEED();
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 1);		/* UseExtension 1.0 */
	CU_ASSERT(live_reply("XKEYBOARD", 0, b, 8, "xkb UseExtension") == 0);
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 0x100);		/* UseCoreKbd */
	live_put32(b + 8, 0x3fff);		/* every name */
	CU_ASSERT(live_reply("XKEYBOARD", 17, b, 12, "xkb GetNames") >= 20);
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 0x100);
	live_put16(b + 6, 0x300);		/* DfltXIClass */
	live_put16(b + 8, 0x400);		/* DfltXIId */
	live_put32(b + 12, live_intern("Caps Lock"));
	CU_ASSERT(live_reply("XKEYBOARD", 15, b, 16,
			     "xkb GetNamedIndicator") == 1);
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 0x100);		/* GetGeometry, default */
	CU_ASSERT(live_reply("XKEYBOARD", 19, b, 12, "xkb GetGeometry") >=
		  10);
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 0x100);
	live_put16(b + 6, 0x1c);		/* wanted: indicator names, maps,
					 * state */
	live_put16(b + 12, 0x300);		/* DfltXIClass */
	live_put16(b + 14, 0x400);		/* DfltXIId */
	CU_ASSERT(live_reply("XKEYBOARD", 24, b, 16, "xkb GetDeviceInfo") >=
		  5);
	/* GetKbdByName, current keymap, every component (6 empty names). */
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 0x100);
	live_put16(b + 6, 0);		/* need */
	live_put16(b + 8, 0xff);		/* want */
	CU_ASSERT(live_reply("XKEYBOARD", 23, b, 20, "xkb GetKbdByName") >=
		  0);
}

/* RENDER formats, RANDR resources, outputs, CRTCs, monitors. */
static void test_live_render_randr(void)
{
	guint8 b[64];
	gsize rlen;
	g_autofree guint8 *res = NULL;
	guint32 cfg, outputs[8], crtcs[8];
	guint n_out, n_crtc;

	LIVE_NEED();
	memset(b, 0, sizeof(b));
	live_put32(b + 4, 0);
	live_put32(b + 8, 11);
	CU_ASSERT(live_reply("RENDER", 0, b, 12, "render QueryVersion") == 0);
	CU_ASSERT(live_reply("RENDER", 1, b, 4, "render QueryPictFormats") >
		  20);
	live_put32(b + 4, 1);
	live_put32(b + 8, 6);
	CU_ASSERT(live_reply("RANDR", 0, b, 12, "randr QueryVersion") == 0);
	live_put32(b + 4, live_root);
	CU_ASSERT(live_reply("RANDR", 8, b, 8, "randr GetScreenResources") >=
		  4);
	CU_ASSERT(live_reply("RANDR", 25, b, 8,
			     "randr GetScreenResourcesCurrent") >= 4);
	CU_ASSERT(live_reply("RANDR", 31, b, 8, "randr GetOutputPrimary") ==
		  1);
	CU_ASSERT(live_reply("RANDR", 32, b, 8, "randr GetProviders") >= 1);
	b[8] = 1;
	CU_ASSERT(live_reply("RANDR", 42, b, 12, "randr GetMonitors") >= 2);
	/* The outputs and CRTCs, from the raw reply. */
	res = live_request("RANDR", 8, b, 8, &rlen, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	cfg = res[12] | res[13] << 8 | res[14] << 16 | (guint32)res[15] << 24;
	n_crtc = MIN(res[16] | res[17] << 8, 8);
	n_out = MIN(res[18] | res[19] << 8, 8);
	memcpy(crtcs, res + 32, 4 * n_crtc);
	memcpy(outputs, res + 32 + 4 * (res[16] | res[17] << 8), 4 * n_out);
	CU_ASSERT(n_out >= 1);
	for (guint i = 0; i < n_out; i++) {
		live_put32(b + 4, outputs[i]);
		live_put32(b + 8, cfg);
		CU_ASSERT(live_reply("RANDR", 9, b, 12, "randr GetOutputInfo")
			  >= 2);
		CU_ASSERT(live_reply("RANDR", 10, b, 8,
				     "randr ListOutputProperties") >= 0);
	}
	for (guint i = 0; i < n_crtc; i++) {
		live_put32(b + 4, crtcs[i]);
		live_put32(b + 8, cfg);
		CU_ASSERT(live_reply("RANDR", 20, b, 12, "randr GetCrtcInfo")
			  >= 2);
	}
}

/* XInput, SYNC, X-Resource, DBE, Composite, screen saver, XFIXES and
 * XINERAMA replies. */
static void test_live_others(void)
{
	guint8 b[64];

	LIVE_NEED();
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 2);
	live_put16(b + 6, 4);
	CU_ASSERT(live_reply("XInputExtension", 47, b, 8,
			     "xi XIQueryVersion") == 0);
	live_put16(b + 4, 0);		/* AllDevices */
	CU_ASSERT(live_reply("XInputExtension", 48, b, 8,
			     "xi XIQueryDevice") >= 4);
	CU_ASSERT(live_reply("XInputExtension", 2, b, 4,
			     "xi ListInputDevices") >= 2);
	live_put16(b + 4, 2);		/* the master pointer */
	CU_ASSERT(live_reply("XInputExtension", 56, b, 8,
			     "xi XIListProperties") >= 1);
	memset(b, 0, sizeof(b));
	b[4] = 3;
	b[5] = 1;
	CU_ASSERT(live_reply("SYNC", 0, b, 8, "sync Initialize") == 0);
	CU_ASSERT(live_reply("SYNC", 1, b, 4, "sync ListSystemCounters") >=
		  1);
	memset(b, 0, sizeof(b));
	b[4] = 1;
	b[5] = 2;
	CU_ASSERT(live_reply("X-Resource", 0, b, 8, "res QueryVersion") == 0);
	CU_ASSERT(live_reply("X-Resource", 1, b, 4, "res QueryClients") == 0);
	live_put32(b + 4, xcb_get_setup(live_c)->resource_id_base);
	CU_ASSERT(live_reply("X-Resource", 2, b, 8,
			     "res QueryClientResources") >= 0);
	/* Every resource of every client: (XID, type atom) pairs. */
	memset(b, 0, sizeof(b));
	live_put32(b + 8, 1);
	CU_ASSERT(live_reply("X-Resource", 5, b, 20,
			     "res QueryResourceBytes") >= 20);
	live_put32(b + 4, 1);		/* QueryClientIds: all, by XID */
	live_put32(b + 12, 1);
	CU_ASSERT(live_reply("X-Resource", 4, b, 16,
			     "res QueryClientIds") >= 1);
	memset(b, 0, sizeof(b));
	b[4] = 1;
	CU_ASSERT(live_reply("DOUBLE-BUFFER", 0, b, 8, "dbe QueryVersion") ==
		  0);
	live_put32(b + 4, 1);
	live_put32(b + 8, live_root);
	CU_ASSERT(live_reply("DOUBLE-BUFFER", 6, b, 12, "dbe GetVisualInfo") >=
		  1);
	memset(b, 0, sizeof(b));
	live_put32(b + 4, 0);
	live_put32(b + 8, 4);
	CU_ASSERT(live_reply("Composite", 0, b, 12, "composite QueryVersion")
		  == 0);
	live_put32(b + 4, live_root);
	CU_ASSERT(live_reply("Composite", 7, b, 8,
			     "composite GetOverlayWindow") == 1);
	CU_ASSERT(live_reply("MIT-SCREEN-SAVER", 1, b, 8,
			     "screensaver QueryInfo") == 1);
	memset(b, 0, sizeof(b));
	live_put32(b + 4, 6);
	CU_ASSERT(live_reply("XFIXES", 0, b, 12, "xfixes QueryVersion") == 0);
	CU_ASSERT(live_reply("XFIXES", 25, b, 4,
			     "xfixes GetCursorImageAndName") == 1);
	CU_ASSERT(live_reply("XINERAMA", 5, b, 4, "xinerama QueryScreens") ==
		  0);
}

/* Waits for the next event whose code (without the SendEvent bit) is
 * CODE, and for a Generic Event also of extension major EXT and type
 * EVTYPE; returns it (free) or NULL after a few seconds. */
static xcb_generic_event_t *live_event(guint8 code, guint8 ext,
				       guint16 evtype)
{
	for (int i = 0; i < 300; i++) {
		xcb_generic_event_t *e;

		xcb_flush(live_c);
		while ((e = xcb_poll_for_event(live_c))) {
			guint8 *p = (guint8 *)e;

			if ((p[0] & 0x7f) == code &&
			    (code != 35 || (p[1] == ext &&
			     (p[8] | p[9] << 8) == evtype)))
				return e;
			free(e);
		}
		g_usleep(10000);
	}
	return NULL;
}

/* Walks event E (libxcb's copy: a Generic Event has 4 extra bytes at 32,
 * which are removed here). */
static guint live_walk_event(const ProtoMsg *m, xcb_generic_event_t *e,
			     const char *what)
{
	guint8 *p = (guint8 *)e;
	gsize len = 32;
	g_autofree guint8 *copy = NULL;

	if ((p[0] & 0x7f) == 35) {
		guint32 extra = p[4] | p[5] << 8 | p[6] << 16 |
				(guint32)p[7] << 24;

		len = 32 + 4 * (gsize)extra;
		copy = g_malloc(len);
		memcpy(copy, p, 32);
		memcpy(copy + 32, p + 36, len - 32);
	} else {
		copy = g_memdup2(p, 32);
	}
	return live_walk(m, PROTO_EVENT, copy, len, what);
}

/* Returns libxcb's QueryExtension answer for XNAME (cached by libxcb). */
static const xcb_query_extension_reply_t *live_ext_info(const char *xname)
{
	return xcb_get_extension_data(live_c, live_ext(xname));
}

/* Real core, XFIXES, XKB and XI2 events, each of a known content. */
static void test_live_events(void)
{
	guint8 b[64];
	xcb_window_t w;
	guint32 mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY |
		       XCB_EVENT_MASK_PROPERTY_CHANGE;
	const xcb_query_extension_reply_t *xi, *xkb, *xfixes, *xtest;
	xcb_generic_event_t *e;
	gsize rlen;

	LIVE_NEED();
	xi = live_ext_info("XInputExtension");
	xkb = live_ext_info("XKEYBOARD");
	xfixes = live_ext_info("XFIXES");
	xtest = live_ext_info("XTEST");
	CU_ASSERT_FATAL(xi && xi->present && xkb && xkb->present &&
			xfixes && xfixes->present && xtest && xtest->present);

	/* Core: CreateNotify on the root, ConfigureNotify, PropertyNotify. */
	xcb_change_window_attributes(live_c, live_root, XCB_CW_EVENT_MASK,
				     (guint32[]){
					     XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY });
	w = xcb_generate_id(live_c);
	xcb_create_window(live_c, XCB_COPY_FROM_PARENT, w, live_root, 10, 10,
			  100, 100, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT,
			  XCB_COPY_FROM_PARENT, XCB_CW_EVENT_MASK, &mask);
	e = live_event(XCB_CREATE_NOTIFY, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(live_walk_event(proto_event(proto_core(), XCB_CREATE_NOTIFY),
				  e, "CreateNotify") == 2);
	free(e);
	xcb_configure_window(live_c, w, XCB_CONFIG_WINDOW_X,
			     (guint32[]){ 20 });
	e = live_event(XCB_CONFIGURE_NOTIFY, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(live_walk_event(proto_event(proto_core(),
					      XCB_CONFIGURE_NOTIFY),
				  e, "ConfigureNotify") == 3);
	free(e);
	xcb_change_property(live_c, XCB_PROP_MODE_REPLACE, w,
			    XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8, 4, "live");
	e = live_event(XCB_PROPERTY_NOTIFY, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(live_walk_event(proto_event(proto_core(),
					      XCB_PROPERTY_NOTIFY),
				  e, "PropertyNotify") == 3);
	free(e);
	xcb_map_window(live_c, w);

	/* XFIXES SelectionNotify. */
	memset(b, 0, sizeof(b));
	live_put32(b + 4, w);
	live_put32(b + 8, 1);		/* PRIMARY */
	live_put32(b + 12, 7);		/* every selection event */
	xcb_send_request(live_c, 0, (struct iovec[]){ { 0 }, { 0 },
						      { b, 16 } } + 2,
			 &(xcb_protocol_request_t){ 1, live_ext("XFIXES"), 2,
						    1 });
	xcb_set_selection_owner(live_c, w, XCB_ATOM_PRIMARY,
				XCB_CURRENT_TIME);
	e = live_event(xfixes->first_event + 0, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(live_walk_event(proto_event(proto_ext_lookup("XFIXES"), 0),
				  e, "xfixes SelectionNotify") == 5);
	free(e);

	/* XKB StateNotify, through the xkbType dispatch. */
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 0x100);
	live_put16(b + 6, 0x4);		/* affectWhich: StateNotify */
	live_put16(b + 10, 0x4);		/* selectAll */
	xcb_send_request(live_c, 0, (struct iovec[]){ { 0 }, { 0 },
						      { b, 16 } } + 2,
			 &(xcb_protocol_request_t){ 1, live_ext("XKEYBOARD"),
						    1, 1 });
	/* XI2: button presses on the root. */
	memset(b, 0, sizeof(b));
	live_put32(b + 4, live_root);
	live_put16(b + 8, 1);		/* one mask */
	live_put16(b + 12, 1);		/* AllMasterDevices */
	live_put16(b + 14, 1);		/* one word */
	live_put32(b + 16, 1 << 4);		/* ButtonPress */
	xcb_send_request(live_c, 0, (struct iovec[]){ { 0 }, { 0 },
						      { b, 20 } } + 2,
			 &(xcb_protocol_request_t){ 1,
						    live_ext("XInputExtension"),
						    46, 1 });
	/* XTEST: a key (shift) and a button. */
	memset(b, 0, sizeof(b));
	b[4] = 2;			/* KeyPress */
	b[5] = 50;			/* Shift_L on the default map */
	xcb_send_request(live_c, 0, (struct iovec[]){ { 0 }, { 0 },
						      { b, 36 } } + 2,
			 &(xcb_protocol_request_t){ 1, live_ext("XTEST"), 2,
						    1 });
	b[4] = 3;
	xcb_send_request(live_c, 0, (struct iovec[]){ { 0 }, { 0 },
						      { b, 36 } } + 2,
			 &(xcb_protocol_request_t){ 1, live_ext("XTEST"), 2,
						    1 });
	e = live_event(xkb->first_event, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(((guint8 *)e)[1], 2);	/* StateNotify */
	CU_ASSERT(live_walk_event(proto_event(proto_ext_lookup("XKEYBOARD"),
					      0), e, "xkb StateNotify") == 1);
	free(e);
	b[4] = 4;			/* ButtonPress */
	b[5] = 1;
	xcb_send_request(live_c, 0, (struct iovec[]){ { 0 }, { 0 },
						      { b, 36 } } + 2,
			 &(xcb_protocol_request_t){ 1, live_ext("XTEST"), 2,
						    1 });
	b[4] = 5;
	xcb_send_request(live_c, 0, (struct iovec[]){ { 0 }, { 0 },
						      { b, 36 } } + 2,
			 &(xcb_protocol_request_t){ 1, live_ext("XTEST"), 2,
						    1 });
	e = live_event(35, xi->major_opcode, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT(live_walk_event(proto_ge_event(
					  proto_ext_lookup("XInputExtension"),
					  4), e, "xi2 ButtonPress") == 4);
	free(e);
	xcb_destroy_window(live_c, w);
	xcb_flush(live_c);
	(void)rlen;
}

/* Sends raw void request BODY (LEN bytes) of extension XNAME. */
static void live_send(const char *xname, guint8 minor, guint8 *body,
		      gsize len)
{
	struct iovec iov[3];
	xcb_protocol_request_t req = { 1, live_ext(xname), minor, 1 };

	iov[2].iov_base = body;
	iov[2].iov_len = len;
	xcb_send_request(live_c, 0, iov + 2, &req);
}

/* XTEST FakeInput of TYPE with DETAIL (and a root position for motion). */
static void live_fake(guint8 type, guint8 detail, gint16 x, gint16 y)
{
	guint8 b[36] = { 0 };

	b[4] = type;
	b[5] = detail;
	live_put16(b + 24, x);
	live_put16(b + 26, y);
	live_send("XTEST", 2, b, 36);
}

/* Every event a burst of input produces: all XI2 device and raw events, all
 * XKB events, core structure and property events.  Each must walk with the
 * description its code (or Generic Event type, or xkbType) selects, and its
 * IDs must check out. */
static void test_live_all_events(void)
{
	static const char *const exts[] = {
		"XKEYBOARD", "XFIXES", "RANDR", "XInputExtension", "SYNC",
		"DAMAGE", "SHAPE", "MIT-SCREEN-SAVER",
	};
	const xcb_query_extension_reply_t *xi;
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	guint8 b[64];
	xcb_generic_event_t *e;
	guint walked = 0;

	LIVE_NEED();
	xi = live_ext_info("XInputExtension");
	CU_ASSERT_FATAL(xi && xi->present);
	/* Forget the events of the tests before (about windows now gone). */
	free(xcb_get_input_focus_reply(live_c, xcb_get_input_focus(live_c),
				       NULL));
	while ((e = xcb_poll_for_event(live_c)))
		free(e);
	/* XI2: every device and raw event, all devices, on the root. */
	memset(b, 0, sizeof(b));
	live_put32(b + 4, live_root);
	live_put16(b + 8, 1);
	live_put16(b + 12, 0);		/* AllDevices */
	live_put16(b + 14, 1);
	live_put32(b + 16, 0x3fffe);		/* DeviceChanged .. RawMotion */
	live_send("XInputExtension", 46, b, 20);
	/* XKB: every event. */
	memset(b, 0, sizeof(b));
	live_put16(b + 4, 0x100);
	live_put16(b + 6, 0xfff);		/* affectWhich */
	live_put16(b + 10, 0xfff);		/* selectAll */
	live_send("XKEYBOARD", 1, b, 16);
	/* Input: motion, a modifier and a letter, a button. */
	live_fake(6, 0, 30, 40);	/* MotionNotify, absolute */
	live_fake(6, 0, 300, 200);
	live_fake(2, 50, 0, 0);		/* Shift_L */
	live_fake(2, 38, 0, 0);		/* a */
	live_fake(3, 38, 0, 0);
	live_fake(3, 50, 0, 0);
	live_fake(2, 66, 0, 0);		/* Caps_Lock: indicators change */
	live_fake(3, 66, 0, 0);
	live_fake(4, 1, 0, 0);
	live_fake(5, 1, 0, 0);
	xcb_flush(live_c);
	g_usleep(300000);
	while ((e = xcb_poll_for_event(live_c))) {
		guint8 *p = (guint8 *)e;
		guint8 code = p[0] & 0x7f;
		const ProtoMsg *m = NULL;
		g_autofree char *what = NULL;

		if (code == 0) {		/* an error */
			free(e);
			continue;
		}
		if (code == 35) {
			if (p[1] == xi->major_opcode)
				m = proto_ge_event(proto_ext_lookup(
							   "XInputExtension"),
						   p[8] | p[9] << 8);
		} else if (code < 64) {
			m = proto_event(proto_core(), code);
		} else {
			for (guint i = 0; i < G_N_ELEMENTS(exts); i++) {
				const xcb_query_extension_reply_t *q =
					live_ext_info(exts[i]);
				const ProtoExt *x = proto_ext_lookup(exts[i]);

				if (q && q->present &&
				    code >= q->first_event &&
				    code < q->first_event +
					   proto_ext_n_events(x))
					m = proto_event(x, code -
							q->first_event);
			}
		}
		if (m) {
			guint8 sub = proto_msg_name(m)[0] == 'X' ? p[1] : 0;

			what = sub ? g_strdup_printf("%s/%s",
				proto_msg_name(m),
				proto_msg_name(proto_xkb_event(sub))) :
				g_strdup(proto_msg_name(m));
			live_walk_event(m, e, what);
			g_hash_table_add(seen,
					 (gpointer)g_intern_string(what));
			walked++;
		} else {
			fprintf(stderr, "\n  event %u (%u) has no "
				"description", code, p[1]);
			CU_FAIL("event without description");
		}
		free(e);
	}
	if (g_getenv("XCKPT_TEST_VERBOSE")) {
		GHashTableIter it;
		gpointer k;

		g_hash_table_iter_init(&it, seen);
		fprintf(stderr, "\n  %u events walked:", walked);
		while (g_hash_table_iter_next(&it, &k, NULL))
			fprintf(stderr, " %s", (char *)k);
	}
	/* Core, XKB (several subtypes) and XI2 device and raw events. */
	CU_ASSERT(g_hash_table_size(seen) >= 10);
}

static CU_TestInfo live_tests[] = {
	{ "core replies and set-up", test_live_core },
	{ "XKEYBOARD replies", test_live_xkb },
	{ "RENDER and RANDR replies", test_live_render_randr },
	{ "XI, SYNC, X-Resource, DBE, Composite, ... replies",
	  test_live_others },
	{ "events", test_live_events },
	{ "every event of an input burst", test_live_all_events },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("walk-live", live_tests)
