/*
 * proto.h: the X protocol as data, and the one generic walker over it.
 *
 * The tables behind this header are generated at build time by
 * xproxy/gen-tables.py from xcb-proto's installed XML (build/gen/proto-tables.c)
 * and never committed.  They say, for every request, reply, event and error of
 * core X11 and of the translated extensions, how long the message is and where
 * every field that the proxy must translate sits: resource IDs by type, atoms,
 * timestamps, visual IDs and the other server-side IDs, including inside value
 * lists (switch/bitcase), lists, and lists of structs.
 *
 * The walker (walk.c) interprets one message's description over a buffer and
 * calls a visitor for each such field, in order.  The visitor may rewrite the
 * 4 bytes in place: translation happens in the buffer, with no allocation.
 *
 * Byte order: the proxy refuses MSB-first clients at connection set-up, so
 * every buffer the walker sees is LSB-first (the host order on x86 and arm64).
 *
 * Internal to xproxy/ (tests include it too).
 */
#pragma once

#include <glib.h>

/* What a translated field is.  Each kind belongs to one class (below), which
 * says which map translates it.  The generator maps xcb-proto type names onto
 * these kinds (WINDOW -> PROTO_K_WINDOW, ...); a type it does not map is not
 * translated. */
typedef enum {
	PROTO_K_NONE = 0,
	/* Resource IDs: allocated by a client in its ID range, or server-owned
	 * (the root window, the default colormap). */
	PROTO_K_WINDOW,
	PROTO_K_PIXMAP,
	PROTO_K_DRAWABLE,
	PROTO_K_GCONTEXT,
	PROTO_K_FONT,
	PROTO_K_FONTABLE,
	PROTO_K_CURSOR,
	PROTO_K_COLORMAP,
	PROTO_K_PICTURE,
	PROTO_K_GLYPHSET,
	PROTO_K_REGION,		/* XFIXES region */
	PROTO_K_FENCE,		/* SYNC fence */
	PROTO_K_COUNTER,	/* SYNC counter */
	PROTO_K_ALARM,		/* SYNC alarm */
	PROTO_K_DAMAGE,
	PROTO_K_BARRIER,	/* XFIXES pointer barrier */
	PROTO_K_XID,		/* any other XID (e.g. KillClient's resource) */
	/* Atoms. */
	PROTO_K_ATOM,
	/* Server timestamps. */
	PROTO_K_TIMESTAMP,
	/* IDs that only the server allocates, which differ between servers. */
	PROTO_K_VISUALID,
	PROTO_K_PICTFORMAT,	/* RENDER picture format */
	PROTO_K_CRTC,		/* RANDR */
	PROTO_K_OUTPUT,		/* RANDR */
	PROTO_K_MODE,		/* RANDR */
	PROTO_K_PROVIDER,	/* RANDR */
	PROTO_K_COUNT
} ProtoKind;

/* Which translation map handles a kind. */
typedef enum {
	PROTO_CLASS_NONE = 0,
	PROTO_CLASS_XID,	/* resource IDs (xmap XID map) */
	PROTO_CLASS_ATOM,	/* atoms (xmap atom map) */
	PROTO_CLASS_TIME,	/* timestamps (xmap time offset) */
	PROTO_CLASS_SERVER_ID,	/* visuals, formats, RANDR objects */
} ProtoClass;

/* Where a message goes: the walker needs to know the header layout. */
typedef enum {
	PROTO_REQUEST,
	PROTO_REPLY,
	PROTO_EVENT,		/* a 32-byte event, or a Generic Event */
	PROTO_ERROR,
} ProtoDir;

/* One message's description (opaque; generated). */
typedef struct ProtoMsg ProtoMsg;

/* One extension's tables, or core X11's (opaque; generated). */
typedef struct ProtoExt ProtoExt;

/* How a walk ended. */
typedef enum {
	PROTO_WALK_OK = 0,
	PROTO_WALK_BAD_LENGTH,	/* the fields run past the message (a
				 * message longer than its fields is not
				 * an error: the server judges that) */
	PROTO_WALK_BAD_VALUE,	/* a list count or switch value the tables
				 * cannot follow (e.g. an absurd count) */
} ProtoWalkResult;

/* Called for each translated field.  FIELD points at 4 LSB-first bytes in the
 * message buffer (every translated kind is a CARD32 on the wire); the visitor
 * may rewrite them.  UD is the walker caller's pointer. */
typedef void (*ProtoVisitFn)(gpointer ud, ProtoKind kind, guint8 *field);

/* The class of KIND (PROTO_CLASS_NONE for NONE or an out-of-range value).
 * Inline: every visited field asks (the record's reference walk of each
 * created window, every field of a translated message). */
static inline ProtoClass proto_kind_class(ProtoKind kind)
{
	if (kind >= PROTO_K_WINDOW && kind <= PROTO_K_XID)
		return PROTO_CLASS_XID;
	if (kind == PROTO_K_ATOM)
		return PROTO_CLASS_ATOM;
	if (kind == PROTO_K_TIMESTAMP)
		return PROTO_CLASS_TIME;
	if (kind >= PROTO_K_VISUALID && kind < PROTO_K_COUNT)
		return PROTO_CLASS_SERVER_ID;
	return PROTO_CLASS_NONE;
}

/* KIND's name, e.g. "WINDOW" (static string). */
const char *proto_kind_name(ProtoKind kind);

/* Core X11's tables (static; never NULL). */
const ProtoExt *proto_core(void);

/* The tables of the extension whose X name is XNAME (as QueryExtension spells
 * it, e.g. "RENDER"), or NULL when it has none.  Static. */
const ProtoExt *proto_ext_lookup(const char *xname);

/* The number of translated extensions, and the I-th (0-based).  Static. */
guint proto_n_exts(void);
const ProtoExt *proto_ext_nth(guint i);

/* EXT's X name (NULL for core), and how many events and errors it defines
 * (the span of event and error codes above its first_event/first_error). */
const char *proto_ext_name(const ProtoExt *ext);
guint proto_ext_n_events(const ProtoExt *ext);
guint proto_ext_n_errors(const ProtoExt *ext);

/* Descriptions (static, or NULL when the protocol defines none):
 * the request with opcode OP (the major opcode for core, the minor for an
 * extension), its reply (NULL when it has none), event number NUM relative to
 * the extension's first event (the core event code for core), and Generic
 * Event EVTYPE. */
const ProtoMsg *proto_request(const ProtoExt *ext, guint op);
const ProtoMsg *proto_reply(const ProtoExt *ext, guint op);
const ProtoMsg *proto_event(const ProtoExt *ext, guint num);
const ProtoMsg *proto_ge_event(const ProtoExt *ext, guint evtype);

/* MSG's name, e.g. "CreateWindow" (static). */
const char *proto_msg_name(const ProtoMsg *msg);

/* XKEYBOARD: all XKB events share one event code (XKB's number 0) and are
 * told apart by the xkbType byte at offset 1.  proto_event(xkb, 0) returns a
 * program that dispatches on that byte by itself (and fails with
 * PROTO_WALK_BAD_VALUE on an unknown xkbType); proto_xkb_event() gives the
 * description of one subtype (static, or NULL when none). */
const ProtoMsg *proto_xkb_event(guint subtype);

/* The connection setup reply a server sends on success (status 1), from
 * byte 0: its roots, default colormaps, root visuals and visual IDs.  Walk it
 * with PROTO_REPLY.  Static. */
const ProtoMsg *proto_setup(void);

/* The size every MSG has at least (requests: header included, in the normal
 * form -- add 4 for BIG-REQUESTS; replies and events: 32).  A shorter buffer
 * gives PROTO_WALK_BAD_LENGTH. */
gsize proto_msg_min_size(const ProtoMsg *msg);

/* Whether MSG also carries file descriptors (SCM_RIGHTS, no wire bytes),
 * e.g. RANDR CreateLease's reply. */
gboolean proto_msg_has_fds(const ProtoMsg *msg);

/* The kind of the bad value that error number NUM (relative to EXT's first
 * error; the core code for core) carries at offset 4, e.g. PROTO_K_WINDOW for
 * a Window error, PROTO_K_ATOM for an Atom error; PROTO_K_NONE when it is not
 * an ID. */
ProtoKind proto_error_kind(const ProtoExt *ext, guint num);

/*
 * Walks MSG over BUF (LEN bytes, the whole message as on the wire, header
 * included) and calls VISIT for every translated field, in wire order.
 * For a request, BIG says the request uses the BIG-REQUESTS form (length 0
 * at bytes 2-3, then a 4-byte length), so every field after byte 4 sits 4
 * bytes further on.  The walker never reads or writes outside BUF[0..LEN).
 * It checks the minimum size (proto_msg_min_size) and every count it
 * follows; data after the last field that can hold an ID is not looked at
 * (e.g. PolyFillRectangle's rectangles).  Translated fields may hold the
 * protocol's special values (0 None/CopyFromParent/CurrentTime/
 * AnyPropertyType, 1 PointerRoot/ParentRelative/InputFocus): the visitor
 * must leave those alone.  Reentrant; no allocation.
 */
ProtoWalkResult walk_message(const ProtoMsg *msg, ProtoDir dir, guint8 *buf,
			     gsize len, gboolean big, ProtoVisitFn visit,
			     gpointer ud);

/*
 * Helpers for the proxy's hooks: two lists whose IDs the XML cannot
 * describe, walked like messages (same visitor, same bounds rules).
 * OFF is where the items start in BUF (the caller accounts for the
 * BIG-REQUESTS form).
 *
 * walk_text_items: PolyText8 (CHAR_SIZE 1, items at 16) and PolyText16
 * (CHAR_SIZE 2): font shifts carry a FONT, most significant byte first; the
 * visitor sees it LSB-first (reversed in place, and back afterwards).
 *
 * walk_glyph_items: RENDER CompositeGlyphs8/16/32 (GLYPH_SIZE 1, 2, 4; items
 * at 28): an item with count 255 switches to the GLYPHSET that follows.
 */
ProtoWalkResult walk_text_items(guint8 *buf, gsize len, gsize off,
				guint char_size, ProtoVisitFn visit,
				gpointer ud);
ProtoWalkResult walk_glyph_items(guint8 *buf, gsize len, gsize off,
				 guint glyph_size, ProtoVisitFn visit,
				 gpointer ud);
