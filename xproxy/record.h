/*
 * record.h: what one client connection has built on the X server, kept so
 * that replay.h can build it again on another server (issue 4 §1).
 *
 * Input: every request the client sends, in the CLIENT's view (the bytes as
 * the client sent them, before translation), with its 64-bit client sequence
 * number; the replies to the few requests whose replies matter (InternAtom
 * and GetAtomName: atom names; AllocColor, AllocNamedColor: the pixel); the
 * errors (a creation that failed leaves the record); and ConfigureNotify
 * events for the client's own windows (geometry changed by someone else).
 *
 * Model: a table of resources keyed by client-view XID.  Each entry holds
 * its creation request (the recipe, as bytes, kept up to date: a window's
 * CreateWindow carries its current geometry and every attribute changed
 * since, merged per value bit; a GC's CreateGC every value changed since),
 * and the later requests that still matter ("mods"), coalesced by key: the
 * last ChangeProperty per property, the clip rectangles, the dashes, the
 * passive grabs, the event selections of each extension...  Windows also
 * keep their place in the tree (parent, stacking order bottom to top) and
 * their map state.  Requests on resources the client does not own (the
 * root, other clients' windows, the default colormap) go to "foreign"
 * entries that hold only mods.  State of the connection itself (selections
 * owned, input focus, XKB flags, the XI2 client pointer) goes to the global
 * entry, XID 0.
 *
 * Which requests create, change or free what is a table (record.c), by
 * extension and opcode, not code per request.  Drawing requests and queries
 * are not in it: one table look-up, then return.
 *
 * Freed resources leave the record, so memory is bounded by what the client
 * holds.  But a resource freed while a retained request still refers to it
 * (a cursor freed after XDefineCursor, a pixmap freed after being made a
 * window's background, a window destroyed while a pixmap created on it
 * lives) stays as a ZOMBIE, counted by references: the replay creates it,
 * uses it and frees it again, which gives exactly what X itself does.  The
 * references are found by walking the stored requests with the generated
 * tables (walk_message), so every XID field of every recorded request counts.
 * When the client reuses a zombie's XID for a new resource, the zombie is
 * renamed to a private placeholder (RECORD_PLACEHOLDER_BIT) in every stored
 * request; the replay gives it a free XID of the client's range.
 *
 * Pixmap contents are not recorded from the drawing requests: the proxy
 * reads them at checkpoint time with GetImage and attaches them with
 * record_set_pixmap_image().
 *
 * Stored requests are in the normal (non-BIG-REQUESTS) form whenever they
 * fit it; longer ones are kept in the BIG form (RecMod.big).
 *
 * Extension version handshakes (RENDER QueryVersion, XIQueryVersion,
 * XkbUseExtension...) are kept too, once each: a server refuses or changes
 * the meaning of extension requests from a connection that has not made
 * them.
 *
 * How a connection (conn.c) feeds it, all in the client's view:
 *  - after the set-up reply: record_new_for_setup();
 *  - each request, before xlate_request() translates it in place (and in
 *    the fast path for plain core requests): record_request_client(); a
 *    request that record_wants() must not be streamed unbuffered;
 *    RECORD_NEED_IMAGE: inject record_image_request()'s GetImage first;
 *  - replies after xlate_reply(): record_reply(); errors: record_error();
 *    events after xlate_event(): record_event();
 *  - injected GetImage replies: record_image_reply();
 *  - at checkpoint: record_image_request() for each of record_pixmaps().
 *
 * The structures below are read by replay.c and the tests; only record.c
 * changes them.
 */
#pragma once

#include <glib.h>

#include "xproxy/proto.h"
#include "xproxy/xmap.h"

/* XIDs with these bits set are placeholders for renamed zombies (an X
 * resource ID never has its top three bits set). */
#define RECORD_PLACEHOLDER_BIT 0xe0000000u

/* The group (RecMod.key >> 32) of the global entry's mods that are
 * extension version handshakes (QueryVersion, XIQueryVersion...), which a
 * replay sends before anything else. */
#define RECORD_G_VERSION 100

/* What a recorded resource is. */
typedef enum {
	REC_GLOBAL = 0,		/* the connection's own state (XID 0) */
	REC_FOREIGN,		/* a resource the client does not own */
	REC_WINDOW,
	REC_PIXMAP,
	REC_GC,
	REC_FONT,
	REC_CURSOR,
	REC_COLORMAP,
	REC_PICTURE,
	REC_GLYPHSET,
	REC_REGION,
	REC_COUNTER,
	REC_ALARM,
	REC_FENCE,
	REC_DAMAGE,
	REC_BARRIER,
	REC_DBE_BUFFER,
	REC_N_KINDS
} RecKind;

/* Flags of a resource. */
enum {
	REC_F_ZOMBIE = 1 << 0,	/* freed, kept while referenced */
	REC_F_MAPPED = 1 << 1,	/* a window the client mapped */
};

/* One retained request that changed a resource after its creation. */
typedef struct {
	guint64 key;		/* coalescing key: group << 32 | sub (see
				 * record.c); a newer mod with the same key
				 * replaces this one */
	guint64 serial;		/* record-wide order in which it was stored
				 * (the replay sends mods in this order) */
	guint32 len;		/* request length in bytes */
	gboolean big;		/* in the BIG-REQUESTS form */
	guint8 data[];		/* the request, client's view */
} RecMod;

/* A glyph set's glyphs: glyph ID -> RecGlyph (record.c). */
typedef struct RecGlyph RecGlyph;

/* Creation requests up to this long are kept inside their entry
 * (CreateWindow with 8 values, CreatePixmap, CreateGC with 12): windows
 * made and destroyed by the dozen then cost no malloc and free each. */
#define RECORD_CREATE_INLINE 64

/* One recorded resource. */
typedef struct RecRes RecRes;
struct RecRes {
	guint32 xid;		/* client-view XID (or a placeholder) */
	guint8 kind;		/* RecKind */
	guint8 flags;		/* REC_F_* */
	guint8 depth;		/* windows and pixmaps: depth (0: unknown) */
	guint8 gs_bpp;		/* glyph sets: bits per pixel of the glyph
				 * images (0 until known) */
	guint32 refs;		/* references from stored requests of other
				 * entries (a zombie lives while > 0) */
	guint64 serial;		/* record-wide creation order */
	guint8 *create;		/* creation request (owned, or create_buf;
				 * NULL for foreign and global entries) */
	guint32 create_len;	/* its length in bytes */
	gboolean create_big;	/* it is in the BIG-REQUESTS form */
	GPtrArray *mods;	/* RecMod * (owned), or NULL when none */
	RecRes *parent;		/* windows: parent entry (NULL under an
				 * unknown window or for a zombie) */
	RecRes *below;		/* windows: next sibling down */
	RecRes *above;		/* windows: next sibling up */
	RecRes *bottom;		/* windows: lowest child */
	RecRes *top;		/* windows: highest child */
	GBytes *image;		/* pixmaps: contents (ZPixmap), or NULL */
	GHashTable *glyphs;	/* glyph sets: glyph ID -> RecGlyph * */
	/* (last: a reused entry is cleared up to here) */
	guint8 create_buf[RECORD_CREATE_INLINE]; /* holds create when the
				 * request is this short (most creations;
				 * then create is not a malloc'd block) */
};

/* One glyph of a glyph set, as AddGlyphs sent it. */
struct RecGlyph {
	guint32 id;		/* glyph ID */
	guint8 info[12];	/* GLYPHINFO: width, height, x, y, xOff,
				 * yOff */
	guint32 len;		/* bytes of image data */
	guint8 data[];		/* image data (padded to 4 bytes) */
};

/* The record of one connection (opaque outside record.c/replay.c). */
typedef struct XpRecord XpRecord;

/* Statistics (record_stats()). */
typedef struct {
	guint resources;	/* live entries (own resources) */
	guint zombies;		/* zombies */
	guint foreign;		/* foreign entries */
	guint mods;		/* stored mods, all entries */
	guint glyphs;		/* glyphs, all glyph sets */
	gsize bytes;		/* approximate memory held, in bytes */
	guint atoms;		/* atom names known */
	guint pending;		/* requests waiting for a reply */
} RecordStats;

/* A new empty record for a client whose resource-ID range is BASE/MASK
 * (client's view) and whose screen's root window is ROOT with depth
 * ROOT_DEPTH.  Free with record_free(). */
XpRecord *record_new(guint32 base, guint32 mask, guint32 root,
		     guint8 root_depth);

/* Frees REC and all it holds. */
void record_free(XpRecord *rec);

/* What the caller must do before it forwards a recorded request. */
typedef enum {
	RECORD_OK = 0,		/* nothing */
	RECORD_NEED_IMAGE,	/* the request (FreePixmap) frees a pixmap
				 * that something kept still uses: read its
				 * contents now (GetImage of the XID at
				 * offset 4, injected before this request is
				 * forwarded) and give them to
				 * record_set_pixmap_image() */
} RecordNeed;

/*
 * Records request BUF (LEN bytes, client's view, as the client sent it;
 * BIG when in the BIG-REQUESTS form) with client sequence number SEQ.  EXT
 * is the request's tables (proto_core() for core, or the extension that
 * owns the major opcode), OP its opcode within them (major for core, minor
 * for an extension).  Requests that change nothing kept return at once.
 * Never fails: a request too short for what the table says is ignored (the
 * server will reject it).  Returns what the caller must do before it
 * forwards the request.
 */
RecordNeed record_request(XpRecord *rec, const ProtoExt *ext, guint op,
			  const guint8 *buf, gsize len, gboolean big,
			  guint64 seq);

/* record_request() for a request in the client's view whose extension the
 * connection's maps know by the client's major opcode (the call site in
 * conn.c: before xlate_request() translates BUF in place).  Requests of an
 * unknown major are not recorded (the server rejects them). */
RecordNeed record_request_client(XpRecord *rec, const XpMap *map,
				 const guint8 *buf, gsize len, gboolean big,
				 guint64 seq);

/* Whether requests OP of EXT are ever recorded: a request the record does
 * not want may be streamed without being buffered whole.  Static table;
 * cheap. */
gboolean record_wants(const ProtoExt *ext, guint op);

/* The reply BUF (LEN bytes, client's view) to the client's request SEQ.
 * Only replies to requests the record asked for matter; others return at
 * once. */
void record_reply(XpRecord *rec, guint64 seq, const guint8 *buf, gsize len);

/* The error BUF (32 bytes, client's view) to the client's request SEQ: a
 * creation that failed leaves the record. */
void record_error(XpRecord *rec, guint64 seq, const guint8 *buf);

/* Event EV (32 bytes, client's view, core event codes): ConfigureNotify
 * for a window of the client updates its recorded geometry (size and
 * border; the position too under a window of the client's: a top-level's
 * position relative to a window manager's frame means nothing elsewhere);
 * DestroyNotify for one (destroyed by someone else) removes it. */
void record_event(XpRecord *rec, const guint8 *ev);

/* Notes that atom ATOM (client's view) is called NAME (e.g. learned by the
 * proxy's own GetAtomName at checkpoint time). */
void record_note_atom(XpRecord *rec, guint32 atom, const char *name);

/* Attaches the contents of pixmap PIXMAP: DATA (a reference is taken) is a
 * ZPixmap image of the whole pixmap as GetImage returned it.  Returns FALSE
 * when PIXMAP is not a recorded pixmap. */
gboolean record_set_pixmap_image(XpRecord *rec, guint32 pixmap, GBytes *data);

/*
 * Pixmap contents.  record_image_request() writes into REQ a GetImage
 * (ZPixmap, all planes, the whole pixmap; 20 bytes, client's view: the
 * caller translates it like a client request and injects it) for PIXMAP,
 * and queues PIXMAP as waiting; it returns 20, or 0 when PIXMAP is not a
 * recorded pixmap.  record_image_reply() takes the reply (or error) MSG of
 * LEN bytes to the oldest such GetImage and attaches the image.  Injected
 * requests are answered in order, so a FIFO is enough.
 */
gsize record_image_request(XpRecord *rec, guint32 pixmap, guint8 req[20]);
void record_image_reply(XpRecord *rec, const guint8 *msg, gsize len);

/* The pixmaps the client holds (not the zombies, whose contents were read
 * as they were freed): a new array of guint32 XIDs, for checkpoint time. */
GArray *record_pixmaps(const XpRecord *rec);

/* A new record for a client whose set-up reply (as the client got it: its
 * resource-ID base, first screen's root and root depth) is SETUP, LEN
 * bytes; NULL when it is too short. */
XpRecord *record_new_for_setup(const guint8 *setup, gsize len);

/* The recorded entry for XID (owned by REC), or NULL. */
RecRes *record_lookup(const XpRecord *rec, guint32 xid);

/* Counts what REC holds. */
void record_stats(const XpRecord *rec, RecordStats *st);

/* Every entry but the global one, in creation order (serial), foreign
 * entries first: a new array of RecRes * owned by REC (free the array with
 * g_ptr_array_unref()). */
GPtrArray *record_entries(const XpRecord *rec);

/* The global entry (owned by REC). */
RecRes *record_global(const XpRecord *rec);

/* The client's resource-ID base and mask, and its root window and depth. */
guint32 record_base(const XpRecord *rec);
guint32 record_mask(const XpRecord *rec);
guint32 record_root(const XpRecord *rec);
guint8 record_root_depth(const XpRecord *rec);

/* The client's major opcode for extension EXT as seen in its traffic, or 0
 * when the client never used it. */
guint8 record_ext_major(const XpRecord *rec, const ProtoExt *ext);

/* Every atom name the client learned: a new array of (atom, name) pairs,
 * sorted by atom; names owned by REC (free the array with g_array_unref()).
 * Element type: RecordAtom. */
typedef struct {
	guint32 atom;		/* client-view atom */
	const char *name;	/* its name (owned by the record) */
} RecordAtom;
GArray *record_atoms(const XpRecord *rec);

/* The atoms that kept requests use (as fields, or in format-32 ATOM
 * properties) but whose names the record does not know (the client got
 * them from a reply or an event, not from InternAtom): a new array of
 * guint32, sorted, for the proxy to name with GetAtomName at checkpoint
 * time (record_note_atom()); a replay needs every one of them interned. */
GArray *record_unnamed_atoms(const XpRecord *rec);

/* Whether XID is in the client's own resource-ID range. */
gboolean record_is_own(const XpRecord *rec, guint32 xid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(XpRecord, record_free)
