/*
 * display.h: an upstream X display: its name parsed, the user's cookie for
 * it (libXau, honouring XAUTHORITY), and connecting to it.
 *
 * Display names: ":N", ":N.S", "unix:N", "/path/to/socket:N" (as launchd
 * spells it), and "host:N" for TCP (port 6000 + N).
 */
#pragma once

#include <glib.h>

/* One upstream display (opaque). */
typedef struct XpDisplay XpDisplay;

/* Parses NAME and looks up the user's MIT-MAGIC-COOKIE-1 for it.  A display
 * without a cookie is fine (the server may not ask for one).  Returns a new
 * display to free with display_free(), or NULL with ERROR set. */
XpDisplay *display_new(const char *name, GError **error);

/* Frees DISPLAY. */
void display_free(XpDisplay *display);

/* The name as given (owned by DISPLAY). */
const char *display_name(const XpDisplay *display);

/* Connects a new stream socket to the display (blocking connect; unix sockets
 * connect at once).  Returns the socket, non-blocking and close-on-exec, or
 * -1 with ERROR set. */
int display_connect(const XpDisplay *display, GError **error);

/* Builds the connection set-up request (LSB-first, protocol MAJOR.MINOR, with
 * the user's cookie).  Returns new bytes the caller frees. */
GBytes *display_setup_request(const XpDisplay *display, guint16 major,
			      guint16 minor);

/* Connects and completes a set-up, waiting at most TIMEOUT_MS, to check that
 * the display is there and takes the user's cookie.  Returns TRUE, or FALSE
 * with a one-line ERROR (the server's own reason for a refusal). */
gboolean display_check(const XpDisplay *display, int timeout_ms,
		       GError **error);

/* Returns whether the display still accepts connections (a quick connect and
 * close), to tell a server that went away from one closed connection. */
gboolean display_alive(const XpDisplay *display);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(XpDisplay, display_free)

/* Writes all LEN bytes of DATA to non-blocking FD before DEADLINE
 * (monotonic us), waiting as needed.  FALSE on an error or the deadline. */
gboolean display_write_all(int fd, const guint8 *data, gsize len,
			   gint64 deadline);

/* Reads exactly LEN bytes from non-blocking FD into DATA before DEADLINE.
 * FALSE on an error, end of file or the deadline. */
gboolean display_read_all(int fd, guint8 *data, gsize len, gint64 deadline);
