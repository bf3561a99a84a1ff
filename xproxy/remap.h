/*
 * remap.h: a client connection's new server connection after a restart
 * (issue 4 §2.1-2.2): connects to the new display, completes the set-up,
 * and builds the maps from the client's view (what the client was told by
 * the server it started on) to the new server's: resource-ID range, root
 * window, default colormap, visuals, every atom the client knows, and the
 * major opcodes, first events and first errors of every extension it uses.
 *
 * It talks to the new server synchronously (a bounded wait), before the
 * connection goes back to its main loop; the replay of what the client built
 * (replay.h) is then injected into the connection's stream like live traffic
 * (conn.c, conn_reconnect()).
 */
#pragma once

#include <glib.h>

#include "xproxy/display.h"
#include "xproxy/record.h"
#include "xproxy/xmap.h"

/* What remap_connect() found out about the new server connection. */
typedef struct {
	int fd;			/* the new socket (owned by the caller),
				 * non-blocking */
	XpMap *map;		/* the new maps (owned by the caller) */
	guint64 sent;		/* requests remap sent on it (all answered) */
	guint32 max_req_words;	/* the longest request it takes, in words
				 * (with BIG-REQUESTS enabled when asked) */
} RemapResult;

/*
 * Opens a new connection to DISPLAY for a client whose set-up reply was
 * SETUP (client's view, LEN bytes), whose maps were OLD (for its extension
 * codes) and whose record is REC (for its atoms).  When BIG is set,
 * BIG-REQUESTS is enabled on the new connection.  Waits at most TIMEOUT_MS.
 * Fills *OUT and returns TRUE, or FALSE with a one-line ERROR naming what
 * is missing (an extension, a visual) or what failed.
 */
gboolean remap_connect(const XpDisplay *display, const guint8 *setup,
		       gsize len, const XpMap *old, const XpRecord *rec,
		       gboolean big, int timeout_ms, RemapResult *out,
		       GError **error);

/*
 * Checks that DISPLAY offers what the set-up reply SETUP (LEN bytes) of a
 * client's first server described: the depth of its root, and a visual of
 * the same depth, class and masks for every visual.  And that every
 * extension named in EXTS (NULL-terminated X names) is there.  Returns TRUE,
 * or FALSE with a one-line ERROR naming what is missing.
 */
gboolean remap_check(const XpDisplay *display, const guint8 *setup,
		     gsize len, const char *const *exts, int timeout_ms,
		     GError **error);

/*
 * Asks DISPLAY for its current time (the timestamp of a PropertyNotify on a
 * connection of its own, closed again), waiting at most TIMEOUT_MS.  Sets
 * *NOW and returns TRUE, or FALSE with ERROR.
 */
gboolean remap_server_time(const XpDisplay *display, int timeout_ms,
			   guint32 *now, GError **error);
