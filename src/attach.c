/*
 * attach.c: the attach client: connects the user's terminal to the pty of a
 * session (control.h: ATTACH, INPUT, RESIZE, DETACH, REDRAW).
 *
 * The terminal goes into raw mode (cfmakeraw) for as long as the client
 * runs and gets its settings back when it ends, whatever the way: detach,
 * the app's exit, a lost daemon, SIGTERM, SIGHUP or SIGINT.  The window size
 * goes to the daemon at attach and on SIGWINCH.  Keys go to the app, but for
 * the detach key (default Ctrl-\, as in dtach), which leaves the session
 * running.  What the daemon sends (the redraw, then the app's output) goes
 * to stdout as it comes.
 *
 * On the way out the client puts the terminal's modes back to the usual
 * (main screen, no scroll region, cursor shown, no mouse, no bracketed
 * paste, normal cursor keys and keypad, plain pen) so that the shell that
 * gets the terminal back is not left in the app's modes.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "src/cmd.h"
#include "ptysupport/ptysupport.h"
#include "src/control.h"

/* How often a client whose session is being checkpointed looks whether the
 * checkpoint is over, in ms. */
#define ATTACH_PAUSE_POLL_MS 50

/* The sequence that puts the terminal's modes back on the way out: leave the
 * alternate screen (1047: without moving the cursor), the scroll region
 * reset inside DECSC/DECRC (DECSTBM homes the cursor), no margins, no origin
 * mode, autowrap, normal cursor keys and keypad, no mouse, no focus events,
 * no bracketed paste, cursor shown, default pen. */
#define ATTACH_RESTORE_MODES \
	"\033[?1047l\0337\033[r\0338\033[?69l\033[?6l\033[?7h\033[?1l\033>" \
	"\033[?1000l\033[?1002l\033[?1003l\033[?1005l\033[?1006l" \
	"\033[?1015l\033[?1004l\033[?2004l\033[?25h\033[0m"

/* The attach client. */
typedef struct {
	const AttachOptions *opt;	/* how to behave (the caller's) */
	int fd;			/* the connection to the daemon, or -1 */
	GMainLoop *loop;	/* the client's main loop */
	ControlReader reader;	/* bytes from the daemon */
	struct termios saved;	/* the terminal's settings before raw mode */
	gboolean raw;		/* the terminal is in raw mode */
	int key;		/* the detach key's byte, or -1 */
	AttachEnd end;		/* how it ended, once it has */
	gboolean ended;		/* the loop is to stop */
	int status;		/* the app's wait status (ATTACH_EXITED) */
	char *message;		/* why it ended, for the user, or NULL */
	gboolean paused;	/* PAUSE came: a checkpoint is being taken */
	guint restores;		/* the session's restores at PAUSE (see
				 * cmd_come_back()) */
	guint in_src;		/* the stdin watch, or 0 */
	guint sock_src;		/* the connection's watch, or 0 */
	guint pause_src;	/* the checkpoint poll, or 0 */
} Attach;

static gboolean attach_on_sock(int fd, GIOCondition cond, gpointer ud);

/* Ends the client's loop with END and MESSAGE (printf-style, may be NULL),
 * unless it has already ended. */
G_GNUC_PRINTF(3, 4)
static void attach_finish(Attach *a, AttachEnd end, const char *fmt, ...)
{
	va_list ap;

	if (a->ended)
		return;
	a->ended = TRUE;
	a->end = end;
	if (fmt != NULL) {
		va_start(ap, fmt);
		a->message = g_strdup_vprintf(fmt, ap);
		va_end(ap);
	}
	g_main_loop_quit(a->loop);
}

/* Writes all LEN bytes of DATA to stdout (blocking); FALSE when the
 * terminal is gone. */
static gboolean attach_write(const void *data, gsize len)
{
	const guint8 *p = data;

	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { STDOUT_FILENO, POLLOUT, 0 };
			poll(&pfd, 1, 100);
			continue;
		}
		if (n <= 0)
			return FALSE;
		p += n;
		len -= n;
	}
	return TRUE;
}

/* Sends message TYPE with BODY (LEN bytes) on the non-blocking connection,
 * waiting while the socket is full.  A failure is left to the reader, which
 * sees the hang-up. */
static void attach_send(Attach *a, guint32 type, const void *body, gsize len)
{
	g_autoptr(GByteArray) msg = g_byte_array_new();
	const guint8 *p;
	gsize left;

	if (a->fd < 0)
		return;
	control_encode(msg, type, body, len);
	p = msg->data;
	left = msg->len;
	while (left > 0) {
		ssize_t n = send(a->fd, p, left, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { a->fd, POLLOUT, 0 };
			poll(&pfd, 1, 100);
			continue;
		}
		if (n < 0)
			return;
		p += n;
		left -= n;
	}
}

/* The terminal's size (24x80 when it does not say). */
static void attach_size(guint32 *rows, guint32 *cols)
{
	struct winsize ws = { 0 };

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 ||
	    ws.ws_col == 0)
		ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	*rows = ws.ws_row ? ws.ws_row : 24;
	*cols = ws.ws_col ? ws.ws_col : 80;
}

/* Sends ATTACH or RESIZE (TYPE) with the terminal's size. */
static void attach_send_size(Attach *a, guint32 type)
{
	guint32 rows, cols, body[2];

	attach_size(&rows, &cols);
	body[0] = GUINT32_TO_LE(rows);
	body[1] = GUINT32_TO_LE(cols);
	attach_send(a, type, body, sizeof(body));
}

/* Handles message TYPE with BODY from the daemon. */
static void attach_message(Attach *a, guint32 type, GBytes *body)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(body, &len);
	guint32 v;

	switch (type) {
	case CONTROL_REDRAW:
		/* A big redraw comes as several messages, written in turn. */
		if (!attach_write(data, len))
			attach_finish(a, ATTACH_DETACHED, "the terminal went "
				      "away");
		break;
	case CONTROL_OUTPUT:
		if (len >= 1 && !attach_write(data + 1, len - 1))
			attach_finish(a, ATTACH_DETACHED, "the terminal went "
				      "away");
		break;
	case CONTROL_EXIT:
		if (control_get_u32(body, 0, &v)) {
			a->status = (int)v;
			attach_finish(a, ATTACH_EXITED, NULL);
		}
		break;
	case CONTROL_DETACH:
		attach_finish(a, ATTACH_DETACHED, "%.*s", (int)len,
			      (const char *)data);
		break;
	case CONTROL_ERROR:
		attach_finish(a, ATTACH_FAILED, "session daemon: %.*s",
			      (int)len, (const char *)data);
		break;
	case CONTROL_PAUSE:
		a->paused = TRUE;
		a->restores = cmd_session_restores(a->opt->info_path);
		break;
	default:
		/* DONE (for DETACH) and anything newer. */
		break;
	}
}

/* While a checkpoint is taken: once the session's state is no longer
 * "checkpointing", reconnects and attaches again (the daemon redraws);
 * when the session is gone (checkpoint --kill), ends the client. */
static gboolean attach_on_pause_poll(gpointer ud)
{
	Attach *a = ud;

	switch (cmd_come_back(a->opt->sock_path, a->opt->info_path,
			      a->restores, &a->fd)) {
	case CMD_COME_BACK_WAIT:
		return G_SOURCE_CONTINUE;
	case CMD_COME_BACK_ENDED:
		a->pause_src = 0;
		attach_finish(a, ATTACH_ENDED, "the session was checkpointed "
			      "and ended");
		return G_SOURCE_REMOVE;
	case CMD_COME_BACK_OK:
		break;
	}
	a->paused = FALSE;
	g_unix_set_fd_nonblocking(a->fd, TRUE, NULL);
	a->sock_src = g_unix_fd_add(a->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				    attach_on_sock, a);
	attach_send_size(a, CONTROL_ATTACH);
	a->pause_src = 0;
	return G_SOURCE_REMOVE;
}

/* The daemon's connection is readable. */
static gboolean attach_on_sock(int fd, GIOCondition cond, gpointer ud)
{
	Attach *a = ud;
	g_autoptr(GError) error = NULL;
	gboolean eof = FALSE;
	guint32 type;
	GBytes *body;

	if (!control_reader_fill(&a->reader, fd, &eof, &error)) {
		/* A reset connection: like a hang-up. */
		eof = TRUE;
		g_clear_error(&error);
	}
	while (!a->ended &&
	       control_reader_next(&a->reader, &type, &body, &error)) {
		attach_message(a, type, body);
		g_bytes_unref(body);
	}
	if (error != NULL) {
		attach_finish(a, ATTACH_FAILED, "%s", error->message);
		a->sock_src = 0;
		return G_SOURCE_REMOVE;
	}
	if (a->ended || !eof)
		return a->ended ? (a->sock_src = 0, G_SOURCE_REMOVE) :
				  G_SOURCE_CONTINUE;
	a->sock_src = 0;
	if (a->paused && a->opt->sock_path != NULL &&
	    a->opt->info_path != NULL) {
		/* A checkpoint: come back once it is over. */
		close(a->fd);
		a->fd = -1;
		control_reader_clear(&a->reader);
		control_reader_init(&a->reader);
		a->pause_src = g_timeout_add(ATTACH_PAUSE_POLL_MS,
					     attach_on_pause_poll, a);
		return G_SOURCE_REMOVE;
	}
	attach_finish(a, a->paused ? ATTACH_ENDED : ATTACH_FAILED,
		      a->paused ? "the session is being checkpointed" :
		      "the session daemon went away");
	return G_SOURCE_REMOVE;
}

/* The terminal has keys (or has gone away). */
static gboolean attach_on_stdin(int fd, GIOCondition cond, gpointer ud)
{
	Attach *a = ud;
	guint8 buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	guint8 *key;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		a->in_src = 0;
		attach_finish(a, ATTACH_DETACHED, "the terminal went away");
		return G_SOURCE_REMOVE;
	}
	key = a->key >= 0 ? memchr(buf, a->key, n) : NULL;
	if (key != NULL)
		n = key - buf;
	/* While a checkpoint is taken (no connection) keys are lost. */
	if (n > 0 && a->fd >= 0)
		attach_send(a, CONTROL_INPUT, buf, n);
	if (key != NULL) {
		attach_send(a, CONTROL_DETACH, NULL, 0);
		a->in_src = 0;
		attach_finish(a, ATTACH_DETACHED, NULL);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* SIGWINCH: the new size goes to the daemon. */
static gboolean attach_on_winch(gpointer ud)
{
	Attach *a = ud;

	attach_send_size(a, CONTROL_RESIZE);
	return G_SOURCE_CONTINUE;
}

/* SIGTERM, SIGHUP, SIGINT: detach (the session runs on). */
static gboolean attach_on_signal(gpointer ud)
{
	Attach *a = ud;

	attach_send(a, CONTROL_DETACH, NULL, 0);
	attach_finish(a, ATTACH_DETACHED, "a signal");
	return G_SOURCE_CONTINUE;
}

/* Parses detach key SPEC; see cmd.h. */
gboolean attach_parse_key(const char *spec, int *key, GError **error)
{
	if (spec == NULL || *spec == '\0') {
		*key = ATTACH_DEFAULT_KEY;
		return TRUE;
	}
	if (g_ascii_strcasecmp(spec, "none") == 0) {
		*key = -1;
		return TRUE;
	}
	if (spec[0] == '^' && spec[1] != '\0' && spec[2] == '\0') {
		char c = g_ascii_toupper(spec[1]);
		if (c == '?') {
			*key = 0x7f;
			return TRUE;
		}
		if (c > '@' && c <= '_') {
			*key = c - '@';
			return TRUE;
		}
	} else if (spec[1] == '\0' && (guchar)spec[0] < 0x80) {
		*key = (guchar)spec[0];
		return TRUE;
	}
	g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		    "bad detach key '%s' (use ^X for Ctrl-X, one ASCII "
		    "character but NUL, or none)", spec);
	return FALSE;
}

/* Describes detach key KEY for people, e.g. "Ctrl-\" (static or
 * caller-owned buffer BUF of 16 bytes). */
static const char *attach_key_name(int key, char buf[16])
{
	if (key < 0)
		return "none";
	if (key == 0x7f)
		return "Ctrl-?";
	if (key < 0x20)
		g_snprintf(buf, 16, "Ctrl-%c", key + '@');
	else
		g_snprintf(buf, 16, "%c", key);
	return buf;
}

/* Whether stdin and stdout are terminals; FALSE with a one-line ERROR. */
gboolean attach_check_terminal(GError **error)
{
	if (!isatty(STDIN_FILENO)) {
		g_set_error(error, PTY_ERROR_DOMAIN, PTY_ERROR_NOT_TTY,
			    "standard input is not a terminal: cannot attach "
			    "(run from a terminal, or use --detach)");
		return FALSE;
	}
	if (!isatty(STDOUT_FILENO)) {
		g_set_error(error, PTY_ERROR_DOMAIN, PTY_ERROR_NOT_TTY,
			    "standard output is not a terminal: cannot attach "
			    "(run from a terminal, or use --detach)");
		return FALSE;
	}
	return TRUE;
}

/* Runs the attach client on FD; see cmd.h. */
int attach_run(int fd, const AttachOptions *options, AttachEnd *how)
{
	Attach a = { 0 };
	g_autoptr(GError) error = NULL;
	struct termios raw;
	guint sigs[4];
	char keybuf[16];
	int rc;

	a.opt = options;
	a.fd = fd;
	if (options->hello_pending &&
	    !control_hello_reply(fd, NULL, &error)) {
		cmd_error("%s", error->message);
		close(fd);
		if (how != NULL)
			*how = ATTACH_FAILED;
		return CMD_FAIL;
	}
	if (!attach_check_terminal(&error) ||
	    tcgetattr(STDIN_FILENO, &a.saved) < 0) {
		cmd_error("%s", error ? error->message : g_strerror(errno));
		close(fd);
		if (how != NULL)
			*how = ATTACH_FAILED;
		return CMD_FAIL;
	}
	a.key = options->detach_key;
	if (a.key == 0 && !attach_parse_key(g_getenv("XCKPT_DETACH_KEY"),
					    &a.key, &error)) {
		cmd_error("XCKPT_DETACH_KEY: %s", error->message);
		g_clear_error(&error);
		a.key = ATTACH_DEFAULT_KEY;
	}
	a.loop = g_main_loop_new(NULL, FALSE);
	control_reader_init(&a.reader);

	raw = a.saved;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
	a.raw = TRUE;

	g_unix_set_fd_nonblocking(fd, TRUE, NULL);
	a.sock_src = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				   attach_on_sock, &a);
	a.in_src = g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
				 attach_on_stdin, &a);
	sigs[0] = g_unix_signal_add(SIGWINCH, attach_on_winch, &a);
	sigs[1] = g_unix_signal_add(SIGTERM, attach_on_signal, &a);
	sigs[2] = g_unix_signal_add(SIGHUP, attach_on_signal, &a);
	sigs[3] = g_unix_signal_add(SIGINT, attach_on_signal, &a);
	attach_send_size(&a, CONTROL_ATTACH);
	g_main_loop_run(a.loop);

	for (guint i = 0; i < G_N_ELEMENTS(sigs); i++)
		g_source_remove(sigs[i]);
	if (a.in_src != 0)
		g_source_remove(a.in_src);
	if (a.sock_src != 0)
		g_source_remove(a.sock_src);
	if (a.pause_src != 0)
		g_source_remove(a.pause_src);
	if (a.fd >= 0)
		close(a.fd);
	/* The terminal back to the usual, and to the user's settings. */
	attach_write(ATTACH_RESTORE_MODES, strlen(ATTACH_RESTORE_MODES));
	if (a.end == ATTACH_DETACHED)
		attach_write("\033[999;1H\r\n", 10);
	tcsetattr(STDIN_FILENO, TCSADRAIN, &a.saved);
	switch (a.end) {
	case ATTACH_EXITED:
		rc = WIFSIGNALED(a.status) ? 128 + WTERMSIG(a.status) :
		     WEXITSTATUS(a.status);
		break;
	case ATTACH_DETACHED:
		if (a.message != NULL)
			fprintf(stderr, "[detached from session %s: %s]\n",
				options->name ? options->name : "?",
				a.message);
		else
			fprintf(stderr, "[detached from session %s (%s); "
				"xckpt attach %s]\n",
				options->name ? options->name : "?",
				attach_key_name(a.key, keybuf),
				options->name ? options->name : "NAME");
		rc = CMD_OK;
		break;
	case ATTACH_ENDED:
		fprintf(stderr, "[%s]\n", a.message);
		rc = CMD_OK;
		break;
	default:
		cmd_error("%s", a.message ? a.message : "attach failed");
		rc = CMD_FAIL;
		break;
	}
	if (how != NULL)
		*how = a.end;
	control_reader_clear(&a.reader);
	g_main_loop_unref(a.loop);
	g_free(a.message);
	return rc;
}
