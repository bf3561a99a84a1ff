/*
 * record.c: what one client connection built on the server (see record.h).
 *
 * Cost.  record_request() runs for every request.  It looks the request up
 * in a per-extension array of 256 action bytes (filled once from the table
 * below) and returns at once for the requests that change nothing kept:
 * drawing, queries, input.  Only requests that create, change or free
 * something allocate (a copy of the request, kept as the recipe or a mod).
 *
 * References.  Every stored request is walked with the generated tables
 * (walk_message); each XID field that names another recorded entry counts
 * one reference to it.  Storing a request adds its references, dropping it
 * removes them.  A freed entry with references becomes a zombie; a zombie
 * whose count falls to 0 is dropped (through a queue, so that cascades --
 * a zombie whose own recipe held the last reference to another -- run one
 * entry at a time, never inside a walk).
 *
 * Window tree.  Windows keep their parent and their siblings in stacking
 * order (bottom to top), updated by CreateWindow (on top), ReparentWindow
 * (on top of the new parent), ConfigureWindow's stack mode (TopIf,
 * BottomIf and Opposite are taken as Above, Below and Above: they depend on
 * overlaps only the server knows) and CirculateWindow (the same
 * approximation).  A window under a window the client does not own hangs
 * under a foreign entry for that window, so stacking among top-levels is
 * kept too.  DestroyWindow takes the subtree, children first.
 *
 * Coalescing keys.  A mod's key is GROUP << 32 | SUB: the group says what
 * it sets (a property, the clip, a passive grab...), SUB which one (the
 * property's atom, the grab's button and modifiers...).  A new mod replaces
 * the old one with the same key; "append" groups get a unique SUB and keep
 * every request in order (colour cells, region operations, SHAPE operations
 * until the next Set).
 *
 * Value lists (CreateWindow/ChangeWindowAttributes, CreateGC/ChangeGC,
 * RENDER CreatePicture/ChangePicture) are merged per bit into the creation
 * request, so a window that changed its attributes a thousand times is one
 * CreateWindow.  On a foreign window the changes are merged into one
 * ChangeWindowAttributes mod (the event mask this client selected on the
 * root...).  A change naming an XID of the client's that it does not hold
 * is not merged: the server rejects it whole, and a merged bad value would
 * make the creation fail at replay.  Attributes that replace one another
 * (background pixel and pixmap, border pixel and pixmap) do so when
 * merged.
 *
 * Errors.  A creation the server refuses (BadAlloc, BadName...) is found
 * by its sequence number in a ring of recent creations and leaves the
 * record.  Other failed requests are not undone (a mod on a foreign window
 * that fails again at replay is flagged foreign there).
 */
#include <stddef.h>
#include <string.h>

#include "xproxy/record.h"
#include "xproxy/xidtab.h"
#include "xproxy/xlate.h"

/* Recent creations remembered for record_error(). */
#define REC_RING 512
/* Freed entries kept for reuse, at most (about 170 bytes each: at most
 * 2.8 MB, and only after the client had that many resources at once;
 * x11perf -create makes and destroys 2600 windows at a time). */
#define REC_FREE_MAX 16384
/* Extensions whose client major opcode the record can remember. */
#define REC_MAX_EXTS 32

/* What a request does to the record. */
typedef enum {
	A_NONE = 0,
	A_CREATE,		/* creates KIND at ID_OFF (recipe = request) */
	A_CREATE_WINDOW,	/* CreateWindow */
	A_FREE,			/* frees the resource at ID_OFF */
	A_DESTROY_WINDOW,	/* DestroyWindow */
	A_DESTROY_SUBS,		/* DestroySubwindows */
	A_VALUES,		/* a value list merged into the creation */
	A_CONFIGURE,		/* ConfigureWindow */
	A_REPARENT,		/* ReparentWindow */
	A_MAP,			/* MapWindow */
	A_UNMAP,		/* UnmapWindow */
	A_MAP_SUBS,		/* MapSubwindows */
	A_UNMAP_SUBS,		/* UnmapSubwindows */
	A_CIRCULATE,		/* CirculateWindow */
	A_PROPERTY,		/* ChangeProperty */
	A_DELETE_PROPERTY,	/* DeleteProperty */
	A_GET_PROPERTY,		/* GetProperty (deletes when asked to) */
	A_MOD,			/* a keyed mod on the target at ID_OFF (0:
				 * the global entry) */
	A_MOD_APPEND,		/* an unkeyed mod, kept in order */
	A_UNMOD,		/* removes the keyed mod */
	A_CLIP,			/* a clip (rectangles or region) on a GC or
				 * picture: a keyed mod that also clears the
				 * clip-mask value */
	A_COPY_GC,		/* CopyGC */
	A_SHAPE,		/* a SHAPE operation (kind at SUB_OFF, op at
				 * OP_OFF) */
	A_REGION_SET,		/* sets a region's contents: clears its
				 * earlier operations */
	A_INTERN_ATOM,		/* InternAtom: the reply names an atom */
	A_GET_ATOM_NAME,	/* GetAtomName: the reply names an atom */
	A_ALLOC_COLOR,		/* AllocColor/AllocNamedColor: keyed by the
				 * pixel in the reply */
	A_FREE_COLORS,		/* FreeColors */
	A_GRAB,			/* GrabButton/GrabKey */
	A_UNGRAB,		/* UngrabButton/UngrabKey */
	A_SELECTION,		/* SetSelectionOwner */
	A_ADD_GLYPHS,		/* RENDER AddGlyphs */
	A_FREE_GLYPHS,		/* RENDER FreeGlyphs */
	A_COUNTER_SET,		/* SYNC SetCounter */
	A_COUNTER_ADD,		/* SYNC ChangeCounter */
	A_FENCE_SET,		/* SYNC TriggerFence (SUB_OFF 1) / ResetFence */
	A_ALARM,		/* SYNC ChangeAlarm: merged into CreateAlarm */
	A_VERSION,		/* an extension's version handshake: kept
				 * once per extension and request (global) */
} RecAction;

/* Mod groups (the high half of a key). */
enum {
	G_VALUES = 1,		/* merged value list on a foreign resource */
	G_PROP,			/* a property (sub: atom) */
	G_CLIP,			/* GC or picture clip */
	G_DASH,			/* GC dashes */
	G_GRAB_BUTTON,		/* passive button grab (sub: button,mods) */
	G_GRAB_KEY,		/* passive key grab (sub: key,mods) */
	G_SELECTION,		/* selection owned (global; sub: atom) */
	G_FOCUS,		/* input focus (global) */
	G_SAVESET,		/* save-set membership */
	G_RECOLOR,		/* cursor colours */
	G_ALLOC,		/* colour cell (sub: pixel) */
	G_CELLS,		/* AllocColorCells/Planes (append) */
	G_STORE,		/* StoreColors (sub: its first pixel) */
	G_STORE_NAMED,		/* StoreNamedColor (sub: pixel) */
	G_TRANSFORM,		/* RENDER picture transform */
	G_FILTER,		/* RENDER picture filter */
	G_XF_SELSEL,		/* XFIXES SelectSelectionInput (sub: atom) */
	G_XF_CURSORSEL,		/* XFIXES SelectCursorInput */
	G_XF_SAVESET,		/* XFIXES ChangeSaveSet */
	G_REGION,		/* XFIXES region operations (append) */
	G_SHAPE,		/* SHAPE operations (append; sub high byte:
				 * shape kind) */
	G_SHAPE_SEL,		/* SHAPE SelectInput */
	G_CURSOR_NAME,		/* XFIXES SetCursorName */
	G_XI_SEL,		/* XI2 XISelectEvents (sub: device) */
	G_XI_CP,		/* XI2 client pointer (global) */
	G_XI1_SEL,		/* XI 1 SelectExtensionEvent */
	G_XKB_SEL,		/* XKB SelectEvents (global; sub: device,
				 * affectWhich) */
	G_XKB_PCF,		/* XKB PerClientFlags (global; sub: change) */
	G_RANDR_SEL,		/* RANDR SelectInput */
	G_COMP_REDIR,		/* Composite RedirectWindow */
	G_COMP_REDIR_SUBS,	/* Composite RedirectSubwindows */
	G_CLOSEDOWN,		/* SetCloseDownMode (global) */
	G_DISCONNECT,		/* XFIXES SetClientDisconnectMode (global) */
	G_GLYPHS,		/* AddGlyphs kept whole (image size unknown) */
	G_VERSION = RECORD_G_VERSION, /* extension version handshakes
				 * (global; sub: major << 8 | minor) */
};

/* One row of the action table. */
typedef struct {
	const char *ext;	/* extension X name, NULL for core */
	guint8 op;		/* opcode (major for core, minor otherwise) */
	guint8 action;		/* RecAction */
	guint8 kind;		/* RecKind created (A_CREATE*) */
	guint8 id_off;		/* offset of the target XID (0: global) */
	guint8 group;		/* mod group */
	guint8 sub_off;		/* offset of the key's SUB field (0: none) */
	guint8 sub_size;	/* its size: 1, 2 or 4 */
	guint8 rm_off;		/* a field whose value RM_VAL (size RM_SIZE)
				 * turns the mod into a removal (0: none) */
	guint8 rm_size;		/* 1, 2 or 4 */
	guint8 rm_val;		/* the removing value */
	guint8 vmask_off;	/* value lists: offset of the CARD32 mask */
	guint8 vlist_off;	/* value lists: offset of the first value */
	guint8 op_off;		/* A_SHAPE: offset of the op byte (0: none) */
} RecRow;

/* The table: which requests create, change or free what.  Anything not
 * here is not recorded. */
static const RecRow rec_rows[] = {
	/* core: windows */
	{ NULL, 1, A_CREATE_WINDOW, REC_WINDOW, 4, .vmask_off = 28,
	  .vlist_off = 32 },
	{ NULL, 2, A_VALUES, 0, 4, G_VALUES, .vmask_off = 8, .vlist_off = 12 },
	{ NULL, 4, A_DESTROY_WINDOW, 0, 4 },
	{ NULL, 5, A_DESTROY_SUBS, 0, 4 },
	{ NULL, 6, A_MOD, 0, 4, G_SAVESET, .rm_off = 1, .rm_size = 1,
	  .rm_val = 1 },
	{ NULL, 7, A_REPARENT, 0, 4 },
	{ NULL, 8, A_MAP, 0, 4 },
	{ NULL, 9, A_MAP_SUBS, 0, 4 },
	{ NULL, 10, A_UNMAP, 0, 4 },
	{ NULL, 11, A_UNMAP_SUBS, 0, 4 },
	{ NULL, 12, A_CONFIGURE, 0, 4 },
	{ NULL, 13, A_CIRCULATE, 0, 4 },
	{ NULL, 16, A_INTERN_ATOM },
	{ NULL, 17, A_GET_ATOM_NAME },
	{ NULL, 18, A_PROPERTY, 0, 4, G_PROP },
	{ NULL, 19, A_DELETE_PROPERTY, 0, 4, G_PROP },
	{ NULL, 20, A_GET_PROPERTY, 0, 4, G_PROP },
	{ NULL, 22, A_SELECTION, 0, 0, G_SELECTION },
	{ NULL, 28, A_GRAB, 0, 4, G_GRAB_BUTTON },
	{ NULL, 29, A_UNGRAB, 0, 4, G_GRAB_BUTTON },
	{ NULL, 33, A_GRAB, 0, 4, G_GRAB_KEY },
	{ NULL, 34, A_UNGRAB, 0, 4, G_GRAB_KEY },
	{ NULL, 42, A_MOD, 0, 0, G_FOCUS },
	/* core: fonts, pixmaps, GCs */
	{ NULL, 45, A_CREATE, REC_FONT, 4 },
	{ NULL, 46, A_FREE, 0, 4 },
	{ NULL, 53, A_CREATE, REC_PIXMAP, 4 },
	{ NULL, 54, A_FREE, 0, 4 },
	{ NULL, 55, A_CREATE, REC_GC, 4, .vmask_off = 12, .vlist_off = 16 },
	{ NULL, 56, A_VALUES, 0, 4, G_VALUES, .vmask_off = 8, .vlist_off = 12 },
	{ NULL, 57, A_COPY_GC, 0, 8 },
	{ NULL, 58, A_MOD, 0, 4, G_DASH },
	{ NULL, 59, A_CLIP, 0, 4, G_CLIP },
	{ NULL, 60, A_FREE, 0, 4 },
	/* core: colormaps and cursors */
	{ NULL, 78, A_CREATE, REC_COLORMAP, 4 },
	{ NULL, 79, A_FREE, 0, 4 },
	{ NULL, 80, A_CREATE, REC_COLORMAP, 4 },
	{ NULL, 84, A_ALLOC_COLOR, 0, 4, G_ALLOC },
	{ NULL, 85, A_ALLOC_COLOR, 0, 4, G_ALLOC },
	{ NULL, 86, A_MOD_APPEND, 0, 4, G_CELLS },
	{ NULL, 87, A_MOD_APPEND, 0, 4, G_CELLS },
	{ NULL, 88, A_FREE_COLORS, 0, 4, G_ALLOC },
	{ NULL, 89, A_MOD, 0, 4, G_STORE, 8, 4 },
	{ NULL, 90, A_MOD, 0, 4, G_STORE_NAMED, 8, 4 },
	{ NULL, 93, A_CREATE, REC_CURSOR, 4 },
	{ NULL, 94, A_CREATE, REC_CURSOR, 4 },
	{ NULL, 95, A_FREE, 0, 4 },
	{ NULL, 96, A_MOD, 0, 4, G_RECOLOR },
	{ NULL, 112, A_MOD, 0, 0, G_CLOSEDOWN },
	/* version handshakes: servers refuse (BadRequest) or change the
	 * meaning of requests from a client that has not made them */
	{ "RENDER", 0, A_VERSION },
	{ "XFIXES", 0, A_VERSION },
	{ "SHAPE", 0, A_VERSION },
	{ "SYNC", 0, A_VERSION },
	{ "DAMAGE", 0, A_VERSION },
	{ "Composite", 0, A_VERSION },
	{ "RANDR", 0, A_VERSION },
	{ "DOUBLE-BUFFER", 0, A_VERSION },
	{ "XInputExtension", 1, A_VERSION },
	{ "XInputExtension", 47, A_VERSION },
	{ "XKEYBOARD", 0, A_VERSION },
	/* RENDER */
	{ "RENDER", 4, A_CREATE, REC_PICTURE, 4, .vmask_off = 16,
	  .vlist_off = 20 },
	{ "RENDER", 5, A_VALUES, 0, 4, G_VALUES, .vmask_off = 8,
	  .vlist_off = 12 },
	{ "RENDER", 6, A_CLIP, 0, 4, G_CLIP },
	{ "RENDER", 7, A_FREE, 0, 4 },
	{ "RENDER", 17, A_CREATE, REC_GLYPHSET, 4 },
	{ "RENDER", 18, A_CREATE, REC_GLYPHSET, 4 },
	{ "RENDER", 19, A_FREE, 0, 4 },
	{ "RENDER", 20, A_ADD_GLYPHS, 0, 4, G_GLYPHS },
	{ "RENDER", 22, A_FREE_GLYPHS, 0, 4 },
	{ "RENDER", 27, A_CREATE, REC_CURSOR, 4 },
	{ "RENDER", 28, A_MOD, 0, 4, G_TRANSFORM },
	{ "RENDER", 30, A_MOD, 0, 4, G_FILTER },
	{ "RENDER", 31, A_CREATE, REC_CURSOR, 4 },
	{ "RENDER", 33, A_CREATE, REC_PICTURE, 4 },
	{ "RENDER", 34, A_CREATE, REC_PICTURE, 4 },
	{ "RENDER", 35, A_CREATE, REC_PICTURE, 4 },
	{ "RENDER", 36, A_CREATE, REC_PICTURE, 4 },
	/* XFIXES */
	{ "XFIXES", 1, A_MOD, 0, 8, G_XF_SAVESET, .rm_off = 4, .rm_size = 1,
	  .rm_val = 1 },
	{ "XFIXES", 2, A_MOD, 0, 4, G_XF_SELSEL, 8, 4, .rm_off = 12,
	  .rm_size = 4, .rm_val = 0 },
	{ "XFIXES", 3, A_MOD, 0, 4, G_XF_CURSORSEL, .rm_off = 8, .rm_size = 4,
	  .rm_val = 0 },
	{ "XFIXES", 5, A_CREATE, REC_REGION, 4 },
	{ "XFIXES", 6, A_CREATE, REC_REGION, 4 },
	{ "XFIXES", 7, A_CREATE, REC_REGION, 4 },
	{ "XFIXES", 8, A_CREATE, REC_REGION, 4 },
	{ "XFIXES", 9, A_CREATE, REC_REGION, 4 },
	{ "XFIXES", 10, A_FREE, 0, 4 },
	{ "XFIXES", 11, A_REGION_SET, 0, 4, G_REGION },
	{ "XFIXES", 12, A_REGION_SET, 0, 8, G_REGION },
	{ "XFIXES", 13, A_MOD_APPEND, 0, 12, G_REGION },
	{ "XFIXES", 14, A_MOD_APPEND, 0, 12, G_REGION },
	{ "XFIXES", 15, A_MOD_APPEND, 0, 12, G_REGION },
	{ "XFIXES", 16, A_MOD_APPEND, 0, 16, G_REGION },
	{ "XFIXES", 17, A_MOD_APPEND, 0, 4, G_REGION },
	{ "XFIXES", 18, A_REGION_SET, 0, 8, G_REGION },
	{ "XFIXES", 20, A_CLIP, 0, 4, G_CLIP },
	{ "XFIXES", 21, A_SHAPE, 0, 4, G_SHAPE, 8, 1 },
	{ "XFIXES", 22, A_CLIP, 0, 4, G_CLIP },
	{ "XFIXES", 23, A_MOD, 0, 4, G_CURSOR_NAME },
	{ "XFIXES", 28, A_REGION_SET, 0, 8, G_REGION },
	{ "XFIXES", 31, A_CREATE, REC_BARRIER, 4 },
	{ "XFIXES", 32, A_FREE, 0, 4 },
	{ "XFIXES", 33, A_MOD, 0, 0, G_DISCONNECT },
	/* SHAPE: op byte at 4 (0 = Set), kind at 5; Offset: kind at 4 */
	{ "SHAPE", 1, A_SHAPE, 0, 8, G_SHAPE, 5, 1, .op_off = 4 },
	{ "SHAPE", 2, A_SHAPE, 0, 8, G_SHAPE, 5, 1, .op_off = 4 },
	{ "SHAPE", 3, A_SHAPE, 0, 8, G_SHAPE, 5, 1, .op_off = 4 },
	{ "SHAPE", 4, A_SHAPE, 0, 8, G_SHAPE, 4, 1 },
	{ "SHAPE", 6, A_MOD, 0, 4, G_SHAPE_SEL, .rm_off = 8, .rm_size = 1,
	  .rm_val = 0 },
	/* SYNC */
	{ "SYNC", 2, A_CREATE, REC_COUNTER, 4 },
	{ "SYNC", 3, A_COUNTER_SET, 0, 4 },
	{ "SYNC", 4, A_COUNTER_ADD, 0, 4 },
	{ "SYNC", 6, A_FREE, 0, 4 },
	{ "SYNC", 8, A_CREATE, REC_ALARM, 4 },
	{ "SYNC", 9, A_ALARM, 0, 4 },
	{ "SYNC", 11, A_FREE, 0, 4 },
	{ "SYNC", 14, A_CREATE, REC_FENCE, 8 },
	{ "SYNC", 15, A_FENCE_SET, 0, 4, .sub_off = 1 },
	{ "SYNC", 16, A_FENCE_SET, 0, 4 },
	{ "SYNC", 17, A_FREE, 0, 4 },
	/* DAMAGE */
	{ "DAMAGE", 1, A_CREATE, REC_DAMAGE, 4 },
	{ "DAMAGE", 2, A_FREE, 0, 4 },
	/* Composite */
	{ "Composite", 1, A_MOD, 0, 4, G_COMP_REDIR },
	{ "Composite", 2, A_MOD, 0, 4, G_COMP_REDIR_SUBS },
	{ "Composite", 3, A_UNMOD, 0, 4, G_COMP_REDIR },
	{ "Composite", 4, A_UNMOD, 0, 4, G_COMP_REDIR_SUBS },
	{ "Composite", 5, A_CREATE, REC_REGION, 4 },
	{ "Composite", 6, A_CREATE, REC_PIXMAP, 8 },
	/* XInput: XI 1 event selection, XI2 masks and client pointer */
	{ "XInputExtension", 6, A_MOD, 0, 4, G_XI1_SEL },
	{ "XInputExtension", 44, A_MOD, 0, 0, G_XI_CP },
	{ "XInputExtension", 46, A_MOD, 0, 4, G_XI_SEL, 12, 2 },
	/* XKEYBOARD (UseExtension: a version handshake, above) */
	{ "XKEYBOARD", 1, A_MOD, 0, 0, G_XKB_SEL, 4, 4 },
	{ "XKEYBOARD", 21, A_MOD, 0, 0, G_XKB_PCF, 8, 4 },
	/* RANDR */
	{ "RANDR", 4, A_MOD, 0, 4, G_RANDR_SEL, .rm_off = 8, .rm_size = 2,
	  .rm_val = 0 },
	/* DOUBLE-BUFFER */
	{ "DOUBLE-BUFFER", 1, A_CREATE, REC_DBE_BUFFER, 8 },
	{ "DOUBLE-BUFFER", 2, A_FREE, 0, 4 },
};

/* The table by extension: row index + 1 per opcode (0: not recorded). */
typedef struct {
	const ProtoExt *ext;	/* the extension (proto_core() for core) */
	guint8 row[256];	/* rec_rows index + 1 by opcode */
} RecExtRows;

/* Filled once by rec_init(). */
static RecExtRows rec_ext_rows[16];
/* Entries used in rec_ext_rows. */
static guint rec_n_ext_rows;
/* rec_init() has run. */
static gsize rec_ready;

/* One request whose reply the record waits for. */
typedef struct {
	guint64 seq;		/* the client's sequence number */
	guint8 action;		/* A_INTERN_ATOM, A_GET_ATOM_NAME,
				 * A_ALLOC_COLOR */
	guint32 id;		/* A_GET_ATOM_NAME: the atom; A_ALLOC_COLOR:
				 * the colormap */
	GBytes *req;		/* A_ALLOC_COLOR: the request; A_INTERN_ATOM:
				 * the name (NUL-terminated) */
} RecPending;

/* A recent creation, for record_error(). */
typedef struct {
	guint64 seq;		/* the request's sequence number (0: none) */
	guint32 xid;		/* what it created */
	guint64 serial;		/* the entry's serial */
} RecRecent;

struct XpRecord {
	guint32 base;		/* client resource-ID base */
	guint32 mask;		/* client resource-ID mask */
	guint32 root;		/* client-view root window */
	guint8 root_depth;	/* its depth */
	XidTab res;		/* XID -> RecRes * (owned) */
	RecRes *free_res;	/* freed entries for reuse, linked through
				 * their above pointers (owned) */
	guint n_free_res;	/* how many */
	RecRes *global;		/* the global entry (owned) */
	guint64 serial;		/* last serial given */
	guint32 next_placeholder; /* last placeholder number given */
	GHashTable *atoms;	/* atom -> name (owned strings) */
	GQueue pending;		/* RecPending * (owned), oldest first */
	RecRecent recent[REC_RING]; /* recent creations, a ring */
	guint recent_pos;	/* next slot in recent */
	const ProtoExt *ext[REC_MAX_EXTS]; /* extensions seen */
	guint8 ext_major[REC_MAX_EXTS];	/* their client major opcodes */
	guint n_ext;		/* entries used in ext/ext_major */
	GPtrArray *dropq;	/* zombies whose references fell to 0 */
	GQueue images;		/* pixmap XIDs whose GetImage is under way */
};

/* ---- table set-up ---- */

/* Fills rec_ext_rows from rec_rows. */
static void rec_init(void)
{
	if (!g_once_init_enter(&rec_ready))
		return;
	for (guint i = 0; i < G_N_ELEMENTS(rec_rows); i++) {
		const RecRow *r = &rec_rows[i];
		const ProtoExt *ext = r->ext ? proto_ext_lookup(r->ext) :
					       proto_core();
		guint j;

		if (!ext)
			continue;
		for (j = 0; j < rec_n_ext_rows; j++)
			if (rec_ext_rows[j].ext == ext)
				break;
		if (j == rec_n_ext_rows) {
			g_assert(j < G_N_ELEMENTS(rec_ext_rows));
			rec_ext_rows[j].ext = ext;
			rec_n_ext_rows++;
		}
		rec_ext_rows[j].row[r->op] = i + 1;
	}
	g_once_init_leave(&rec_ready, 1);
}

/* The row for request OP of EXT, or NULL. */
static inline const RecRow *rec_row(const ProtoExt *ext, guint op)
{
	if (op > 255)
		return NULL;
	for (guint j = 0; j < rec_n_ext_rows; j++)
		if (rec_ext_rows[j].ext == ext) {
			guint8 i = rec_ext_rows[j].row[op];
			return i ? &rec_rows[i - 1] : NULL;
		}
	return NULL;
}

/* ---- request access ---- */

/* A request being looked at. */
typedef struct {
	const guint8 *b;	/* its bytes */
	gsize len;		/* its length */
	gboolean big;		/* BIG-REQUESTS form */
} RecReq;

/* Offset O of a field in R, allowing for the BIG-REQUESTS form. */
static inline gsize rq_off(const RecReq *r, gsize o)
{
	return o >= 4 && r->big ? o + 4 : o;
}

/* Whether R holds SIZE bytes at field offset O. */
static inline gboolean rq_has(const RecReq *r, gsize o, gsize size)
{
	return rq_off(r, o) + size <= r->len;
}

/* The 1-, 2- or 4-byte field at O (0 when beyond the request). */
static inline guint32 rq_get(const RecReq *r, gsize o, guint size)
{
	gsize p = rq_off(r, o);

	if (p + size > r->len)
		return 0;
	return size == 1 ? r->b[p] : size == 2 ? xlate_get16(r->b + p) :
			   xlate_get32(r->b + p);
}

/* Stores the 4-byte length of the request at BUF: LEN bytes, in the normal
 * form when BIG is FALSE. */
static void rec_put_len(guint8 *buf, gsize len, gboolean big)
{
	if (big) {
		xlate_put16(buf + 2, 0);
		xlate_put32(buf + 4, len / 4);
	} else {
		xlate_put16(buf + 2, len / 4);
	}
}

/* ---- extensions and walking stored requests ---- */

/* Notes that the client calls EXT by major opcode MAJOR. */
static void rec_note_ext(XpRecord *rec, const ProtoExt *ext, guint8 major)
{
	for (guint i = 0; i < rec->n_ext; i++)
		if (rec->ext[i] == ext)
			return;
	if (rec->n_ext < REC_MAX_EXTS) {
		rec->ext[rec->n_ext] = ext;
		rec->ext_major[rec->n_ext++] = major;
	}
}

/* The client's major opcode for EXT, 0 when never seen. */
guint8 record_ext_major(const XpRecord *rec, const ProtoExt *ext)
{
	if (ext == proto_core())
		return 0;
	for (guint i = 0; i < rec->n_ext; i++)
		if (rec->ext[i] == ext)
			return rec->ext_major[i];
	return 0;
}

/* The description of stored request BUF (client's major opcode), or NULL. */
static const ProtoMsg *rec_msg(const XpRecord *rec, const guint8 *buf)
{
	if (buf[0] < 128)
		return proto_request(proto_core(), buf[0]);
	for (guint i = 0; i < rec->n_ext; i++)
		if (rec->ext_major[i] == buf[0])
			return proto_request(rec->ext[i], buf[1]);
	return NULL;
}

/* What rec_refs_visit() works with. */
typedef struct {
	XpRecord *rec;		/* the record */
	guint32 self;		/* the owner's XID: not a reference */
	int delta;		/* +1 or -1 */
} RecRefWalk;

/* Drops zombie E later (when its count fell to 0). */
static void rec_queue_drop(XpRecord *rec, RecRes *e)
{
	g_ptr_array_add(rec->dropq, e);
}

/* Walker visitor: counts a reference to each recorded entry. */
static void rec_refs_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	RecRefWalk *w = ud;
	guint32 v = xlate_get32(field);
	RecRes *e;

	if (proto_kind_class(kind) != PROTO_CLASS_XID || v <= 1 ||
	    v == w->self)
		return;
	e = xidtab_lookup(&w->rec->res, v);
	if (!e || e->kind == REC_FOREIGN)
		return;
	if (w->delta > 0) {
		e->refs++;
	} else if (e->refs) {
		e->refs--;
		if (!e->refs && (e->flags & REC_F_ZOMBIE))
			rec_queue_drop(w->rec, e);
	}
}

/* Adds (DELTA 1) or removes (-1) the references of stored request BUF of
 * entry SELF. */
static void rec_refs(XpRecord *rec, guint32 self, guint8 *buf, gsize len,
		     gboolean big, int delta)
{
	const ProtoMsg *msg;
	RecRefWalk w = { rec, self, delta };

	if (!buf || len < 4 || !(msg = rec_msg(rec, buf)))
		return;
	walk_message(msg, PROTO_REQUEST, buf, len, big, rec_refs_visit, &w);
}

/* What rec_rename_visit() works with. */
typedef struct {
	guint32 from;		/* the XID to replace */
	guint32 to;		/* its replacement */
} RecRename;

/* Walker visitor: replaces one XID by another. */
static void rec_rename_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	RecRename *r = ud;

	if (proto_kind_class(kind) == PROTO_CLASS_XID &&
	    xlate_get32(field) == r->from)
		xlate_put32(field, r->to);
}

/* Replaces FROM by TO in the stored request BUF. */
static void rec_rename_in(const XpRecord *rec, guint8 *buf, gsize len,
			  gboolean big, guint32 from, guint32 to)
{
	const ProtoMsg *msg;
	RecRename r = { from, to };

	if (buf && len >= 4 && (msg = rec_msg(rec, buf)))
		walk_message(msg, PROTO_REQUEST, buf, len, big,
			     rec_rename_visit, &r);
}

/* ---- entries ---- */

/* A new entry for XID of KIND, in the table. */
static RecRes *rec_res_new(XpRecord *rec, guint32 xid, RecKind kind)
{
	RecRes *e = rec->free_res;

	/* a freed entry when there is one: windows made and destroyed by
	 * the dozen would otherwise cost a malloc and a free each */
	if (e) {
		rec->free_res = e->above;
		rec->n_free_res--;
		memset(e, 0, offsetof(RecRes, create_buf));
	} else {
		e = g_new0(RecRes, 1);
	}
	e->xid = xid;
	e->kind = kind;
	e->serial = ++rec->serial;
	xidtab_insert(&rec->res, xid, e);
	return e;
}

/* Frees what entry E holds (no reference bookkeeping) and E itself, or
 * keeps E for reuse when REC is given. */
static void rec_res_free(XpRecord *rec, RecRes *e)
{
	if (!e)
		return;
	if (e->create != e->create_buf)
		g_free(e->create);
	if (e->mods)
		g_ptr_array_unref(e->mods);
	if (e->image)
		g_bytes_unref(e->image);
	if (e->glyphs)
		g_hash_table_unref(e->glyphs);
	if (rec && rec->n_free_res < REC_FREE_MAX) {
		e->above = rec->free_res;
		rec->free_res = e;
		rec->n_free_res++;
	} else {
		g_free(e);
	}
}

/* Takes entry E out of the table and frees it. */
static void rec_res_remove(XpRecord *rec, RecRes *e)
{
	xidtab_remove(&rec->res, e->xid);
	rec_res_free(rec, e);
}

/* The entry for a resource the client does not own (made on demand). */
static RecRes *rec_foreign(XpRecord *rec, guint32 xid)
{
	RecRes *e = xidtab_lookup(&rec->res, xid);

	if (e)
		return e;
	return rec_res_new(rec, xid, REC_FOREIGN);
}

/* The entry a request targets: XID's own entry (NULL when the client does
 * not hold it, or it is a zombie), or the foreign entry for a resource the
 * client does not own (made when MAKE). */
static RecRes *rec_target(XpRecord *rec, guint32 xid, gboolean make)
{
	RecRes *e;

	if (xid == 0)
		return rec->global;
	e = xidtab_lookup(&rec->res, xid);
	if (e)
		return e->flags & REC_F_ZOMBIE ? NULL : e;
	if (record_is_own(rec, xid) || !make)
		return NULL;
	return rec_foreign(rec, xid);
}

/* Replaces E's creation request by BUF (LEN bytes, owned from now on, or
 * E's create_buf), moving the references. */
static void rec_set_create(XpRecord *rec, RecRes *e, guint8 *buf, gsize len,
			   gboolean big)
{
	guint8 *old = e->create;
	gsize old_len = e->create_len;
	gboolean old_big = e->create_big;

	rec_refs(rec, e->xid, buf, len, big, 1);
	e->create = buf;
	e->create_len = len;
	e->create_big = big;
	rec_refs(rec, e->xid, old, old_len, old_big, -1);
	if (old != e->create_buf)
		g_free(old);
}

/* ---- the window tree ---- */

/* Takes window E out of its parent's list of children. */
static void rec_unlink(RecRes *e)
{
	RecRes *p = e->parent;

	if (!p)
		return;
	if (e->below)
		e->below->above = e->above;
	else
		p->bottom = e->above;
	if (e->above)
		e->above->below = e->below;
	else
		p->top = e->below;
	e->parent = e->below = e->above = NULL;
}

/* Puts window E into P's children just above SIB (NULL: at the bottom). */
static void rec_link_above(RecRes *p, RecRes *e, RecRes *sib)
{
	e->parent = p;
	e->below = sib;
	e->above = sib ? sib->above : p->bottom;
	if (e->above)
		e->above->below = e;
	else
		p->top = e;
	if (sib)
		sib->above = e;
	else
		p->bottom = e;
}

/* Drops foreign entry E when nothing is left in it. */
static void rec_foreign_gc(XpRecord *rec, RecRes *e)
{
	if (e && e->kind == REC_FOREIGN && !e->bottom &&
	    (!e->mods || !e->mods->len))
		rec_res_remove(rec, e);
}

/* The entry window PARENT stands for as a parent (own or foreign). */
static RecRes *rec_parent_entry(XpRecord *rec, guint32 parent)
{
	RecRes *p = xidtab_lookup(&rec->res, parent);

	if (p && !(p->flags & REC_F_ZOMBIE))
		return p;
	if (p || record_is_own(rec, parent))
		return NULL;	/* unknown own window: the server rejects */
	return rec_foreign(rec, parent);
}

/* ---- mods ---- */

/* The key of a mod: GROUP and SUB. */
static inline guint64 rec_key(guint group, guint32 sub)
{
	return (guint64)group << 32 | sub;
}

/* Frees a mod (GPtrArray free function). */
static void rec_mod_free(gpointer p)
{
	g_free(p);
}

/* The index of E's mod with KEY, or -1. */
static gint rec_mod_find(const RecRes *e, guint64 key)
{
	if (!e->mods)
		return -1;
	for (guint i = 0; i < e->mods->len; i++)
		if (((RecMod *)e->mods->pdata[i])->key == key)
			return i;
	return -1;
}

/* Removes E's I-th mod, with its references. */
static void rec_mod_remove_at(XpRecord *rec, RecRes *e, guint i)
{
	RecMod *m = e->mods->pdata[i];

	rec_refs(rec, e->xid, m->data, m->len, m->big, -1);
	g_ptr_array_remove_index(e->mods, i);
}

/* Removes E's mod with KEY, if any. */
static void rec_mod_remove(XpRecord *rec, RecRes *e, guint64 key)
{
	gint i = rec_mod_find(e, key);

	if (i >= 0)
		rec_mod_remove_at(rec, e, i);
}

/* Removes every mod of E for which MATCH(key, ud) holds. */
static void rec_mod_remove_if(XpRecord *rec, RecRes *e,
			      gboolean (*match)(guint64 key, gpointer ud),
			      gpointer ud)
{
	if (!e->mods)
		return;
	for (guint i = e->mods->len; i-- > 0;)
		if (match(((RecMod *)e->mods->pdata[i])->key, ud))
			rec_mod_remove_at(rec, e, i);
}

/* Matches every key of the group in *UD. */
static gboolean rec_match_group(guint64 key, gpointer ud)
{
	return key >> 32 == *(guint *)ud;
}

/* A new mod of LEN bytes (uninitialised data) for KEY. */
static RecMod *rec_mod_alloc(XpRecord *rec, guint64 key, gsize len,
			     gboolean big)
{
	RecMod *m = g_malloc(sizeof(RecMod) + len);

	m->key = key;
	m->serial = ++rec->serial;
	m->len = len;
	m->big = big;
	return m;
}

/* Stores mod M in E (replacing the one with the same key), with its
 * references. */
static void rec_mod_store(XpRecord *rec, RecRes *e, RecMod *m)
{
	rec_refs(rec, e->xid, m->data, m->len, m->big, 1);
	rec_mod_remove(rec, e, m->key);
	if (!e->mods)
		e->mods = g_ptr_array_new_with_free_func(rec_mod_free);
	g_ptr_array_add(e->mods, m);
}

/* Stores a copy of request R as E's mod KEY. */
static void rec_mod_put(XpRecord *rec, RecRes *e, guint64 key,
			const RecReq *r)
{
	RecMod *m = rec_mod_alloc(rec, key, r->len, r->big);

	memcpy(m->data, r->b, r->len);
	rec_mod_store(rec, e, m);
}

/* ---- value lists ---- */

/* A value list unpacked: one value per bit. */
typedef struct {
	guint32 mask;		/* bits present */
	guint32 v[32];		/* values by bit */
} RecVals;

/* Unpacks the value list of the normal-form request BUF (LEN bytes) whose
 * CARD32 mask sits at MOFF and values at LOFF.  Values beyond LEN are left
 * out of the mask. */
static void rec_vals_get(const guint8 *buf, gsize len, guint moff,
			 guint loff, RecVals *vals)
{
	guint32 mask = moff + 4 <= len ? xlate_get32(buf + moff) : 0;
	gsize p = loff;

	vals->mask = 0;
	for (guint bit = 0; bit < 32; bit++) {
		if (!(mask & (1u << bit)))
			continue;
		if (p + 4 > len)
			break;
		vals->v[bit] = xlate_get32(buf + p);
		vals->mask |= 1u << bit;
		p += 4;
	}
}

/* A new normal-form request: the first LOFF bytes of BUF (the mask at
 * MOFF), then VALS.  Its length in *LEN; free with g_free(). */
static guint8 *rec_vals_build(const guint8 *buf, guint moff, guint loff,
			      const RecVals *vals, gsize *len)
{
	guint n = __builtin_popcount(vals->mask), k = 0;
	guint8 *out;

	*len = loff + 4 * n;
	out = g_malloc(*len);
	memcpy(out, buf, loff);
	xlate_put32(out + moff, vals->mask);
	for (guint bit = 0; bit < 32; bit++)
		if (vals->mask & (1u << bit))
			xlate_put32(out + loff + 4 * k++, vals->v[bit]);
	rec_put_len(out, *len, FALSE);
	return out;
}

/* Offsets of the value list in a creation request of kind KIND (mask,
 * values), FALSE when it has none. */
static gboolean rec_create_vlist(const RecRes *e, guint *moff, guint *loff)
{
	if (!e->create || e->create_big)
		return FALSE;
	switch (e->kind) {
	case REC_WINDOW:
		*moff = 28, *loff = 32;
		return e->create[0] == 1;
	case REC_GC:
		*moff = 12, *loff = 16;
		return e->create[0] == 55;
	case REC_PICTURE:
		*moff = 16, *loff = 20;
		return e->create[0] >= 128 && e->create[1] == 4;
	default:
		return FALSE;
	}
}

/* Merges ADD into E's creation value list and drops the bits of CLEAR. */
static void rec_create_merge(XpRecord *rec, RecRes *e, const RecVals *add,
			     guint32 clear)
{
	guint moff, loff;
	RecVals vals;
	guint8 *nb;
	gsize nl;

	if (!rec_create_vlist(e, &moff, &loff))
		return;
	rec_vals_get(e->create, e->create_len, moff, loff, &vals);
	if (!(vals.mask & clear) && !add->mask)
		return;
	if (!(vals.mask & clear) && !(add->mask & ~vals.mask)) {
		/* only values already there change: in place (no
		 * allocation: ChangeGC of the foreground before each
		 * drawing is common) */
		gsize p = loff;
		rec_refs(rec, e->xid, e->create, e->create_len, FALSE, -1);
		for (guint bit = 0; bit < 32; bit++) {
			if (!(vals.mask & (1u << bit)))
				continue;
			if (add->mask & (1u << bit))
				xlate_put32(e->create + p, add->v[bit]);
			p += 4;
		}
		rec_refs(rec, e->xid, e->create, e->create_len, FALSE, 1);
		return;
	}
	vals.mask &= ~clear;
	for (guint bit = 0; bit < 32; bit++)
		if (add->mask & (1u << bit)) {
			vals.v[bit] = add->v[bit];
			vals.mask |= 1u << bit;
		}
	nb = rec_vals_build(e->create, moff, loff, &vals, &nl);
	rec_set_create(rec, e, nb, nl, FALSE);
}

/* The bit of the clip mask in E's value list (GC 19, picture 6), or 0. */
static guint32 rec_clip_bit(const RecRes *e)
{
	return e->kind == REC_GC ? 1u << 19 :
	       e->kind == REC_PICTURE ? 1u << 6 : 0;
}

/* Window attributes that replace one another: a background pixel and a
 * background pixmap (bits 1 and 0), a border pixel and pixmap (3 and 2).
 * The bits of ADD's that drop others when merged. */
static guint32 rec_window_exclusive(guint32 add)
{
	guint32 clear = 0;

	if (add & (1u << 0))
		clear |= 1u << 1;
	if (add & (1u << 1))
		clear |= 1u << 0;
	if (add & (1u << 2))
		clear |= 1u << 3;
	if (add & (1u << 3))
		clear |= 1u << 2;
	return clear & ~add;
}

/* What rec_stale_visit() counts. */
typedef struct {
	const XpRecord *rec;	/* the record */
	guint stale;		/* own XIDs the client does not hold */
} RecStale;

/* Walker visitor: counts XIDs of the client's range that name nothing it
 * holds (freed, or never made). */
static void rec_stale_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	RecStale *st = ud;
	guint32 v = xlate_get32(field);
	RecRes *e;

	if (proto_kind_class(kind) != PROTO_CLASS_XID ||
	    !record_is_own(st->rec, v))
		return;
	e = xidtab_lookup(&st->rec->res, v);
	if (!e || (e->flags & REC_F_ZOMBIE))
		st->stale++;
}

/* Whether request R names an XID of the client's that it does not hold:
 * the server rejects it whole (BadPixmap, BadCursor...), so it must not
 * be merged into a recipe that would then fail at replay. */
static gboolean rec_names_stale(const XpRecord *rec, const RecReq *r)
{
	const ProtoMsg *msg = rec_msg(rec, r->b);
	RecStale st = { rec, 0 };

	if (msg)
		walk_message(msg, PROTO_REQUEST, (guint8 *)r->b, r->len,
			     r->big, rec_stale_visit, &st);
	return st.stale > 0;
}

/* A value-list change (ChangeWindowAttributes, ChangeGC, ChangePicture). */
static void rec_values(XpRecord *rec, const RecRow *row, const RecReq *r,
		       RecRes *e)
{
	RecVals add;
	guint32 clear = 0;
	gint i;

	if (r->big || rec_names_stale(rec, r))
		return;
	rec_vals_get(r->b, r->len, row->vmask_off, row->vlist_off, &add);
	if (r->b[0] == 2)	/* ChangeWindowAttributes */
		clear = rec_window_exclusive(add.mask);
	if (e->kind == REC_FOREIGN) {
		/* one merged change per foreign resource and request type */
		guint64 key = rec_key(G_VALUES, r->b[0] | r->b[1] << 8);
		RecVals old = { 0 };
		guint8 *nb;
		gsize nl;
		RecMod *m;

		i = rec_mod_find(e, key);
		if (i >= 0) {
			m = e->mods->pdata[i];
			rec_vals_get(m->data, m->len, row->vmask_off,
				     row->vlist_off, &old);
		}
		for (guint bit = 0; bit < 32; bit++)
			if (add.mask & (1u << bit))
				old.v[bit] = add.v[bit];
		old.mask = (old.mask & ~clear) | add.mask;
		nb = rec_vals_build(r->b, row->vmask_off, row->vlist_off, &old,
				    &nl);
		m = rec_mod_alloc(rec, key, nl, FALSE);
		memcpy(m->data, nb, nl);
		g_free(nb);
		rec_mod_store(rec, e, m);
		return;
	}
	if (e->kind == REC_GC) {
		/* the clip mask replaces clip rectangles; the dashes list
		 * replaces SetDashes; a new clip origin moves the clip */
		if (add.mask & (1u << 19))
			rec_mod_remove(rec, e, rec_key(G_CLIP, 0));
		if (add.mask & (1u << 21))
			rec_mod_remove(rec, e, rec_key(G_DASH, 0));
		i = rec_mod_find(e, rec_key(G_CLIP, 0));
		if (i >= 0 && (add.mask & (3u << 17))) {
			RecMod *m = e->mods->pdata[i];
			guint o = m->data[0] == 59 ? 8 : 12;
			if (!m->big && m->len >= o + 4) {
				if (add.mask & (1u << 17))
					xlate_put16(m->data + o, add.v[17]);
				if (add.mask & (1u << 18))
					xlate_put16(m->data + o + 2,
						    add.v[18]);
			}
		}
		i = rec_mod_find(e, rec_key(G_DASH, 0));
		if (i >= 0 && (add.mask & (1u << 20))) {
			RecMod *m = e->mods->pdata[i];
			if (!m->big && m->len >= 10)
				xlate_put16(m->data + 8, add.v[20]);
		}
	} else if (e->kind == REC_PICTURE) {
		if (add.mask & (1u << 6))
			rec_mod_remove(rec, e, rec_key(G_CLIP, 0));
		i = rec_mod_find(e, rec_key(G_CLIP, 0));
		if (i >= 0 && (add.mask & (3u << 4))) {
			RecMod *m = e->mods->pdata[i];
			/* SetPictureClipRectangles: x at 8; XFIXES
			 * SetPictureClipRegion: x at 12 */
			guint o = m->data[1] == 6 ? 8 : 12;
			if (!m->big && m->len >= o + 4) {
				if (add.mask & (1u << 4))
					xlate_put16(m->data + o, add.v[4]);
				if (add.mask & (1u << 5))
					xlate_put16(m->data + o + 2, add.v[5]);
			}
		}
	}
	rec_create_merge(rec, e, &add, clear);
}

/* CopyGC: the values of SRC for the bits of MASK go to DST. */
static void rec_copy_gc(XpRecord *rec, const RecReq *r)
{
	/* GC defaults for bits the source never set (tile, stipple and
	 * font have server-made defaults: such bits are dropped) */
	static const guint32 defaults[23] = {
		3, 0xffffffff, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0, 0, 0, 0, 4, 1
	};
	RecRes *src = rec_target(rec, rq_get(r, 4, 4), FALSE);
	RecRes *dst = rec_target(rec, rq_get(r, 8, 4), FALSE);
	guint32 mask = rq_get(r, 12, 4) & 0x7fffff;
	RecVals sv, add = { 0 };
	guint32 clear = 0;

	if (!src || !dst || src->kind != REC_GC || dst->kind != REC_GC ||
	    !src->create)
		return;
	rec_vals_get(src->create, src->create_len, 12, 16, &sv);
	for (guint bit = 0; bit < 23; bit++) {
		if (!(mask & (1u << bit)))
			continue;
		if (sv.mask & (1u << bit)) {
			add.v[bit] = sv.v[bit];
			add.mask |= 1u << bit;
		} else if (bit == 10 || bit == 11 || bit == 14) {
			clear |= 1u << bit;
		} else {
			add.v[bit] = defaults[bit];
			add.mask |= 1u << bit;
		}
	}
	/* the clip and dashes go with their bits */
	for (guint k = 0; k < 2; k++) {
		guint group = k ? G_DASH : G_CLIP, bit = k ? 21 : 19;
		gint i;
		if (!(mask & (1u << bit)))
			continue;
		rec_mod_remove(rec, dst, rec_key(group, 0));
		i = rec_mod_find(src, rec_key(group, 0));
		if (i >= 0) {
			RecMod *sm = src->mods->pdata[i];
			RecMod *m = rec_mod_alloc(rec, sm->key, sm->len,
						  sm->big);
			memcpy(m->data, sm->data, sm->len);
			/* the GC field of SetClipRectangles, SetDashes and
			 * SetGCClipRegion is at 4 */
			xlate_put32(m->data + (m->big ? 8 : 4), dst->xid);
			rec_mod_store(rec, dst, m);
			add.mask &= ~(1u << bit);
			clear |= 1u << bit;
		}
	}
	rec_create_merge(rec, dst, &add, clear);
}

/* The sizes of SYNC alarm values by bit: counter, value type, value
 * (INT64), test type, delta (INT64), events. */
static const guint8 rec_alarm_size[6] = { 4, 4, 8, 4, 8, 4 };

/* Unpacks a SYNC alarm value list (mask at 8, values at 12) of R into
 * V (two words per bit); returns the mask of what was there. */
static guint32 rec_alarm_vals(const RecReq *r, guint32 v[6][2])
{
	guint32 mask = rq_get(r, 8, 4) & 0x3f, got = 0;
	gsize p = 12;

	for (guint bit = 0; bit < 6; bit++) {
		if (!(mask & (1u << bit)))
			continue;
		if (!rq_has(r, p, rec_alarm_size[bit]))
			break;
		v[bit][0] = rq_get(r, p, 4);
		v[bit][1] = rec_alarm_size[bit] == 8 ? rq_get(r, p + 4, 4) : 0;
		p += rec_alarm_size[bit];
		got |= 1u << bit;
	}
	return got;
}

/* ChangeAlarm: its values merged into the CreateAlarm recipe. */
static void rec_change_alarm(XpRecord *rec, const RecReq *r, RecRes *e)
{
	guint32 v[6][2], add[6][2], mask, amask;
	RecReq c = { e->create, e->create_len, e->create_big };
	gsize len = 12;
	guint8 *nb;

	if (e->kind != REC_ALARM || !e->create || e->create_big)
		return;
	mask = rec_alarm_vals(&c, v);
	amask = rec_alarm_vals(r, add);
	for (guint bit = 0; bit < 6; bit++)
		if (amask & (1u << bit)) {
			v[bit][0] = add[bit][0];
			v[bit][1] = add[bit][1];
		}
	mask |= amask;
	for (guint bit = 0; bit < 6; bit++)
		if (mask & (1u << bit))
			len += rec_alarm_size[bit];
	nb = g_malloc(len);
	memcpy(nb, e->create, 8);
	xlate_put32(nb + 8, mask);
	len = 12;
	for (guint bit = 0; bit < 6; bit++) {
		if (!(mask & (1u << bit)))
			continue;
		xlate_put32(nb + len, v[bit][0]);
		if (rec_alarm_size[bit] == 8)
			xlate_put32(nb + len + 4, v[bit][1]);
		len += rec_alarm_size[bit];
	}
	rec_put_len(nb, len, FALSE);
	rec_set_create(rec, e, nb, len, FALSE);
}

/* ---- creation and destruction ---- */

/* Renames zombie E (whose XID the client reuses) to a placeholder in
 * every stored request. */
static void rec_rename_zombie(XpRecord *rec, RecRes *e)
{
	guint32 from = e->xid;
	guint32 to = RECORD_PLACEHOLDER_BIT | ++rec->next_placeholder;
	RecRes *o;
	guint pos = 0;

	xidtab_remove(&rec->res, from);
	while ((o = xidtab_next(&rec->res, &pos))) {
		rec_rename_in(rec, o->create, o->create_len, o->create_big,
			      from, to);
		for (guint i = 0; o->mods && i < o->mods->len; i++) {
			RecMod *m = o->mods->pdata[i];
			rec_rename_in(rec, m->data, m->len, m->big, from, to);
		}
	}
	rec_rename_in(rec, e->create, e->create_len, e->create_big, from, to);
	if (rec->global->mods)
		for (guint i = 0; i < rec->global->mods->len; i++) {
			RecMod *m = rec->global->mods->pdata[i];
			rec_rename_in(rec, m->data, m->len, m->big, from, to);
		}
	e->xid = to;
	xidtab_insert(&rec->res, to, e);
}

/* Makes a new entry for the resource created by R (XID at ID_OFF) and
 * keeps R as its recipe.  NULL when the XID is not the client's to use. */
static RecRes *rec_create(XpRecord *rec, const RecReq *r, guint id_off,
			  RecKind kind, guint64 seq)
{
	guint32 xid = rq_get(r, id_off, 4);
	RecRes *e;
	guint8 *copy;
	RecRecent *rc;

	if (!record_is_own(rec, xid))
		return NULL;	/* BadIDChoice */
	e = xidtab_lookup(&rec->res, xid);
	if (e) {
		if (!(e->flags & REC_F_ZOMBIE))
			return NULL;	/* in use: BadIDChoice */
		rec_rename_zombie(rec, e);
	}
	e = rec_res_new(rec, xid, kind);
	if (r->len <= sizeof(e->create_buf))
		copy = memcpy(e->create_buf, r->b, r->len);
	else
		copy = g_memdup2(r->b, r->len);
	rec_set_create(rec, e, copy, r->len, r->big);
	rc = &rec->recent[rec->recent_pos++ % REC_RING];
	rc->seq = seq;
	rc->xid = xid;
	rc->serial = e->serial;
	return e;
}

static void rec_drop(XpRecord *rec, RecRes *e);

/* Turns window zombie E's recipe into a bare window under the root: only
 * what other stored requests need of it (depth, visual, class, colormap). */
static void rec_zombie_window(XpRecord *rec, RecRes *e)
{
	RecVals vals;
	guint8 *nb;
	gsize nl;

	if (!e->create || e->create_len < 32 || e->create_big)
		return;
	rec_vals_get(e->create, e->create_len, 28, 32, &vals);
	vals.mask &= (1u << 1) | (1u << 3) | (1u << 13);
	nb = rec_vals_build(e->create, 28, 32, &vals, &nl);
	xlate_put32(nb + 8, rec->root);
	memset(nb + 12, 0, 4);	/* x, y */
	rec_set_create(rec, e, nb, nl, FALSE);
}

/* Matches the global mods (selection owned, focus) naming the window whose
 * XID is in *UD: they end with the window, as on the server. */
static gboolean rec_match_owner(guint64 key, gpointer ud)
{
	guint g = key >> 32;

	return g == G_SELECTION || g == G_FOCUS;
}

/* Window E is destroyed: what ends with it on the server leaves the
 * record (the selections it owned, the focus on it), the client pointer
 * set through it names the client by None, and the creations that only
 * used it to name a screen and depth (CreatePixmap; CreateGC of the root's
 * depth) name the root instead, so that E need not live on as a zombie
 * for them. */
static void rec_window_gone(XpRecord *rec, RecRes *e)
{
	RecRes *g = rec->global, *o;
	guint pos = 0;

	for (guint i = 0; g->mods && i < g->mods->len;) {
		RecMod *m = g->mods->pdata[i];
		if (m->len < 8 || xlate_get32(m->data + 4) != e->xid) {
			i++;
		} else if (rec_match_owner(m->key, NULL)) {
			rec_mod_remove_at(rec, g, i);
		} else {
			/* XISetClientPointer names a window only to name a
			 * client: None is this client */
			if (m->key >> 32 == G_XI_CP) {
				xlate_put32(m->data + 4, 0);
				if (e->refs)
					e->refs--;
			}
			i++;
		}
	}
	if (!e->refs)
		return;
	while ((o = xidtab_next(&rec->res, &pos))) {
		if (!o->create || o->create_big || o->create_len < 12 ||
		    xlate_get32(o->create + 8) != e->xid)
			continue;
		if (o->create[0] == 53 ||
		    (o->create[0] == 55 && e->depth == rec->root_depth)) {
			xlate_put32(o->create + 8, rec->root);
			e->refs--;
		}
	}
}

/* Frees entry E as the client freed it: a zombie while referenced, gone
 * otherwise.  Windows: the caller has handled the children. */
static void rec_free_res(XpRecord *rec, RecRes *e)
{
	RecRes *p = e->parent;

	if (e->kind == REC_WINDOW) {
		rec_unlink(e);
		rec_window_gone(rec, e);
	}
	if (e->mods) {
		while (e->mods->len)
			rec_mod_remove_at(rec, e, e->mods->len - 1);
	}
	if (e->glyphs)
		g_hash_table_remove_all(e->glyphs);
	g_clear_pointer(&e->image, g_bytes_unref);
	if (e->refs) {
		e->flags |= REC_F_ZOMBIE;
		e->flags &= ~REC_F_MAPPED;
		if (e->kind == REC_WINDOW)
			rec_zombie_window(rec, e);
		/* the count may have fallen while the recipe shrank */
		if (!e->refs)
			rec_queue_drop(rec, e);
	} else {
		rec_drop(rec, e);
	}
	rec_foreign_gc(rec, p);
}

/* Removes E from the record for good, with its references. */
static void rec_drop(XpRecord *rec, RecRes *e)
{
	rec_unlink(e);
	if (e->mods)
		while (e->mods->len)
			rec_mod_remove_at(rec, e, e->mods->len - 1);
	rec_refs(rec, e->xid, e->create, e->create_len, e->create_big, -1);
	/* zombies queued for dropping may include E: mark it gone */
	for (guint i = 0; i < rec->dropq->len; i++)
		if (rec->dropq->pdata[i] == e)
			rec->dropq->pdata[i] = NULL;
	rec_res_remove(rec, e);
}

/* Drops the zombies whose references fell to 0 (cascades included). */
static void rec_run_dropq(XpRecord *rec)
{
	while (rec->dropq->len) {
		RecRes *e = g_ptr_array_steal_index(rec->dropq,
						    rec->dropq->len - 1);
		if (e && (e->flags & REC_F_ZOMBIE) && !e->refs)
			rec_drop(rec, e);
	}
}

/* Destroys window E's children and their subtrees (children first). */
static void rec_destroy_children(XpRecord *rec, RecRes *e)
{
	while (e->top) {
		RecRes *c = e->top;
		rec_destroy_children(rec, c);
		rec_unlink(c);
		if (c->kind == REC_WINDOW)
			rec_free_res(rec, c);
	}
}

/* ---- window requests ---- */

/* The geometry fields of a CreateWindow recipe: x, y, w, h, border. */
static const guint8 rec_geom_off[5] = { 12, 14, 16, 18, 20 };

/* Restacks window E among its siblings: MODE (Above 0, Below 1; TopIf,
 * BottomIf and Opposite approximated) relative to SIBLING (0: none). */
static void rec_restack(XpRecord *rec, RecRes *e, guint mode,
			guint32 sibling)
{
	RecRes *p = e->parent, *s = NULL;

	if (!p)
		return;
	if (sibling) {
		s = xidtab_lookup(&rec->res, sibling);
		if (s && (s->parent != p || s == e))
			return;	/* BadMatch */
	}
	rec_unlink(e);
	if (mode == 1 || mode == 3) {	/* Below, BottomIf */
		rec_link_above(p, e, s ? s->below : NULL);
	} else {			/* Above, TopIf, Opposite */
		rec_link_above(p, e, s ? s : p->top);
	}
}

/* ConfigureWindow: geometry into the recipe, stacking into the tree. */
static void rec_configure(XpRecord *rec, const RecReq *r, RecRes *e)
{
	guint32 mask = rq_get(r, 8, 2), sibling = 0, mode = 0;
	gsize p = 12;
	gboolean stack = FALSE;

	for (guint bit = 0; bit < 7; bit++) {
		guint32 v;
		if (!(mask & (1u << bit)))
			continue;
		if (!rq_has(r, p, 4))
			return;
		v = rq_get(r, p, 4);
		p += 4;
		if (bit < 5 && e->create && e->create_len >= 32)
			xlate_put16(e->create + rec_geom_off[bit], v);
		else if (bit == 5)
			sibling = v;
		else if (bit == 6) {
			mode = v;
			stack = TRUE;
		}
	}
	if (stack)
		rec_restack(rec, e, mode, sibling);
}

/* ReparentWindow: a new parent (on top of its children) and position. */
static void rec_reparent(XpRecord *rec, const RecReq *r, RecRes *e)
{
	guint32 parent = rq_get(r, 8, 4);
	RecRes *p = rec_parent_entry(rec, parent), *old = e->parent;
	guint8 *nb;

	if (!p || !e->create || e->create_len < 32 || e->create_big)
		return;
	rec_unlink(e);
	rec_link_above(p, e, p->top);
	nb = g_memdup2(e->create, e->create_len);
	xlate_put32(nb + 8, parent);
	xlate_put16(nb + 12, rq_get(r, 12, 2));
	xlate_put16(nb + 14, rq_get(r, 14, 2));
	rec_set_create(rec, e, nb, e->create_len, FALSE);
	if (old != p)
		rec_foreign_gc(rec, old);
}

/* CreateWindow: the recipe, the depth, and a place on top of the parent's
 * children. */
static void rec_create_window(XpRecord *rec, const RecReq *r, guint64 seq)
{
	RecRes *p = rec_parent_entry(rec, rq_get(r, 8, 4)), *e;

	if (!p || r->big || r->len < 32)
		return;
	e = rec_create(rec, r, 4, REC_WINDOW, seq);
	if (!e)
		return;
	e->depth = r->b[1];
	if (!e->depth)
		e->depth = p->kind == REC_WINDOW ? p->depth :
			   p->xid == rec->root ? rec->root_depth : 0;
	rec_link_above(p, e, p->top);
}

/* ChangeProperty: Replace keeps the request; Prepend and Append merge with
 * the kept value into one Replace (on a window of the client, a property
 * it never set starts empty). */
static void rec_property(XpRecord *rec, const RecReq *r, RecRes *e)
{
	guint32 atom = rq_get(r, 8, 4), type = rq_get(r, 12, 4);
	guint mode = r->b[1], format = rq_get(r, 16, 1);
	guint64 key = rec_key(G_PROP, atom);
	gsize unit = format / 8, n, bytes, on = 0, obytes = 0, total, len;
	const guint8 *od = NULL, *nd;
	gboolean big;
	RecMod *m, *old = NULL;
	gint i;

	if (unit != 1 && unit != 2 && unit != 4)
		return;
	n = rq_get(r, 20, 4);
	bytes = n * unit;
	if (!rq_has(r, 24, bytes))
		return;
	nd = r->b + rq_off(r, 24);
	i = rec_mod_find(e, key);
	if (i >= 0)
		old = e->mods->pdata[i];
	if (mode == 0 || (!old && e->kind != REC_FOREIGN)) {
		m = rec_mod_alloc(rec, key, r->len, r->big);
		memcpy(m->data, r->b, r->len);
		m->data[1] = 0;
		rec_mod_store(rec, e, m);
		return;
	}
	if (old) {
		gsize h = old->big ? 28 : 24;
		if (xlate_get32(old->data + (old->big ? 16 : 12)) != type ||
		    old->data[old->big ? 20 : 16] != format)
			return;	/* BadMatch */
		on = xlate_get32(old->data + h - 4);
		obytes = on * unit;
		od = old->data + h;
		if (old->data[1] != 0 && old->data[1] != mode)
			old = NULL, on = obytes = 0;	/* mixed: keep new */
	}
	total = obytes + bytes;
	len = 24 + ((total + 3) & ~(gsize)3);
	big = len / 4 > 65535;
	if (big)
		len += 4;
	m = rec_mod_alloc(rec, key, len, big);
	memset(m->data, 0, len);
	memcpy(m->data, r->b, 4);
	memcpy(m->data + (big ? 8 : 4), r->b + rq_off(r, 4), 16);
	m->data[1] = old && old->data[1] == 0 ? 0 : mode;
	if (mode == 1) {	/* Prepend */
		memcpy(m->data + (big ? 28 : 24), nd, bytes);
		if (obytes)
			memcpy(m->data + (big ? 28 : 24) + bytes, od, obytes);
	} else {
		if (obytes)
			memcpy(m->data + (big ? 28 : 24), od, obytes);
		memcpy(m->data + (big ? 28 : 24) + obytes, nd, bytes);
	}
	xlate_put32(m->data + (big ? 24 : 20), on + n);
	rec_put_len(m->data, len, big);
	rec_mod_store(rec, e, m);
}

/* Sets or clears the map flag of E's children (MapSubwindows...). */
static void rec_map_children(RecRes *e, gboolean map)
{
	for (RecRes *c = e->bottom; c; c = c->above) {
		if (c->kind != REC_WINDOW)
			continue;
		if (map)
			c->flags |= REC_F_MAPPED;
		else
			c->flags &= ~REC_F_MAPPED;
	}
}

/* ---- grabs, colours, glyphs, shapes ---- */

/* What an ungrab removes. */
typedef struct {
	guint group;		/* G_GRAB_BUTTON or G_GRAB_KEY */
	guint detail;		/* button or key, 0 = any */
	guint mods;		/* modifiers, 0x8000 = any */
} RecUngrab;

/* Matches the grabs an ungrab removes. */
static gboolean rec_match_ungrab(guint64 key, gpointer ud)
{
	RecUngrab *u = ud;
	guint sub = (guint32)key;

	return key >> 32 == u->group &&
	       (!u->detail || (sub >> 16) == u->detail) &&
	       (u->mods == 0x8000 || (sub & 0xffff) == u->mods);
}

/* GrabButton / GrabKey: keyed by detail and modifiers. */
static void rec_grab(XpRecord *rec, const RecRow *row, const RecReq *r,
		     RecRes *e)
{
	guint detail, mods;

	if (row->group == G_GRAB_BUTTON) {
		detail = rq_get(r, 20, 1);
		mods = rq_get(r, 22, 2);
	} else {
		mods = rq_get(r, 8, 2);
		detail = rq_get(r, 10, 1);
	}
	rec_mod_put(rec, e, rec_key(row->group, detail << 16 | mods), r);
}

/* UngrabButton / UngrabKey. */
static void rec_ungrab(XpRecord *rec, const RecRow *row, const RecReq *r,
		       RecRes *e)
{
	RecUngrab u = { row->group, r->b[1], rq_get(r, 8, 2) };

	rec_mod_remove_if(rec, e, rec_match_ungrab, &u);
}

/* Matches the G_ALLOC mods of the pixels in a FreeColors list. */
typedef struct {
	const RecReq *r;	/* the FreeColors request */
} RecFreeColors;

/* Matches a cell freed by the FreeColors request in UD. */
static gboolean rec_match_free_colors(guint64 key, gpointer ud)
{
	const RecReq *r = ((RecFreeColors *)ud)->r;

	if (key >> 32 != G_ALLOC)
		return FALSE;
	for (gsize o = 12; rq_has(r, o, 4); o += 4)
		if (rq_get(r, o, 4) == (guint32)key)
			return TRUE;
	return FALSE;
}

/* Frees a glyph (hash table value). */
static void rec_glyph_free(gpointer p)
{
	g_free(p);
}

/* The bytes of a glyph image W x H at BPP bits per pixel (rows padded to
 * 32 bits, as RENDER wants them). */
static inline gsize rec_glyph_size(guint w, guint h, guint bpp)
{
	return (((gsize)w * bpp + 31) / 32) * 4 * h;
}

/* AddGlyphs: each glyph kept by ID in its glyph set; when the image sizes
 * cannot be told (bits per pixel unknown), the request is kept whole. */
static void rec_add_glyphs(XpRecord *rec, const RecReq *r, RecRes *e)
{
	/* the glyph set's own bits per pixel first, once known: small
	 * glyphs can fit several (a 3-pixel row is 4 bytes at 1 and at 8),
	 * and a later request may tell them apart */
	guint8 bpps[] = { e->gs_bpp, 8, 32, 1, 4, 16 };
	guint32 n = rq_get(r, 8, 4);
	gsize ids = rq_off(r, 12), infos, data, avail, need = 0;
	guint bpp = 0;

	if (e->kind != REC_GLYPHSET || n > (r->len - ids) / 16)
		return;
	infos = ids + 4 * (gsize)n;
	data = infos + 12 * (gsize)n;
	avail = r->len - data;
	for (guint k = 0; !bpp && k < G_N_ELEMENTS(bpps); k++) {
		if (!bpps[k])
			continue;
		need = 0;
		for (guint32 i = 0; i < n; i++) {
			const guint8 *gi = r->b + infos + 12 * i;
			need += rec_glyph_size(xlate_get16(gi),
					       xlate_get16(gi + 2), bpps[k]);
		}
		if (need == avail)
			bpp = bpps[k];
	}
	if (!bpp) {
		rec_mod_put(rec, e, rec_key(G_GLYPHS, (guint32)rec->serial),
			    r);
		return;
	}
	e->gs_bpp = bpp;
	if (!e->glyphs)
		e->glyphs = g_hash_table_new_full(NULL, NULL, NULL,
						  rec_glyph_free);
	for (guint32 i = 0; i < n; i++) {
		const guint8 *gi = r->b + infos + 12 * i;
		gsize sz = rec_glyph_size(xlate_get16(gi), xlate_get16(gi + 2),
					  bpp);
		RecGlyph *g;

		if (sz > r->len - data)
			return;
		g = g_malloc(sizeof(RecGlyph) + sz);
		g->id = xlate_get32(r->b + ids + 4 * i);
		memcpy(g->info, gi, 12);
		g->len = sz;
		memcpy(g->data, r->b + data, sz);
		data += sz;
		g_hash_table_insert(e->glyphs, GUINT_TO_POINTER(g->id), g);
	}
}

/* FreeGlyphs: the glyphs leave their set. */
static void rec_free_glyphs(const RecReq *r, RecRes *e)
{
	if (e->kind != REC_GLYPHSET || !e->glyphs)
		return;
	for (gsize o = 8; rq_has(r, o, 4); o += 4)
		g_hash_table_remove(e->glyphs,
				    GUINT_TO_POINTER(rq_get(r, o, 4)));
}

/* What a SHAPE Set removes. */
typedef struct {
	guint kind;		/* the shape kind (bounding, clip, input) */
} RecShapeKind;

/* Matches the kept SHAPE operations of one shape kind. */
static gboolean rec_match_shape(guint64 key, gpointer ud)
{
	return key >> 32 == G_SHAPE &&
	       ((guint32)key >> 24) == ((RecShapeKind *)ud)->kind;
}

/* A SHAPE operation (or XFIXES SetWindowShapeRegion): kept in order per
 * shape kind; a Set operation (and SetWindowShapeRegion) starts over. */
static void rec_shape(XpRecord *rec, const RecRow *row, const RecReq *r,
		      RecRes *e)
{
	RecShapeKind k = { rq_get(r, row->sub_off, 1) };
	gboolean set = row->op_off ? rq_get(r, row->op_off, 1) == 0 :
				     row->ext && strcmp(row->ext, "XFIXES") ==
							 0;

	if (set)
		rec_mod_remove_if(rec, e, rec_match_shape, &k);
	rec_mod_put(rec, e,
		    rec_key(G_SHAPE, k.kind << 24 |
					     ((guint32)rec->serial &
					      0xffffff)),
		    r);
}

/* Matches every key (a region's operations). */
static gboolean rec_match_group_all(guint64 key, gpointer ud)
{
	return rec_match_group(key, ud);
}

/* ---- pending replies ---- */

/* Queues request SEQ's reply for ACTION. */
static RecPending *rec_pend(XpRecord *rec, guint64 seq, guint action)
{
	RecPending *p = g_new0(RecPending, 1);

	p->seq = seq;
	p->action = action;
	g_queue_push_tail(&rec->pending, p);
	return p;
}

/* Frees a pending entry. */
static void rec_pending_free(gpointer d)
{
	RecPending *p = d;

	if (p->req)
		g_bytes_unref(p->req);
	g_free(p);
}

/* ---- the entry point ---- */

/* Applies row ROW to request R. */
static void rec_apply(XpRecord *rec, const RecRow *row, const RecReq *r,
		      guint64 seq)
{
	RecRes *e = NULL;
	RecPending *p;

	if (row->id_off && !rq_has(r, row->id_off, 4))
		return;
	switch (row->action) {
	case A_CREATE:
		e = rec_create(rec, r, row->id_off, row->kind, seq);
		if (e && row->kind == REC_PIXMAP && r->b[0] == 53)
			e->depth = r->b[1];
		return;
	case A_CREATE_WINDOW:
		rec_create_window(rec, r, seq);
		return;
	case A_INTERN_ATOM: {
		guint n = rq_get(r, 4, 2);
		char *name;
		if (!rq_has(r, 8, n))
			return;
		name = g_strndup((const char *)r->b + rq_off(r, 8), n);
		p = rec_pend(rec, seq, row->action);
		p->req = g_bytes_new_take(name, n + 1);
		return;
	}
	case A_GET_ATOM_NAME:
		p = rec_pend(rec, seq, row->action);
		p->id = rq_get(r, 4, 4);
		return;
	case A_VERSION:
		rec_mod_put(rec, rec->global,
			    rec_key(G_VERSION, r->b[0] << 8 | r->b[1]), r);
		return;
	case A_SELECTION: {
		guint32 owner = rq_get(r, 4, 4), sel = rq_get(r, 8, 4);
		guint64 key = rec_key(G_SELECTION, sel);
		RecRes *o = owner ? rec_target(rec, owner, FALSE) : NULL;
		/* only selections owned by a window of the client's */
		if (o && o->kind == REC_WINDOW)
			rec_mod_put(rec, rec->global, key, r);
		else
			rec_mod_remove(rec, rec->global, key);
		return;
	}
	default:
		break;
	}
	e = rec_target(rec, row->id_off ? rq_get(r, row->id_off, 4) : 0,
		       TRUE);
	if (!e)
		return;
	switch (row->action) {
	case A_FREE:
		if (e->kind != REC_FOREIGN && e->kind != REC_GLOBAL &&
		    e->kind != REC_WINDOW)
			rec_free_res(rec, e);
		break;
	case A_DESTROY_WINDOW:
		if (e->kind == REC_WINDOW) {
			rec_destroy_children(rec, e);
			rec_free_res(rec, e);
		}
		break;
	case A_DESTROY_SUBS:
		rec_destroy_children(rec, e);
		break;
	case A_VALUES:
		rec_values(rec, row, r, e);
		break;
	case A_CONFIGURE:
		if (e->kind == REC_WINDOW)
			rec_configure(rec, r, e);
		break;
	case A_REPARENT:
		if (e->kind == REC_WINDOW)
			rec_reparent(rec, r, e);
		break;
	case A_MAP:
		e->flags |= REC_F_MAPPED;
		break;
	case A_UNMAP:
		e->flags &= ~REC_F_MAPPED;
		break;
	case A_MAP_SUBS:
	case A_UNMAP_SUBS:
		rec_map_children(e, row->action == A_MAP_SUBS);
		break;
	case A_CIRCULATE:
		if (e->bottom && e->bottom != e->top) {
			RecRes *c = r->b[1] ? e->top : e->bottom;
			rec_unlink(c);
			rec_link_above(e, c, r->b[1] ? NULL : e->top);
		}
		break;
	case A_PROPERTY:
		rec_property(rec, r, e);
		break;
	case A_DELETE_PROPERTY:
		rec_mod_remove(rec, e, rec_key(G_PROP, rq_get(r, 8, 4)));
		break;
	case A_GET_PROPERTY:
		if (r->b[1])
			rec_mod_remove(rec, e,
				       rec_key(G_PROP, rq_get(r, 8, 4)));
		break;
	case A_MOD: {
		guint32 sub = row->sub_off ? rq_get(r, row->sub_off,
						    row->sub_size) : 0;
		guint64 key = rec_key(row->group, sub);
		if (row->rm_off &&
		    rq_get(r, row->rm_off, row->rm_size) == row->rm_val)
			rec_mod_remove(rec, e, key);
		else
			rec_mod_put(rec, e, key, r);
		break;
	}
	case A_MOD_APPEND:
		rec_mod_put(rec, e, rec_key(row->group, (guint32)rec->serial),
			    r);
		break;
	case A_UNMOD:
		rec_mod_remove(rec, e, rec_key(row->group, 0));
		break;
	case A_CLIP: {
		RecVals none = { 0 };
		rec_mod_put(rec, e, rec_key(G_CLIP, 0), r);
		rec_create_merge(rec, e, &none, rec_clip_bit(e));
		break;
	}
	case A_COPY_GC:
		rec_copy_gc(rec, r);
		break;
	case A_SHAPE:
		rec_shape(rec, row, r, e);
		break;
	case A_REGION_SET: {
		guint g = G_REGION;
		rec_mod_remove_if(rec, e, rec_match_group_all, &g);
		rec_mod_put(rec, e, rec_key(G_REGION, (guint32)rec->serial),
			    r);
		break;
	}
	case A_ALLOC_COLOR:
		p = rec_pend(rec, seq, row->action);
		p->id = e->xid;
		p->req = g_bytes_new(r->b, r->len);
		break;
	case A_FREE_COLORS: {
		RecFreeColors fc = { r };
		rec_mod_remove_if(rec, e, rec_match_free_colors, &fc);
		break;
	}
	case A_GRAB:
		rec_grab(rec, row, r, e);
		break;
	case A_UNGRAB:
		rec_ungrab(rec, row, r, e);
		break;
	case A_ADD_GLYPHS:
		rec_add_glyphs(rec, r, e);
		break;
	case A_FREE_GLYPHS:
		rec_free_glyphs(r, e);
		break;
	case A_COUNTER_SET:
	case A_COUNTER_ADD:
		if (e->kind == REC_COUNTER && e->create &&
		    e->create_len >= 16 && rq_has(r, 8, 8)) {
			gint64 v = (gint64)((guint64)rq_get(r, 8, 4) << 32 |
					    rq_get(r, 12, 4));
			if (row->action == A_COUNTER_ADD)
				v += (gint64)((guint64)xlate_get32(
						      e->create + 8) << 32 |
					      xlate_get32(e->create + 12));
			xlate_put32(e->create + 8, (guint64)v >> 32);
			xlate_put32(e->create + 12, (guint32)v);
		}
		break;
	case A_ALARM:
		rec_change_alarm(rec, r, e);
		break;
	case A_FENCE_SET:
		if (e->kind == REC_FENCE && e->create && e->create_len >= 16)
			e->create[12] = row->sub_off;
		break;
	default:
		break;
	}
	if (e->kind == REC_FOREIGN)
		rec_foreign_gc(rec, e);
}

/* Records one client request. */
RecordNeed record_request(XpRecord *rec, const ProtoExt *ext, guint op,
			  const guint8 *buf, gsize len, gboolean big,
			  guint64 seq)
{
	const RecRow *row = rec_row(ext, op);
	RecReq r = { buf, len, big };
	RecordNeed need = RECORD_OK;

	if (G_LIKELY(!row))
		return RECORD_OK;
	if (len < 4 || len % 4)
		return RECORD_OK;
	if (ext != proto_core())
		rec_note_ext(rec, ext, buf[0]);
	rec_apply(rec, row, &r, seq);
	if (rec->dropq->len)
		rec_run_dropq(rec);
	if (ext == proto_core() && op == 54) {
		/* FreePixmap: a zombie now needs its contents */
		RecRes *e = xidtab_lookup(&rec->res, rq_get(&r, 4, 4));
		if (e && (e->flags & REC_F_ZOMBIE) && !e->image)
			need = RECORD_NEED_IMAGE;
	}
	return need;
}

/* Takes the pending entry for SEQ off the queue (older ones are over). */
static RecPending *rec_pending_take(XpRecord *rec, guint64 seq)
{
	RecPending *p;

	while ((p = g_queue_peek_head(&rec->pending)) && p->seq < seq)
		rec_pending_free(g_queue_pop_head(&rec->pending));
	if (p && p->seq == seq)
		return g_queue_pop_head(&rec->pending);
	return NULL;
}

/* Records a client-view request, its extension found by the maps. */
RecordNeed record_request_client(XpRecord *rec, const XpMap *map,
				 const guint8 *buf, gsize len, gboolean big,
				 guint64 seq)
{
	const ProtoExt *ext;
	guint8 smajor;

	if (buf[0] < 128)
		return record_request(rec, proto_core(), buf[0], buf, len, big,
				      seq);
	ext = xmap_ext_by_client_major(map, buf[0], &smajor);
	if (!ext)
		return RECORD_OK;
	return record_request(rec, ext, buf[1], buf, len, big, seq);
}

/* Whether a request is ever recorded. */
gboolean record_wants(const ProtoExt *ext, guint op)
{
	if (G_UNLIKELY(!rec_ready))
		rec_init();
	return rec_row(ext, op) != NULL;
}

/* A GetImage for a pixmap's contents, queued. */
gsize record_image_request(XpRecord *rec, guint32 pixmap, guint8 req[20])
{
	RecRes *e = xidtab_lookup(&rec->res, pixmap);

	if (!e || e->kind != REC_PIXMAP || !e->create || e->create_len < 16 ||
	    e->create[0] != 53)
		return 0;
	memset(req, 0, 20);
	req[0] = 73;	/* GetImage */
	req[1] = 2;	/* ZPixmap */
	xlate_put16(req + 2, 5);
	xlate_put32(req + 4, pixmap);
	memcpy(req + 12, e->create + 12, 4);	/* width, height */
	xlate_put32(req + 16, 0xffffffff);	/* all planes */
	g_queue_push_tail(&rec->images, GUINT_TO_POINTER(pixmap));
	return 20;
}

/* The reply to the oldest queued GetImage. */
void record_image_reply(XpRecord *rec, const guint8 *msg, gsize len)
{
	guint32 pixmap = GPOINTER_TO_UINT(g_queue_pop_head(&rec->images));
	g_autoptr(GBytes) data = NULL;

	if (!pixmap || !msg || len < 32 || msg[0] != 1)
		return;	/* an error: the contents stay unknown */
	data = g_bytes_new(msg + 32, len - 32);
	record_set_pixmap_image(rec, pixmap, data);
}

/* The live pixmaps. */
GArray *record_pixmaps(const XpRecord *rec)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(guint32));
	guint pos = 0;
	RecRes *e;

	while ((e = xidtab_next(&rec->res, &pos))) {
		if (e->kind == REC_PIXMAP && !(e->flags & REC_F_ZOMBIE))
			g_array_append_val(a, e->xid);
	}
	return a;
}

/* A reply: atom names and allocated pixels. */
void record_reply(XpRecord *rec, guint64 seq, const guint8 *buf, gsize len)
{
	RecPending *p;

	if (G_LIKELY(g_queue_is_empty(&rec->pending)))
		return;
	p = rec_pending_take(rec, seq);
	if (!p)
		return;
	if (p->action == A_INTERN_ATOM && len >= 12) {
		guint32 atom = xlate_get32(buf + 8);
		if (atom)
			record_note_atom(rec, atom,
					 g_bytes_get_data(p->req, NULL));
	} else if (p->action == A_GET_ATOM_NAME && len >= 32) {
		guint n = xlate_get16(buf + 8);
		if (32 + (gsize)n <= len) {
			g_autofree char *name = g_strndup((const char *)buf +
							  32, n);
			record_note_atom(rec, p->id, name);
		}
	} else if (p->action == A_ALLOC_COLOR && len >= 20) {
		RecRes *e = rec_target(rec, p->id, TRUE);
		/* AllocColor: pixel at 16; AllocNamedColor: at 8 */
		gsize rl;
		const guint8 *rq = g_bytes_get_data(p->req, &rl);
		guint32 pixel = xlate_get32(buf + (rq[0] == 84 ? 16 : 8));
		RecReq r = { rq, rl, FALSE };
		if (e)
			rec_mod_put(rec, e, rec_key(G_ALLOC, pixel), &r);
	}
	rec_pending_free(p);
}

/* An error: the creation it answers leaves the record. */
void record_error(XpRecord *rec, guint64 seq, const guint8 *buf)
{
	RecPending *p = g_queue_is_empty(&rec->pending) ? NULL :
			rec_pending_take(rec, seq);

	if (p)
		rec_pending_free(p);
	for (guint i = 0; i < REC_RING; i++) {
		RecRecent *rc = &rec->recent[i];
		RecRes *e;
		if (rc->seq != seq || !seq)
			continue;
		e = xidtab_lookup(&rec->res, rc->xid);
		rc->seq = 0;
		if (!e || e->serial != rc->serial)
			continue;
		if (e->kind == REC_WINDOW)
			rec_destroy_children(rec, e);
		rec_free_res(rec, e);
		rec_run_dropq(rec);
	}
}

/* ConfigureNotify for a window of the client's: its geometry;
 * DestroyNotify: the window is gone. */
void record_event(XpRecord *rec, const guint8 *ev)
{
	RecRes *e;

	if ((ev[0] & 0x7f) == 17) {
		/* DestroyNotify: a window of the client's destroyed by
		 * someone else (its parent's owner, KillClient) */
		e = xidtab_lookup(&rec->res, xlate_get32(ev + 8));
		if (e && e->kind == REC_WINDOW && !(e->flags & REC_F_ZOMBIE)) {
			rec_destroy_children(rec, e);
			rec_free_res(rec, e);
			rec_run_dropq(rec);
		}
		return;
	}
	if ((ev[0] & 0x7f) != 22)
		return;
	e = xidtab_lookup(&rec->res, xlate_get32(ev + 8));
	if (!e || e->kind != REC_WINDOW || !e->create || e->create_len < 32 ||
	    (e->flags & REC_F_ZOMBIE))
		return;
	/* a position relative to a window-manager frame means nothing on
	 * another server: only windows whose parent the client made keep
	 * theirs */
	if (e->parent && e->parent->kind == REC_WINDOW) {
		memcpy(e->create + 12, ev + 16, 4);
	}
	memcpy(e->create + 16, ev + 20, 6);	/* width, height, border */
}

/* Notes an atom's name. */
void record_note_atom(XpRecord *rec, guint32 atom, const char *name)
{
	if (atom <= 68 || !name)
		return;
	g_hash_table_replace(rec->atoms, GUINT_TO_POINTER(atom),
			     g_strdup(name));
}

/* Attaches a pixmap's contents. */
gboolean record_set_pixmap_image(XpRecord *rec, guint32 pixmap, GBytes *data)
{
	RecRes *e = xidtab_lookup(&rec->res, pixmap);

	/* a zombie too: its contents are read as it is freed */
	if (!e || e->kind != REC_PIXMAP)
		return FALSE;
	if (e->image)
		g_bytes_unref(e->image);
	e->image = data ? g_bytes_ref(data) : NULL;
	return TRUE;
}

/* ---- life and queries ---- */

/* A new empty record. */
XpRecord *record_new(guint32 base, guint32 mask, guint32 root,
		     guint8 root_depth)
{
	XpRecord *rec = g_new0(XpRecord, 1);

	rec_init();
	rec->base = base;
	rec->mask = mask;
	rec->root = root;
	rec->root_depth = root_depth;
	xidtab_init(&rec->res);
	rec->global = g_new0(RecRes, 1);
	rec->global->kind = REC_GLOBAL;
	rec->atoms = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	g_queue_init(&rec->pending);
	g_queue_init(&rec->images);
	rec->dropq = g_ptr_array_new();
	return rec;
}

/* A new record from the client's set-up reply. */
XpRecord *record_new_for_setup(const guint8 *p, gsize len)
{
	gsize off;

	if (len < 40 || p[0] != 1)
		return NULL;
	off = 40 + ((xlate_get16(p + 24) + 3) & ~(gsize)3) + 8 * (gsize)p[29];
	if (p[28] == 0 || off + 40 > len)
		return NULL;
	return record_new(xlate_get32(p + 12), xlate_get32(p + 16),
			  xlate_get32(p + off), p[off + 38]);
}

/* Frees a record. */
void record_free(XpRecord *rec)
{
	guint pos = 0;
	RecRes *e;

	if (!rec)
		return;
	while ((e = xidtab_next(&rec->res, &pos)))
		rec_res_free(NULL, e);
	xidtab_clear(&rec->res);
	while ((e = rec->free_res)) {
		rec->free_res = e->above;
		g_free(e);
	}
	rec_res_free(NULL, rec->global);
	g_hash_table_unref(rec->atoms);
	g_queue_clear_full(&rec->pending, rec_pending_free);
	g_ptr_array_unref(rec->dropq);
	g_queue_clear(&rec->images);
	g_free(rec);
}

/* The entry for XID. */
RecRes *record_lookup(const XpRecord *rec, guint32 xid)
{
	return xid ? xidtab_lookup(&rec->res, xid) :
		     rec->global;
}

/* The approximate memory of one mod array. */
static gsize rec_mods_bytes(const GPtrArray *mods, guint *n)
{
	gsize b = 0;

	if (!mods)
		return 0;
	b += sizeof(GPtrArray) + 16 + mods->len * sizeof(gpointer);
	for (guint i = 0; i < mods->len; i++)
		b += sizeof(RecMod) + ((RecMod *)mods->pdata[i])->len + 16;
	*n += mods->len;
	return b;
}

/* Counts what the record holds. */
void record_stats(const XpRecord *rec, RecordStats *st)
{
	guint pos = 0;
	RecRes *e;

	memset(st, 0, sizeof(*st));
	st->bytes = sizeof(XpRecord);
	while ((e = xidtab_next(&rec->res, &pos))) {
		if (e->kind == REC_FOREIGN)
			st->foreign++;
		else if (e->flags & REC_F_ZOMBIE)
			st->zombies++;
		else
			st->resources++;
		/* the entry, its allocation header and its table slot */
		st->bytes += sizeof(RecRes) + 16 + sizeof(XidTabSlot);
		if (e->create)
			st->bytes += e->create_len + 16;
		st->bytes += rec_mods_bytes(e->mods, &st->mods);
		if (e->glyphs) {
			GHashTableIter gi;
			gpointer g;
			g_hash_table_iter_init(&gi, e->glyphs);
			while (g_hash_table_iter_next(&gi, NULL, &g)) {
				st->glyphs++;
				st->bytes += sizeof(RecGlyph) +
					     ((RecGlyph *)g)->len + 16 + 24;
			}
		}
		if (e->image)
			st->bytes += g_bytes_get_size(e->image);
	}
	st->bytes += rec_mods_bytes(rec->global->mods, &st->mods);
	st->atoms = g_hash_table_size(rec->atoms);
	st->pending = rec->pending.length;
}

/* Orders entries: foreign first, then by serial. */
static gint rec_cmp_serial(gconstpointer a, gconstpointer b)
{
	const RecRes *x = *(RecRes *const *)a, *y = *(RecRes *const *)b;
	int fx = x->kind != REC_FOREIGN, fy = y->kind != REC_FOREIGN;

	if (fx != fy)
		return fx - fy;
	return x->serial < y->serial ? -1 : x->serial > y->serial;
}

/* Every entry in creation order. */
GPtrArray *record_entries(const XpRecord *rec)
{
	GPtrArray *a = g_ptr_array_sized_new(xidtab_size(&rec->res));
	guint pos = 0;
	gpointer v;

	while ((v = xidtab_next(&rec->res, &pos)))
		g_ptr_array_add(a, v);
	g_ptr_array_sort(a, rec_cmp_serial);
	return a;
}

/* The global entry. */
RecRes *record_global(const XpRecord *rec)
{
	return rec->global;
}

/* The client's resource-ID base. */
guint32 record_base(const XpRecord *rec)
{
	return rec->base;
}

/* The client's resource-ID mask. */
guint32 record_mask(const XpRecord *rec)
{
	return rec->mask;
}

/* The client's root window. */
guint32 record_root(const XpRecord *rec)
{
	return rec->root;
}

/* The root window's depth. */
guint8 record_root_depth(const XpRecord *rec)
{
	return rec->root_depth;
}

/* Orders guint32 values. */
static gint rec_cmp_atom_value(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

	return x < y ? -1 : x > y;
}

/* Orders atoms by value. */
static gint rec_cmp_atom(gconstpointer a, gconstpointer b)
{
	guint32 x = ((const RecordAtom *)a)->atom;
	guint32 y = ((const RecordAtom *)b)->atom;

	return x < y ? -1 : x > y;
}

/* Every atom name the client learned. */
GArray *record_atoms(const XpRecord *rec)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(RecordAtom));
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, rec->atoms);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		RecordAtom ra = { GPOINTER_TO_UINT(k), v };
		g_array_append_val(a, ra);
	}
	g_array_sort(a, rec_cmp_atom);
	return a;
}

/* What rec_atoms_visit() collects. */
typedef struct {
	const XpRecord *rec;	/* the record */
	GHashTable *found;	/* unnamed atoms found (a set) */
} RecAtoms;

/* Notes atom A when it is neither predefined nor named. */
static void rec_atom_note(RecAtoms *ra, guint32 a)
{
	if (a > 68 && !g_hash_table_contains(ra->rec->atoms,
					     GUINT_TO_POINTER(a)))
		g_hash_table_add(ra->found, GUINT_TO_POINTER(a));
}

/* Walker visitor: the atoms of a request. */
static void rec_atoms_visit(gpointer ud, ProtoKind kind, guint8 *field)
{
	if (proto_kind_class(kind) == PROTO_CLASS_ATOM)
		rec_atom_note(ud, xlate_get32(field));
}

/* The atoms of stored request BUF: its fields, and the data of a format-32
 * ATOM property. */
static void rec_atoms_in(RecAtoms *ra, guint8 *buf, gsize len, gboolean big)
{
	const ProtoMsg *msg = rec_msg(ra->rec, buf);
	RecReq r = { buf, len, big };

	if (msg)
		walk_message(msg, PROTO_REQUEST, buf, len, big,
			     rec_atoms_visit, ra);
	if (buf[0] == 18 && rq_get(&r, 12, 4) == 4 && rq_get(&r, 16, 1) == 32)
		for (gsize o = 24; rq_has(&r, o, 4); o += 4)
			rec_atom_note(ra, rq_get(&r, o, 4));
}

/* The atoms kept requests use without a known name. */
GArray *record_unnamed_atoms(const XpRecord *rec)
{
	g_autoptr(GHashTable) found = g_hash_table_new(NULL, NULL);
	RecAtoms ra = { rec, found };
	GArray *a = g_array_new(FALSE, FALSE, sizeof(guint32));
	GHashTableIter it;
	gpointer v;
	guint pos = 0;

	for (RecRes *e = rec->global; e;) {
		if (e->create)
			rec_atoms_in(&ra, e->create, e->create_len,
				     e->create_big);
		for (guint i = 0; e->mods && i < e->mods->len; i++) {
			RecMod *m = e->mods->pdata[i];
			rec_atoms_in(&ra, m->data, m->len, m->big);
		}
		e = xidtab_next(&rec->res, &pos);
	}
	g_hash_table_iter_init(&it, found);
	while (g_hash_table_iter_next(&it, &v, NULL)) {
		guint32 x = GPOINTER_TO_UINT(v);
		g_array_append_val(a, x);
	}
	g_array_sort(a, rec_cmp_atom_value);
	return a;
}

/* Whether XID is in the client's range. */
gboolean record_is_own(const XpRecord *rec, guint32 xid)
{
	return xid && (xid & ~rec->mask) == rec->base;
}
