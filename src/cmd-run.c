/*
 * cmd-run.c: `xckpt run`: starts a session (a session daemon, its proxy and
 * the app) and, in the foreground, passes the app's output through and exits
 * with its status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "src/cmd.h"
#include "src/control.h"
#include "src/session.h"
#include "src/sessinfo.h"
#include "src/statedir.h"

/* The longest time the foreground client waits for the daemon to exit after
 * EXIT, in ms. */
#define CMD_RUN_REAP_MS 10000

/* The foreground client. */
typedef struct {
	int fd;			/* the connection to the daemon */
	GMainLoop *loop;	/* the client's main loop */
	ControlReader reader;	/* bytes from the daemon */
	int status;		/* the app's wait status, once EXIT came */
	gboolean exited;	/* EXIT came */
	gboolean out_closed[3];	/* [1], [2]: our stdout/stderr is gone */
	char *error;		/* why the connection failed, or NULL */
	pid_t daemon;		/* the session daemon (our child) */
	char *sock_path;	/* its control socket, to come back to */
	char *info_path;	/* its metadata file (sessinfo.h) */
	gboolean paused;	/* PAUSE came: a checkpoint is being taken */
	guint restores;		/* the session's restores at PAUSE (see
				 * cmd_come_back()) */
	guint in_src;		/* the connection's watch, or 0 */
} CmdRunClient;

/* How often a paused client looks whether the checkpoint is over, in ms. */
#define CMD_RUN_PAUSE_POLL_MS 50

static gboolean cmd_run_on_in(int fd, GIOCondition cond, gpointer ud);

/* Writes LEN bytes of DATA to our stream FD (1 or 2), remembering a closed
 * stream so that we stop writing to it.  A closed pipe gets the app a
 * SIGPIPE, as if it wrote to that pipe itself (`xckpt run -- yes | head`
 * ends). */
static void cmd_run_write(CmdRunClient *c, int fd, const guint8 *data,
			  gsize len)
{
	while (len > 0 && !c->out_closed[fd]) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE && c->fd >= 0) {
			guint32 le = GUINT32_TO_LE((guint32)SIGPIPE);
			control_send(c->fd, CONTROL_SIGNAL, &le, sizeof(le),
				     NULL);
		}
		if (n <= 0) {
			c->out_closed[fd] = TRUE;
			break;
		}
		data += n;
		len -= n;
	}
}

/* Handles message TYPE with BODY from the daemon. */
static void cmd_run_message(CmdRunClient *c, guint32 type, GBytes *body)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(body, &len);
	guint32 v;

	switch (type) {
	case CONTROL_OUTPUT:
		if (len >= 1 && (data[0] == CONTROL_STDOUT ||
				 data[0] == CONTROL_STDERR))
			cmd_run_write(c, data[0] == CONTROL_STDOUT ? 1 : 2,
				      data + 1, len - 1);
		break;
	case CONTROL_EXIT:
		if (control_get_u32(body, 0, &v)) {
			c->status = (int)v;
			c->exited = TRUE;
			g_main_loop_quit(c->loop);
		}
		break;
	case CONTROL_ERROR:
		cmd_error("session daemon: %.*s", (int)len, (const char *)data);
		break;
	case CONTROL_PAUSE:
		c->paused = TRUE;
		c->restores = cmd_session_restores(c->info_path);
		break;
	default:
		/* DONE (for SIGNAL) and anything newer: nothing to do. */
		break;
	}
}

/* While a checkpoint is taken: once the session's state is no longer
 * "checkpointing", reconnects and asks for the output again; when the
 * daemon has gone (a checkpoint with --kill), ends the client. */
static gboolean cmd_run_on_pause_poll(gpointer ud)
{
	CmdRunClient *c = ud;

	/* (Our child, the keeper: reaped here when it has ended.) */
	waitpid(c->daemon, NULL, WNOHANG);
	switch (cmd_come_back(c->sock_path, c->info_path, c->restores,
			      &c->fd)) {
	case CMD_COME_BACK_WAIT:
		return G_SOURCE_CONTINUE;
	case CMD_COME_BACK_ENDED:
		c->error = g_strdup("the session was checkpointed and ended "
				    "(checkpoint --kill)");
		g_main_loop_quit(c->loop);
		return G_SOURCE_REMOVE;
	case CMD_COME_BACK_OK:
		break;
	}
	c->paused = FALSE;
	g_unix_set_fd_nonblocking(c->fd, TRUE, NULL);
	c->in_src = g_unix_fd_add(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				  cmd_run_on_in, c);
	return G_SOURCE_REMOVE;
}

/* The daemon's connection is readable. */
static gboolean cmd_run_on_in(int fd, GIOCondition cond, gpointer ud)
{
	CmdRunClient *c = ud;
	g_autoptr(GError) error = NULL;
	gboolean eof = FALSE;
	guint32 type;
	GBytes *body;

	if (!control_reader_fill(&c->reader, fd, &eof, &error))
		goto fail;
	while (!c->exited &&
	       control_reader_next(&c->reader, &type, &body, &error)) {
		cmd_run_message(c, type, body);
		g_bytes_unref(body);
	}
	if (error != NULL)
		goto fail;
	if (eof && !c->exited && c->paused) {
		/* A checkpoint: come back once it is over. */
		c->in_src = 0;
		close(c->fd);
		c->fd = -1;
		control_reader_clear(&c->reader);
		control_reader_init(&c->reader);
		g_timeout_add(CMD_RUN_PAUSE_POLL_MS, cmd_run_on_pause_poll, c);
		return G_SOURCE_REMOVE;
	}
	if (eof && !c->exited) {
		c->error = g_strdup("the session daemon went away");
		g_main_loop_quit(c->loop);
	}
	if (c->exited || eof)
		c->in_src = 0;
	return c->exited || eof ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
fail:
	c->error = g_strdup(error->message);
	g_main_loop_quit(c->loop);
	return G_SOURCE_REMOVE;
}

/* SIGINT, SIGTERM or SIGHUP: passes it on to the app. */
static gboolean cmd_run_on_signal(gpointer ud)
{
	CmdRunClient *c = *(CmdRunClient **)ud;
	int sig = GPOINTER_TO_INT(((gpointer *)ud)[1]);
	guint32 le = GUINT32_TO_LE((guint32)sig);

	control_send(c->fd, CONTROL_SIGNAL, &le, sizeof(le), NULL);
	return G_SOURCE_CONTINUE;
}

/* Waits (bounded) for the daemon PID to exit, so that no zombie stays. */
static void cmd_run_reap(pid_t pid)
{
	for (int waited = 0; waited < CMD_RUN_REAP_MS; waited += 10) {
		pid_t r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return;
		g_usleep(10000);
	}
}

/* Runs the foreground client on FD (HELLO sent, its answer not yet read)
 * of session NAME in state directory DIR, whose daemon DAEMON is our child,
 * until the app has exited; returns our exit status (the app's, 128+SIGNAL
 * when it was killed).  Across a checkpoint it reconnects. */
int cmd_run_foreground(int fd, pid_t daemon, const char *dir,
		       const char *name)
{
	CmdRunClient c = { 0 };
	gpointer sigs[3][2];
	const int signals[3] = { SIGINT, SIGTERM, SIGHUP };
	guint sources[3];
	g_autoptr(GError) error = NULL;
	pid_t dpid;
	int rc;

	/* A closed stdout is handled in cmd_run_write(). */
	signal(SIGPIPE, SIG_IGN);
	/* The HELLO went out before the fork; here is the answer. */
	if (!control_hello_reply(fd, &dpid, &error)) {
		cmd_error("%s", error->message);
		close(fd);
		return CMD_FAIL;
	}
	c.fd = fd;
	c.daemon = daemon;
	c.sock_path = statedir_file(dir, name, "sock");
	c.info_path = statedir_file(dir, name, "session");
	c.loop = g_main_loop_new(NULL, FALSE);
	control_reader_init(&c.reader);
	g_unix_set_fd_nonblocking(fd, TRUE, NULL);
	c.in_src = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				 cmd_run_on_in, &c);
	for (int i = 0; i < 3; i++) {
		sigs[i][0] = &c;
		sigs[i][1] = GINT_TO_POINTER(signals[i]);
		sources[i] = g_unix_signal_add(signals[i], cmd_run_on_signal,
					       sigs[i]);
	}
	g_main_loop_run(c.loop);
	for (int i = 0; i < 3; i++)
		g_source_remove(sources[i]);
	if (c.exited) {
		if (WIFSIGNALED(c.status))
			rc = 128 + WTERMSIG(c.status);
		else
			rc = WEXITSTATUS(c.status);
	} else {
		cmd_error("%s", c.error ? c.error : "lost the session daemon");
		rc = CMD_FAIL;
	}
	if (c.in_src != 0)
		g_source_remove(c.in_src);
	if (c.fd >= 0)
		close(c.fd);
	cmd_run_reap(daemon);
	control_reader_clear(&c.reader);
	g_main_loop_unref(c.loop);
	g_free(c.error);
	g_free(c.sock_path);
	g_free(c.info_path);
	return rc;
}

/* Reserves a session name: binds its control socket.  NAME is the asked-for
 * name or NULL (then STEM-1, STEM-2... is tried).  Returns the listening fd
 * and the name in *OUT (caller frees), or -1 with a one-line ERROR. */
static int cmd_run_reserve(const char *dir, const char *name,
			   const char *stem, char **out, GError **error)
{
	for (int n = 1; n < 10000; n++) {
		g_autofree char *try = name ? g_strdup(name) :
				       g_strdup_printf("%s-%d", stem, n);
		g_autofree char *sock = statedir_file(dir, try, "sock");
		g_autoptr(GError) e = NULL;
		int fd = control_listen(sock, &e);

		if (fd >= 0) {
			*out = g_steal_pointer(&try);
			return fd;
		}
		if (!g_error_matches(e, CONTROL_ERROR_DOMAIN,
				     CONTROL_ERROR_IN_USE) || name != NULL) {
			if (g_error_matches(e, CONTROL_ERROR_DOMAIN,
					    CONTROL_ERROR_IN_USE))
				g_set_error(error, CONTROL_ERROR_DOMAIN,
					    CONTROL_ERROR_IN_USE,
					    "session name '%s' is already in use",
					    name);
			else
				g_propagate_error(error, g_steal_pointer(&e));
			return -1;
		}
	}
	g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IN_USE,
		    "no free session name for %s", stem);
	return -1;
}

/* Reads the ready pipe FD: TRUE when the daemon says the session runs,
 * FALSE with its one-line reason in ERROR. */
gboolean cmd_run_wait_ready(int fd, GError **error)
{
	GString *msg = g_string_new(NULL);
	char buf[512];
	ssize_t n;
	gboolean ok;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		g_string_append_len(msg, buf, n);
		if (msg->str[0] == 'o')
			break;
	}
	ok = msg->len > 0 && msg->str[0] == 'o';
	if (!ok && msg->len > 1)
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s",
			    msg->str + 1);
	else if (!ok)
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "the session daemon died while starting");
	g_string_free(msg, TRUE);
	return ok;
}

/* `xckpt run [--name NAME] [--display DISPLAY] [--detach] -- COMMAND
 * [ARG...]`. */
int cmd_run_exec(int argc, char **argv)
{
	const CmdEntry *entry = cmd_find("run");
	g_autofree char *name = NULL;
	g_autofree char *display = NULL;
	gboolean detach = FALSE;
	gboolean no_dbus = FALSE;
	gboolean no_terminal = FALSE;
	gboolean terminal;
	g_autofree char *key_spec = NULL;
	int key = 0;
	g_auto(GStrv) command = NULL;
	const GOptionEntry entries[] = {
		{ "name", 'n', 0, G_OPTION_ARG_STRING, &name,
		  "Name the session NAME (default: the command's name and a "
		  "number)", "NAME" },
		{ "display", 'd', 0, G_OPTION_ARG_STRING, &display,
		  "Proxy the X display DISPLAY (default: $DISPLAY)", "DISPLAY" },
		{ "no-dbus", 0, 0, G_OPTION_ARG_NONE, &no_dbus,
		  "Do not start a private D-Bus session bus in the session",
		  NULL },
		{ "no-terminal", 0, 0, G_OPTION_ARG_NONE, &no_terminal,
		  "Run the app on pipes even when started from a terminal",
		  NULL },
		{ "detach-key", 'e', 0, G_OPTION_ARG_STRING, &key_spec,
		  "Detach with KEY (^X for Ctrl-X, 'none'; default ^\\ or "
		  "$XCKPT_DETACH_KEY)", "KEY" },
		{ "detach", 'D', 0, G_OPTION_ARG_NONE, &detach,
		  "Return once the app has started; print the session name as "
		  "the last line", NULL },
		{ G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &command,
		  NULL, NULL },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *session = NULL;
	g_autofree char *stem = NULL;
	const char *upstream;
	int listen_fd, ready[2], pair[2] = { -1, -1 };
	pid_t pid;

	if (!cmd_parse(entry, entries,
		       "Starts a session: a session daemon that hosts an X11 proxy "
		       "on a new display\nand runs COMMAND with DISPLAY and "
		       "XAUTHORITY pointing at the proxy.  Without\n--display "
		       "and without DISPLAY the session has no proxy (terminal "
		       "programs,\nscripts).  A private D-Bus session bus runs "
		       "in the session unless --no-dbus\nis given.\n\n"
		       "Started from a terminal (stdin and stdout), the app runs "
		       "on a pty that the\nsession keeps, with a model of its "
		       "screen, and this terminal attaches to it:\nthe detach "
		       "key (Ctrl-\\ by default) leaves the session running; "
		       "'xckpt attach\nNAME' comes back, with the screen and the "
		       "modes as the app left them.  With\n--detach the session "
		       "starts detached.\n\n"
		       "Otherwise (or with --no-terminal) the app's stdin is "
		       "/dev/null and its stdout\nand stderr go through pipes: "
		       "without --detach, xckpt stays in the foreground,\npasses "
		       "them through, forwards SIGINT, SIGTERM and SIGHUP to the "
		       "app, and exits\nwith its status (128+N when it was killed "
		       "by signal N).  The session ends\nwhen the app exits: "
		       "whatever else runs in it is ended too.\n\n"
		       "The app runs with NO_AT_BRIDGE=1, GSETTINGS_BACKEND=memory "
		       "and XCKPT_SESSION=NAME;\nits output is also kept in the "
		       "session log, $XDG_RUNTIME_DIR/xckpt/NAME.log,\nwhile the "
		       "session runs.",
		       TRUE, &argc, &argv))
		return CMD_USAGE;
	if (command != NULL && command[0] != NULL &&
	    strcmp(command[0], "--") == 0) {
		/* Strict POSIX parsing may leave the "--" in. */
		char **rest = g_strdupv(command + 1);
		g_strfreev(command);
		command = rest;
	}
	if (command == NULL || command[0] == NULL)
		return cmd_usage_error(entry, "no COMMAND given");
	if (name != NULL && !statedir_name_valid(name, &error))
		return cmd_usage_error(entry, "%s", error->message);
	/* Without a display the session runs with no proxy: terminal
	 * programs, scripts, daemons. */
	upstream = display != NULL ? display : g_getenv("DISPLAY");
	if (upstream != NULL && *upstream == '\0')
		upstream = NULL;
	/* Started from a terminal, the app gets a pty of the daemon's, and
	 * the terminal attaches to it (or not, with --detach). */
	terminal = !no_terminal && isatty(0) && isatty(1);
	if (!attach_parse_key(key_spec, &key, &error))
		return cmd_usage_error(entry, "%s", error->message);
	if (strchr(command[0], '/') == NULL) {
		g_autofree char *path = g_find_program_in_path(command[0]);
		if (path == NULL) {
			cmd_error("command not found: %s", command[0]);
			return CMD_FAIL;
		}
	} else if (!g_file_test(command[0], G_FILE_TEST_IS_EXECUTABLE) ||
		   g_file_test(command[0], G_FILE_TEST_IS_DIR)) {
		cmd_error("cannot run %s: not an executable file", command[0]);
		return CMD_FAIL;
	}

	dir = statedir_ensure(&error);
	if (dir == NULL) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	stem = statedir_name_stem(command[0]);
	listen_fd = cmd_run_reserve(dir, name, stem, &session, &error);
	if (listen_fd < 0) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	if (!g_unix_open_pipe(ready, FD_CLOEXEC, &error) ||
	    (!detach && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				   pair) < 0)) {
		cmd_error("cannot start the session: %s",
			  error ? error->message : g_strerror(errno));
		goto fail;
	}
	if (!detach) {
		guint32 hello[2] = { GUINT32_TO_LE(CONTROL_VERSION),
				     GUINT32_TO_LE(CONTROL_HELLO_OUTPUT) };
		if (!control_send(pair[0], CONTROL_HELLO, hello, sizeof(hello),
				  &error)) {
			cmd_error("%s", error->message);
			goto fail;
		}
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		cmd_error("fork: %s", g_strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* The daemon runs in a grandchild; this child, its keeper,
		 * reaps it and its orphans, whether we stay in the
		 * foreground or not (the user may detach). */
		pid_t daemon = fork();
		if (daemon > 0)
			cmd_keep(daemon);
		if (daemon < 0) {
			char msg[256];
			int n = g_snprintf(msg, sizeof(msg), "efork: %s",
					   g_strerror(errno));
			if (write(ready[1], msg, n) < 0)
				_exit(1);
			_exit(1);
		}
	}
	if (pid == 0) {
		SessionConfig *config = g_new0(SessionConfig, 1);

		close(ready[0]);
		if (pair[0] >= 0)
			close(pair[0]);
		config->name = g_strdup(session);
		config->statedir = g_strdup(dir);
		config->upstream = g_strdup(upstream);
		config->no_dbus = no_dbus;
		config->pty = terminal;
		if (terminal) {
			struct winsize ws = { 0 };
			ioctl(0, TIOCGWINSZ, &ws);
			config->rows = ws.ws_row ? ws.ws_row : 24;
			config->cols = ws.ws_col ? ws.ws_col : 80;
			config->has_termios = tcgetattr(0, &config->termios) == 0;
		}
		config->argv = g_strdupv(command);
		config->cwd = g_get_current_dir();
		config->listen_fd = listen_fd;
		config->fg_fd = pair[1];
		config->ready_fd = ready[1];
		session_exec(config);
	}
	close(listen_fd);
	close(ready[1]);
	if (pair[1] >= 0)
		close(pair[1]);
	if (!cmd_run_wait_ready(ready[0], &error)) {
		close(ready[0]);
		cmd_error("%s", error->message);
		cmd_run_reap(pid);
		/* The daemon cleans up after itself; this is for a crash. */
		statedir_remove(dir, session);
		return CMD_FAIL;
	}
	close(ready[0]);
	if (detach) {
		printf("%s\n", session);
		fflush(stdout);
		return CMD_OK;
	}
	if (terminal) {
		g_autofree char *sock = statedir_file(dir, session, "sock");
		g_autofree char *info = statedir_file(dir, session, "session");
		AttachOptions ao = { .name = session, .sock_path = sock,
				     .info_path = info, .detach_key = key,
				     .hello_pending = TRUE };
		return attach_run(pair[0], &ao, NULL);
	}
	return cmd_run_foreground(pair[0], pid, dir, session);
fail:
	close(listen_fd);
	statedir_remove(dir, session);
	return CMD_FAIL;
}
