/*
 * xproxy.h: the X11 protocol proxy, the one public header of xproxy/.
 *
 * A proxy listens as a new display :N (a unix socket under /tmp/.X11-unix
 * and the abstract socket of the same name; never TCP) with its own
 * MIT-MAGIC-COOKIE-1 cookie, kept in a private Xauthority file (mode 0600).
 * Each client connection gets its own connection to the upstream display;
 * the proxy parses every request, reply, event and error and translates
 * resource IDs, atoms, sequence numbers and extension opcodes between the
 * client's view and the server's.
 *
 * The proxy runs on a thread of its own, with its own event loop; the
 * functions below are called from the owner's thread (they run their work
 * on the proxy's thread and wait for it).
 */
#pragma once

#include <glib.h>

/* The domain of xproxy's errors, and their codes. */
#define XPROXY_ERROR (xproxy_error_quark())
GQuark xproxy_error_quark(void);

typedef enum {
	XPROXY_ERROR_FAILED,		/* anything else (a system call) */
	XPROXY_ERROR_BAD_DISPLAY,	/* no DISPLAY, or a bad display name */
	XPROXY_ERROR_UNREACHABLE,	/* the upstream display cannot be
					 * reached or does not answer */
	XPROXY_ERROR_REFUSED,		/* the upstream server refused us
					 * (e.g. the cookie) */
	XPROXY_ERROR_IN_USE,		/* no free display number */
} XProxyError;

/* A running proxy (opaque). */
typedef struct XProxy XProxy;

/* How to start a proxy. */
typedef struct {
	const char *upstream;	/* the display to connect to, e.g. ":0";
				 * NULL means $DISPLAY */
	int display;		/* the display number to listen as; -1 picks
				 * the first free one from 100 up */
	const char *xauthority;	/* where to write the private cookie file;
				 * NULL picks a file in g_get_tmp_dir() */
	GMainContext *context;	/* the owner's main context, where the lost
				 * function is called; NULL for the default
				 * one */
} XProxyConfig;

/* Called once when the upstream server has gone away or sent garbage and the
 * proxy has closed its clients, on the owner's main context.  MESSAGE says
 * why. */
typedef void (*XProxyLostFn)(gpointer ud, const char *message);

/* Starts a proxy as CONFIG says.  Before returning it checks that the
 * upstream display can be reached with the user's Xauthority (so a missing
 * DISPLAY, an unreachable display or a refused cookie fail here, with a
 * one-line message in ERROR).  Returns a new proxy that the caller frees with
 * xproxy_free(), or NULL. */
XProxy *xproxy_new(const XProxyConfig *config, GError **error);

/* Stops listening, closes every client and upstream connection, removes the
 * sockets and the cookie file, and frees PROXY. */
void xproxy_free(XProxy *proxy);

/* Sets the function called when the upstream server is lost. */
void xproxy_set_lost_fn(XProxy *proxy, XProxyLostFn fn, gpointer ud);

/* The display name clients use, e.g. ":101" (owned by PROXY). */
const char *xproxy_display_name(XProxy *proxy);

/* The display number the proxy listens as. */
int xproxy_display_number(XProxy *proxy);

/* The path of the private Xauthority file (owned by PROXY). */
const char *xproxy_xauthority(XProxy *proxy);

/* The upstream display name (owned by PROXY). */
const char *xproxy_upstream(XProxy *proxy);

/* How many client connections are open. */
guint xproxy_n_clients(XProxy *proxy);

/* CRIU's names of the proxy's connections to the upstream server,
 * "unix[INODE]" each (NULL-terminated; caller frees with g_strfreev).  A
 * dump of the session lists them as external (--external): they stay up
 * across a checkpoint that leaves the session running, which keeps the
 * app's windows on the server untouched. */
char **xproxy_externals(XProxy *proxy);

/* Checkpoint (issue 4).  Quiesces every client connection: stops reading
 * the clients, reads the contents of every recorded pixmap and waits until
 * no server reply is in flight, for at most TIMEOUT_MS; a connection so
 * quiesced is parked (the proxy's thread reads neither side).  The clients
 * stay paused until xproxy_resume().  FALSE with ERROR when answers are
 * still missing at the deadline. */
gboolean xproxy_quiesce(XProxy *proxy, int timeout_ms, GError **error);

/* Lets the clients go on after xproxy_quiesce() (and xproxy_reconnect()). */
void xproxy_resume(XProxy *proxy);

/* After a restore: connects every client connection anew to DISPLAY (e.g.
 * ":1"), rebuilds there what its client built and makes the app repaint;
 * DISPLAY becomes the proxy's upstream.  Waits at most TIMEOUT_MS per
 * connection.  FALSE with a one-line ERROR (the first failure: a missing
 * extension or visual, an unreachable display); the connections that
 * failed end. */
gboolean xproxy_reconnect(XProxy *proxy, const char *display, int timeout_ms,
			  GError **error);

/* Writes the private Xauthority file again, with the same cookie (after a
 * restore on a machine that has lost it). */
gboolean xproxy_rewrite_xauthority(XProxy *proxy, GError **error);

/* Adds to group GROUP of KF what a restart must find on the new display:
 * "extensions" (the X names of those the clients use) and "setup" (base64
 * of the first client's set-up reply, for its depths and visuals). */
void xproxy_describe(XProxy *proxy, GKeyFile *kf, const char *group);

/* Before a restart: checks that DISPLAY can take clients that were told
 * the set-up reply SETUP_B64 (base64, as xproxy_describe() wrote it; NULL:
 * not checked): its root depth and a visual of the same depth, class and
 * masks for each of theirs; and that it has every extension of EXTS
 * (NULL-terminated X names; may be NULL).  FALSE with a one-line ERROR
 * naming what is missing. */
gboolean xproxy_check_display(const char *display, const char *setup_b64,
			      const char *const *exts, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(XProxy, xproxy_free)
