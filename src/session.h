/*
 * session.h: the session daemon.
 *
 * `xckpt run` forks; the child becomes the session daemon by calling
 * session_main().  The daemon is the root of everything that a later
 * checkpoint dumps:
 *
 *   - a new session (setsid), a child subreaper (orphans of the session are
 *     re-parented to it: pid 1 does not reap them on these machines), in new
 *     IPC and UTS namespaces;
 *   - it hosts the X proxy (xproxy.h) and the control socket (control.h) on
 *     one GLib main loop;
 *   - unless told not to, it starts a private D-Bus session bus (dbus-daemon)
 *     inside the tree, at STATEDIR/NAME.bus, so that nothing the app talks
 *     to over D-Bus lives outside the checkpointed tree;
 *   - it spawns the app with DISPLAY and XAUTHORITY pointing at the proxy,
 *     NO_AT_BRIDGE=1, GSETTINGS_BACKEND=memory, XCKPT_SESSION=NAME, stdin
 *     from /dev/null, stdout and stderr through pipes into the daemon (never
 *     a file the app holds: CRIU refuses to restore a file that grew);
 *   - it appends the app's output to the session log (opening the log for
 *     each write, so that the daemon holds no growing file either) and
 *     streams it to the clients that asked for it;
 *   - the session ends when the app exits or a client sends KILL: every
 *     descendant gets SIGTERM, then SIGKILL after a grace period; once the
 *     daemon has no child left it sends EXIT to the output clients, DONE to
 *     the killers, frees the proxy, removes the state files and exits 0.
 *
 * Start-up is reported on the ready pipe: one byte 'o' when the proxy is
 * ready and the app has started, or 'e' followed by a one-line message.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>
#include <termios.h>

/* The default grace period between SIGTERM and SIGKILL, in ms. */
#define SESSION_GRACE_MS 2000

/* What the daemon is to run.  session_main() takes it over. */
typedef struct {
	char *name;		/* the session name (valid, reserved) */
	char *statedir;		/* the state directory (statedir.h) */
	char *upstream;		/* the X display for the proxy; NULL: no X,
				 * no proxy (terminal programs, scripts) */
	char **argv;		/* the app's command line */
	char *cwd;		/* where the app runs */
	int listen_fd;		/* the bound, listening control socket */
	int fg_fd;		/* the foreground client's connection (a
				 * socketpair end that has sent HELLO), or -1 */
	int ready_fd;		/* the write end of the ready pipe */
	gboolean no_dbus;	/* do not start a private D-Bus session bus */
	gboolean pty;		/* run the app on a pty the daemon keeps
				 * (started from a terminal), not on pipes */
	guint rows;		/* the pty's size: rows... */
	guint cols;		/* ...and columns */
	gboolean has_termios;	/* TERMIOS holds the user's terminal modes */
	struct termios termios;	/* the modes the pty starts with */
} SessionConfig;

/* The hidden command word of the re-executed daemon. */
#define SESSION_DAEMON_COMMAND "__session-daemon"

/* In a fresh child of `xckpt run`: makes this process the root of a session
 * tree (a new session, a child subreaper, new IPC, UTS and mount
 * namespaces, a private devpts) and re-executes xckpt as the session
 * daemon, CONFIG passed along, so that the daemon's executable and
 * libraries are mapped from the session's own mount namespace (CRIU cannot
 * dump a mapping of a mount of another namespace).  Never returns; reports
 * a failure on CONFIG->ready_fd. */
G_GNUC_NORETURN void session_exec(SessionConfig *config);

/* What the re-executed daemon runs (`xckpt __session-daemon`): takes its
 * configuration from the environment and runs session_main().  Returns 2
 * (usage) when called by hand. */
int session_daemon_exec(void);

/* Runs the session daemon in the calling process, the re-executed child of
 * `xckpt run` (session_exec()), as CONFIG says.  Never returns: exits 0 when the session is over, 1
 * when it could not start (after reporting why on the ready pipe and
 * removing everything it created). */
G_GNUC_NORETURN void session_main(SessionConfig *config);
