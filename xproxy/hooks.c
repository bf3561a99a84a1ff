/*
 * hooks.c: the closed set of hand-written protocol handlers (see hooks.h).
 *
 * Everything here is something xcb-proto's XML cannot express: a field whose
 * meaning depends on another field's value (property data typed by an atom,
 * ClientMessage data typed by its message type), a reply that must be
 * understood with its request (InternAtom, QueryExtension), or the proxy's
 * own policy (hidden extensions).  Offsets are the protocol's, from the X11
 * and extension specifications; every access is bounds-checked against the
 * message length.
 */
#include <string.h>

#include "xproxy/extpolicy.h"
#include "xproxy/hooks.h"
#include "xproxy/log.h"
#include "xproxy/xlate.h"

/* Predefined atoms the hooks look at. */
enum {
	HOOKS_XA_ATOM = 4,
	HOOKS_XA_BITMAP = 5,
	HOOKS_XA_COLORMAP = 7,
	HOOKS_XA_CURSOR = 8,
	HOOKS_XA_DRAWABLE = 17,
	HOOKS_XA_FONT = 18,
	HOOKS_XA_PIXMAP = 20,
	HOOKS_XA_VISUALID = 32,
	HOOKS_XA_WINDOW = 33,
	HOOKS_XA_WM_HINTS = 35,
};

/* Offset O of a request field, allowing for the BIG-REQUESTS form (4 extra
 * length bytes after byte 4). */
static inline gsize hooks_off(const HookArgs *a, gsize o)
{
	return o >= 4 && a->big ? o + 4 : o;
}

/* Translates one CARD32 at P of class CLS in the given direction. */
static void hooks_xlate32(XpMap *map, guint8 *p, ProtoClass cls,
			  gboolean to_server)
{
	guint32 v = xlate_get32(p);
	guint32 n = to_server ? xmap_to_server(map, cls, v) :
				xmap_to_client(map, cls, v);

	if (n != v)
		xlate_put32(p, n);
}

/* The class of the elements of a format-32 property of type TYPE (a
 * predefined atom, so the same in both views), or NONE. */
static ProtoClass hooks_property_class(guint32 type)
{
	switch (type) {
	case HOOKS_XA_ATOM:
		return PROTO_CLASS_ATOM;
	case HOOKS_XA_BITMAP:
	case HOOKS_XA_COLORMAP:
	case HOOKS_XA_CURSOR:
	case HOOKS_XA_DRAWABLE:
	case HOOKS_XA_FONT:
	case HOOKS_XA_PIXMAP:
	case HOOKS_XA_WINDOW:
		return PROTO_CLASS_XID;
	case HOOKS_XA_VISUALID:
		return PROTO_CLASS_SERVER_ID;
	default:
		return PROTO_CLASS_NONE;
	}
}

/* Translates N format-32 elements of a property of type TYPE at DATA.
 * WM_HINTS holds XIDs at elements 3 (icon pixmap), 4 (icon window), 7 (icon
 * mask) and 8 (window group). */
static void hooks_property_data(XpMap *map, guint32 type, guint8 *data,
				gsize n, gboolean to_server)
{
	ProtoClass cls = hooks_property_class(type);

	if (xmap_is_identity(map))
		return;
	if (type == HOOKS_XA_WM_HINTS) {
		static const guint8 ids[] = { 3, 4, 7, 8 };
		for (guint i = 0; i < G_N_ELEMENTS(ids); i++)
			if (ids[i] < n)
				hooks_xlate32(map, data + 4 * ids[i],
					      PROTO_CLASS_XID, to_server);
		return;
	}
	if (cls == PROTO_CLASS_NONE)
		return;
	for (gsize i = 0; i < n; i++)
		hooks_xlate32(map, data + 4 * i, cls, to_server);
}

/* ChangeProperty request: translates the data of a format-32 property whose
 * type says it holds atoms or IDs. */
static gssize hooks_change_property(HookArgs *a)
{
	gsize h = hooks_off(a, 24);
	guint32 type, n;

	if (a->len < h)
		return -1;
	if (a->buf[hooks_off(a, 16)] != 32)
		return a->len;
	type = xlate_get32(a->buf + hooks_off(a, 12));
	n = xlate_get32(a->buf + hooks_off(a, 20));
	if (n > (a->len - h) / 4)
		return -1;
	hooks_property_data(a->map, type, a->buf + h, n, TRUE);
	return a->len;
}

/* GetProperty reply: the same for the returned value. */
static gssize hooks_get_property(HookArgs *a)
{
	guint32 n;

	if (a->len < 32)
		return -1;
	if (a->buf[1] != 32)
		return a->len;
	n = xlate_get32(a->buf + 16);
	if (n > (a->len - 32) / 4)
		return -1;
	hooks_property_data(a->map, xlate_get32(a->buf + 8), a->buf + 32, n,
			    FALSE);
	return a->len;
}

/* InternAtom request: notes the name (as a quark, so no allocation per
 * request once a name is known) for the reply. */
static gssize hooks_intern_atom(HookArgs *a)
{
	gsize h = hooks_off(a, 8);
	guint16 n;
	char name[256];

	if (a->len < h)
		return -1;
	n = xlate_get16(a->buf + 4 + (a->big ? 4 : 0));
	if (n > a->len - h)
		return -1;
	if (n >= sizeof(name)) {
		a->hook_data = 0;
		return a->len;
	}
	memcpy(name, a->buf + h, n);
	name[n] = 0;
	a->hook_data = g_quark_from_string(name);
	return a->len;
}

/* InternAtom reply: learns the name of the returned (client) atom. */
static gssize hooks_intern_atom_reply(HookArgs *a)
{
	guint32 atom;

	if (a->len < 32)
		return -1;
	atom = xlate_get32(a->buf + 8);
	if (atom && a->hook_data && !xmap_is_identity(a->map) &&
	    atom > XMAP_LAST_PREDEFINED_ATOM) {
		/* After a restart: a name new to the client whose server
		 * value passed unchanged may be a value the client already
		 * knows as another atom; it gets a fresh client value. */
		const char *name = g_quark_to_string(a->hook_data);
		const char *known = xmap_atom_name(a->map, atom);
		if (known && strcmp(known, name) != 0) {
			guint32 fresh = xmap_atom_fresh(a->map);
			xmap_add(a->map, PROTO_CLASS_ATOM, fresh, atom);
			atom = fresh;
			xlate_put32(a->buf + 8, atom);
		}
	}
	if (atom && a->hook_data)
		xmap_note_atom_name(a->map, atom,
				    g_quark_to_string(a->hook_data));
	return a->len;
}

/* GetAtomName request: notes the atom asked about (server's view). */
static gssize hooks_get_atom_name(HookArgs *a)
{
	if (a->len < hooks_off(a, 8))
		return -1;
	a->hook_data = xlate_get32(a->buf + hooks_off(a, 4));
	return a->len;
}

/* GetAtomName reply: learns that name. */
static gssize hooks_get_atom_name_reply(HookArgs *a)
{
	guint16 n;
	char name[256];

	if (a->len < 32)
		return -1;
	n = xlate_get16(a->buf + 8);
	if (n > a->len - 32)
		return -1;
	if (n < sizeof(name) && a->hook_data) {
		memcpy(name, a->buf + 32, n);
		name[n] = 0;
		xmap_note_atom_name(a->map,
				    xmap_to_client(a->map, PROTO_CLASS_ATOM,
						   a->hook_data), name);
	}
	return a->len;
}

/* QueryExtension request: applies the policy.  hook_data is 1 + the index of
 * the extension's tables (proto_ext_nth), or 0 when it is hidden. */
static gssize hooks_query_extension(HookArgs *a)
{
	gsize h = hooks_off(a, 8);
	guint16 n;
	const ProtoExt *ext;

	if (a->len < h)
		return -1;
	n = xlate_get16(a->buf + hooks_off(a, 4));
	if (n > a->len - h)
		return -1;
	ext = extpolicy_lookup((const char *)a->buf + h, n);
	a->hook_data = 0;
	for (guint i = 0; ext && i < proto_n_exts(); i++)
		if (proto_ext_nth(i) == ext)
			a->hook_data = i + 1;
	if (!a->hook_data)
		log_debug("hiding extension %.*s", n, (const char *)a->buf + h);
	return a->len;
}

gboolean hooks_remap_exts;

/* The mirror image of the N codes from FIRST within [LO, HI]: what the
 * client is told under hooks_remap_exts (0 stays 0: no codes). */
static guint8 hooks_mirror(guint8 first, guint n, guint lo, guint hi)
{
	if (!first || !n)
		return first;
	return lo + hi - (first + n - 1);
}

/* QueryExtension reply: "absent" for a hidden extension; otherwise registers
 * the extension's codes (the identity on first sight, unless
 * hooks_remap_exts) and answers with the client's codes. */
static gssize hooks_query_extension_reply(HookArgs *a)
{
	guint8 *r = a->buf;
	const ProtoExt *ext;
	guint8 cmajor, cevent, cerror;

	if (a->len < 32)
		return -1;
	if (!a->hook_data || !r[8]) {
		r[8] = r[9] = r[10] = r[11] = 0;
		return a->len;
	}
	ext = proto_ext_nth(a->hook_data - 1);
	cmajor = r[9];
	cevent = r[10];
	cerror = r[11];
	if (hooks_remap_exts) {
		/* Test mode: mirror the major opcodes (128..255), event codes
		 * (64..127) and error codes (128..255): distinct extensions
		 * stay distinct, and every code differs from the server's. */
		cmajor = 383 - r[9];
		cevent = hooks_mirror(r[10], proto_ext_n_events(ext), 64, 127);
		cerror = hooks_mirror(r[11], proto_ext_n_errors(ext), 128, 255);
	}
	xmap_add_ext(a->map, ext, cmajor, cevent, cerror, r[9], r[10], r[11]);
	r[9] = cmajor;
	r[10] = cevent;
	r[11] = cerror;
	return a->len;
}

/* ListExtensions reply: drops the names of hidden extensions and rebuilds the
 * reply (count, length, padding) in place.  Returns the new length. */
static gssize hooks_list_extensions_reply(HookArgs *a)
{
	guint8 *r = a->buf;
	guint count, kept = 0;
	gsize in = 32, out = 32, total;

	if (a->len < 32)
		return -1;
	count = r[1];
	for (guint i = 0; i < count; i++) {
		guint8 n;

		if (in >= a->len || in + 1 + r[in] > a->len)
			return -1;
		n = r[in];
		if (extpolicy_lookup((const char *)r + in + 1, n)) {
			memmove(r + out, r + in, 1 + n);
			out += 1 + n;
			kept++;
		}
		in += 1 + n;
	}
	total = (out + 3) & ~(gsize)3;
	memset(r + out, 0, total - out);
	r[1] = kept;
	xlate_put32(r + 4, (total - 32) / 4);
	return total;
}

/* SendEvent request: the 32-byte event inside is an event like any other. */
static gssize hooks_send_event(HookArgs *a)
{
	gsize e = hooks_off(a, 12);

	if (a->len < e + 32)
		return -1;
	if (!xlate_event(a->map, a->buf + e, 32, TRUE))
		return -1;
	return a->len;
}

/* XC-MISC GetXIDRange reply: the new range is in the server connection's ID
 * space; the client must see it in its own. */
static gssize hooks_get_xid_range_reply(HookArgs *a)
{
	if (a->len < 32)
		return -1;
	hooks_xlate32(a->map, a->buf + 8, PROTO_CLASS_XID, FALSE);
	return a->len;
}

/* XC-MISC GetXIDList reply: likewise for each free ID. */
static gssize hooks_get_xid_list_reply(HookArgs *a)
{
	guint32 n;

	if (a->len < 32)
		return -1;
	n = xlate_get32(a->buf + 8);
	if (n > (a->len - 32) / 4)
		return -1;
	for (guint32 i = 0; i < n && !xmap_is_identity(a->map); i++)
		hooks_xlate32(a->map, a->buf + 32 + 4 * i, PROTO_CLASS_XID,
			      FALSE);
	return a->len;
}

/* Font properties whose values are atoms (strings, in XLFD terms), by the
 * property's name.  The predefined ones are recognised by number. */
static const char *const hooks_font_atom_props[] = {
	"FOUNDRY", "WEIGHT_NAME", "SLANT", "SETWIDTH_NAME", "ADD_STYLE_NAME",
	"SPACING", "CHARSET_REGISTRY", "CHARSET_ENCODING", "FACE_NAME",
	"FONT_TYPE", "RASTERIZER_NAME", "_XFREE86_GLYPH_RANGES",
};

/* Whether font property NAME (client's view) holds an atom: FONT (18),
 * COPYRIGHT .. FULL_NAME (61..65), or a known string property. */
static gboolean hooks_font_prop_is_atom(const XpMap *map, guint32 name)
{
	const char *n;

	if (name == 18 || (name >= 61 && name <= 65))
		return TRUE;
	n = xmap_atom_name(map, name);
	for (guint i = 0; n && i < G_N_ELEMENTS(hooks_font_atom_props); i++)
		if (strcmp(n, hooks_font_atom_props[i]) == 0)
			return TRUE;
	return FALSE;
}

/* QueryFont and ListFontsWithInfo replies: FONTPROP values are CARD32 in the
 * XML, but those of string properties (FONT, FAMILY_NAME...) are atoms; the
 * walker has translated the names already. */
static gssize hooks_font_props(HookArgs *a)
{
	guint n;

	if (a->len < 60)
		return -1;
	if (a->buf[0] == 1 && a->buf[1] == 0 && xlate_get16(a->buf + 46) == 0)
		return a->len;		/* ListFontsWithInfo's last reply */
	n = xlate_get16(a->buf + 46);
	if (n > (a->len - 60) / 8)
		return -1;
	for (guint i = 0; i < n && !xmap_is_identity(a->map); i++) {
		guint8 *prop = a->buf + 60 + 8 * i;
		if (hooks_font_prop_is_atom(a->map, xlate_get32(prop)))
			hooks_xlate32(a->map, prop + 4, PROTO_CLASS_ATOM,
				      FALSE);
	}
	return a->len;
}

/* One hook. */
typedef struct {
	const char *ext;	/* extension X name, NULL for core */
	guint op;		/* opcode (major for core, minor otherwise) */
	HookWhen when;		/* request or reply */
	HookFn fn;		/* the handler */
} Hook;

/* The complete set.  Keep it short: every entry is a place where the XML
 * is not enough. */
static const Hook hooks_table[] = {
	/* InternAtom: learn name <-> atom (restart rebuilds atoms by name). */
	{ NULL, 16, HOOK_REQUEST, hooks_intern_atom },
	{ NULL, 16, HOOK_REPLY, hooks_intern_atom_reply },
	/* GetAtomName: learn the name of an atom the client got elsewhere. */
	{ NULL, 17, HOOK_REQUEST, hooks_get_atom_name },
	{ NULL, 17, HOOK_REPLY, hooks_get_atom_name_reply },
	/* ChangeProperty / GetProperty: data typed ATOM, WINDOW, ... */
	{ NULL, 18, HOOK_REQUEST, hooks_change_property },
	{ NULL, 20, HOOK_REPLY, hooks_get_property },
	/* QueryFont / ListFontsWithInfo: atom-valued font properties. */
	{ NULL, 47, HOOK_REPLY, hooks_font_props },
	{ NULL, 50, HOOK_REPLY, hooks_font_props },
	/* SendEvent: the embedded event. */
	{ NULL, 25, HOOK_REQUEST, hooks_send_event },
	/* QueryExtension / ListExtensions: policy and opcode maps. */
	{ NULL, 98, HOOK_REQUEST, hooks_query_extension },
	{ NULL, 98, HOOK_REPLY, hooks_query_extension_reply },
	{ NULL, 99, HOOK_REPLY, hooks_list_extensions_reply },
	/* XC-MISC: ID ranges handed to the client. */
	{ "XC-MISC", 1, HOOK_REPLY, hooks_get_xid_range_reply },
	{ "XC-MISC", 2, HOOK_REPLY, hooks_get_xid_list_reply },
};

/* Core hooks by opcode, filled on first use. */
static HookFn hooks_core[HOOK_N_WHEN][128];
/* The tables of each hook's extension, filled on first use. */
static const ProtoExt *hooks_ext[G_N_ELEMENTS(hooks_table)];

/* Fills the lookup tables once. */
static void hooks_init(void)
{
	static gsize done;

	if (!g_once_init_enter(&done))
		return;
	for (guint i = 0; i < G_N_ELEMENTS(hooks_table); i++) {
		const Hook *h = &hooks_table[i];
		if (!h->ext)
			hooks_core[h->when][h->op] = h->fn;
		else
			hooks_ext[i] = proto_ext_lookup(h->ext);
	}
	g_once_init_leave(&done, 1);
}

/* The hook for OP of EXT at WHEN. */
HookFn hooks_find(const ProtoExt *ext, guint op, HookWhen when)
{
	hooks_init();
	if (ext == proto_core())
		return op < 128 ? hooks_core[when][op] : NULL;
	for (guint i = 0; i < G_N_ELEMENTS(hooks_table); i++)
		if (hooks_ext[i] == ext && hooks_table[i].op == op &&
		    hooks_table[i].when == when)
			return hooks_table[i].fn;
	return NULL;
}

/* What a ClientMessage carries in its five data words. */
typedef struct {
	const char *type;	/* message type (atom name) */
	ProtoClass data[5];	/* class of each data[i] (NONE: a number) */
} HooksClientMessage;

/* The ClientMessages whose data the proxy translates (ICCCM, EWMH, XEmbed).
 * WM_PROTOCOLS is special-cased below for _NET_WM_PING's window. */
static const HooksClientMessage hooks_client_messages[] = {
	{ "WM_PROTOCOLS", { PROTO_CLASS_ATOM, PROTO_CLASS_TIME } },
	{ "_NET_WM_STATE", { PROTO_CLASS_NONE, PROTO_CLASS_ATOM,
			     PROTO_CLASS_ATOM } },
	{ "_NET_ACTIVE_WINDOW", { PROTO_CLASS_NONE, PROTO_CLASS_TIME,
				  PROTO_CLASS_XID } },
	{ "_XEMBED", { PROTO_CLASS_TIME, PROTO_CLASS_NONE, PROTO_CLASS_NONE,
		       PROTO_CLASS_XID } },
};

/* Translates a ClientMessage's data by its type's name. */
void hooks_client_message(XpMap *map, guint8 *ev, gboolean to_server)
{
	const char *type;

	if (ev[1] != 32 || xmap_is_identity(map))
		return;
	type = xmap_atom_name(map, xlate_get32(ev + 8));
	if (!type)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(hooks_client_messages); i++) {
		const HooksClientMessage *m = &hooks_client_messages[i];
		if (strcmp(m->type, type) != 0)
			continue;
		if (strcmp(type, "WM_PROTOCOLS") == 0) {
			/* data[0] in the client's view names the protocol */
			guint32 proto = xlate_get32(ev + 12);
			const char *pname;
			if (!to_server)
				proto = xmap_to_client(map, PROTO_CLASS_ATOM,
						       proto);
			pname = xmap_atom_name(map, proto);
			if (pname && strcmp(pname, "_NET_WM_PING") == 0)
				hooks_xlate32(map, ev + 20, PROTO_CLASS_XID,
					      to_server);
		}
		for (guint k = 0; k < 5; k++)
			if (m->data[k] != PROTO_CLASS_NONE)
				hooks_xlate32(map, ev + 12 + 4 * k, m->data[k],
					      to_server);
		return;
	}
}
