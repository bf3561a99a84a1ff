/*
 * replay.h: the request stream that rebuilds a recorded connection (record.h)
 * on a fresh server connection, in dependency order (issue 4 §2.2-2.4).
 *
 * The replay is computed from the record alone and is made of requests in
 * the CLIENT's view: client XIDs, client atoms, the client's major opcodes
 * for extensions.  The caller sends each one exactly like live traffic: it
 * translates it with the new connection's maps (xlate_request() with the
 * XpMap whose XID range, root, atoms, visuals and extension opcodes were set
 * for the new server) and injects it (conn_inject()), swallowing its reply
 * or error.  So nothing here knows the new server; what differs there is the
 * maps' business.
 *
 * Before the steps, the caller interns every atom of record_atoms() on the
 * new server and enters the pairs in the atom map (xmap_add(map,
 * PROTO_CLASS_ATOM, client, server)): that is the first phase, whose
 * replies the caller needs.
 *
 * Order, phase by phase (ReplayPhase):
 *  0. SETUP: the version handshakes the client made with each extension
 *     (RENDER QueryVersion, XIQueryVersion, XkbUseExtension...), as it made
 *     them: servers refuse extension requests from a client that has not
 *     made them (XFIXES, DAMAGE, XI2: BadRequest) or give them another
 *     meaning.  They have replies, for the caller to swallow.
 *  1. CREATE: every resource in creation order, zombies included, windows
 *     unmapped.  A creation only refers to resources created before it in
 *     the original session, so creation order is a dependency order, with
 *     two exceptions handled here: (a) a window reparented under a window
 *     created after it is created under the root and reparented in phase 2;
 *     (b) a value merged into a creation's value list from a later change
 *     (a window's cursor, a GC's tile, a picture's alpha map) that names a
 *     resource created later is left out and set in phase 3.  Pixmap
 *     contents follow each CreatePixmap (a temporary GC and PutImage pieces
 *     that fit the maximum request length), glyphs each glyph set.
 *  2. TREE: reparenting (exception a), then stacking: siblings whose order
 *     differs from the order their creation gives are raised one by one,
 *     bottom to top.
 *  3. STATE: the deferred values (exception b), then every retained change
 *     (properties, clips, dashes, grabs, selections, shapes, extension
 *     selections...) in the order the client made them.
 *  4. MAP: the mapped windows, children before parents, so that each
 *     top-level appears at once and the server sends Expose for every
 *     viewable window under the masks the app selected.
 *  5. FOCUS: the input focus.
 *  6. FREE: the zombies are freed again (destroyed, for windows).
 *
 * Zombies renamed to placeholders get a free XID of the client's range,
 * taken from the top of the range (the client allocates from the bottom);
 * it is free again once phase 6 has run.  The temporary GCs for PutImage
 * use such an ID too.
 */
#pragma once

#include <glib.h>

#include "xproxy/record.h"

/* Phases of a replay, in order. */
typedef enum {
	REPLAY_SETUP = 0,	/* extension version handshakes */
	REPLAY_CREATE,		/* resources, pixmap contents, glyphs */
	REPLAY_TREE,		/* reparenting, stacking */
	REPLAY_STATE,		/* deferred values, retained changes */
	REPLAY_MAP,		/* mapping */
	REPLAY_FOCUS,		/* input focus */
	REPLAY_FREE,		/* zombies freed */
	REPLAY_N_PHASES
} ReplayPhase;

/* Flags of a step. */
enum {
	REPLAY_F_FOREIGN = 1 << 0,	/* on a resource the client does not
					 * own (the root, another client's
					 * window): may fail if it is not
					 * there or not mapped */
	REPLAY_F_REPLY = 1 << 1,	/* the request has a reply */
	REPLAY_F_MAY_FAIL = 1 << 2,	/* may fail for reasons of the new
					 * server (focus on an unviewable
					 * window...): ignore its error */
};

/* One request to send. */
typedef struct {
	guint8 *data;		/* the request, client's view (owned by the
				 * replay) */
	gsize len;		/* its length in bytes */
	gboolean big;		/* in the BIG-REQUESTS form */
	guint8 phase;		/* ReplayPhase */
	guint8 flags;		/* REPLAY_F_* */
	guint32 xid;		/* the resource it concerns (0: global) */
} ReplayStep;

/* A window the app will want to repaint: mapped and viewable, with
 * ExposureMask selected by this client. */
typedef struct {
	guint32 window;		/* client-view window */
	guint16 width;		/* its size */
	guint16 height;
} ReplayExpose;

/* What the replay needs to know of the new connection. */
typedef struct {
	gsize max_request_bytes; /* the longest request it takes, in bytes
				  * (65535 * 4 without BIG-REQUESTS) */
} ReplayParams;

/* A computed replay (opaque). */
typedef struct XpReplay XpReplay;

/* Computes the replay of REC for a connection described by PARAMS (NULL:
 * the defaults).  REC is not changed and may be freed afterwards.  Free
 * with replay_free(). */
XpReplay *replay_new(const XpRecord *rec, const ReplayParams *params);

/* Frees REPLAY and its steps. */
void replay_free(XpReplay *replay);

/* The number of steps, and the I-th (owned by REPLAY). */
guint replay_n_steps(const XpReplay *replay);
const ReplayStep *replay_step(const XpReplay *replay, guint i);

/* The windows to expose (owned by REPLAY), and their number. */
const ReplayExpose *replay_exposures(const XpReplay *replay, guint *n);

/* The XID a zombie placeholder got (PH as found in record entries), or 0. */
guint32 replay_placeholder_xid(const XpReplay *replay, guint32 ph);

/* The name of PHASE (static). */
const char *replay_phase_name(ReplayPhase phase);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(XpReplay, replay_free)
