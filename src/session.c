/*
 * session.c: the session daemon (see session.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <xcb/xcb.h>

#include "ptysupport/ptysupport.h"
#include "xproxy/xproxy.h"
#include "src/control.h"
#include "src/reaper.h"
#include "src/session.h"
#include "src/sessinfo.h"
#include "src/statedir.h"

/* How many bytes of the app's output are read per wake-up. */
#define SESSION_READ_CHUNK 65536

/* A client whose queue holds more than this stops the reading of the app's
 * output until it has caught up (the app then blocks on its pipe). */
#define SESSION_QUEUE_MAX (1u << 20)

/* How long the final flush to a client may block, in seconds. */
#define SESSION_FLUSH_TIMEOUT 5

/* How often the SIGKILL pass repeats after the grace period, in ms. */
#define SESSION_KILL_INTERVAL_MS 100

/* The session log is rotated (NAME.log becomes NAME.log.1) past this size,
 * so that a chatty app cannot fill the state directory. */
#define SESSION_LOG_MAX (8u << 20)

/* The most output kept for paused clients across a checkpoint. */
#define SESSION_HELD_MAX (4u << 20)

/* How long a checkpoint may keep the session quiesced before the daemon
 * resumes by itself (the requester died), in seconds. */
#define SESSION_CHECKPOINT_TIMEOUT 120
/* How long a checkpoint waits for the X server's answers (pixmap contents,
 * the sync), and a restart for each client's new server connection, in
 * ms. */
#define SESSION_QUIESCE_TIMEOUT_MS 5000
#define SESSION_RECONNECT_TIMEOUT_MS 10000

/* Where the session is in its life. */
typedef enum {
	SESSION_RUNNING,	/* the app runs */
	SESSION_ENDING,		/* killing what is left, waiting for it */
	SESSION_DONE,		/* every process has ended */
} SessionState;

typedef struct Session Session;

/* One connection on the control socket. */
typedef struct {
	Session *session;	/* the session (not owned) */
	int fd;			/* the connection (owned), non-blocking */
	guint in_src;		/* the G_IO_IN watch, or 0 */
	guint out_src;		/* the G_IO_OUT watch while OUT is non-empty */
	ControlReader reader;	/* bytes received */
	GByteArray *out;	/* bytes queued to send (owned) */
	gboolean hello;		/* HELLO was received and accepted */
	guint32 flags;		/* the HELLO flags (CONTROL_HELLO_*) */
	gboolean killer;	/* sent KILL: answer DONE at the end */
	gboolean closing;	/* close once OUT is sent */
	guint drop_src;		/* the idle that drops the client, or 0 */
} SessionClient;

/* The daemon. */
struct Session {
	SessionConfig *config;	/* what to run (owned) */
	GMainLoop *loop;	/* the main loop (owned) */
	SessionState state;	/* where the session is */
	XProxy *proxy;		/* the X proxy (owned), or NULL */
	char *sock_path;	/* STATEDIR/NAME.sock (owned) */
	char *info_path;	/* STATEDIR/NAME.session (owned) */
	char *log_path;		/* STATEDIR/NAME.log (owned) */
	char *xauth_path;	/* STATEDIR/NAME.xauth (owned) */
	SessInfo *info;		/* the metadata as written (owned) */
	pid_t app_pid;		/* the app (also its process group), or 0 */
	int app_status;		/* its wait status once reaped */
	gboolean app_reaped;	/* APP_STATUS is valid */
	int out_fd[3];		/* [1], [2]: the app's stdout and stderr
				 * pipes (read ends, owned), or -1 */
	guint out_src[3];	/* their watches, or 0 (EOF or paused) */
	gboolean paused;	/* output reading paused (a slow client) */
	int sigchld_fd;		/* the SIGCHLD pipe (reaper.h) */
	guint sigchld_src;	/* its watch */
	guint listen_src;	/* the control socket's watch */
	GPtrArray *clients;	/* SessionClient *, owned */
	guint grace_ms;		/* SIGTERM to SIGKILL, for this ending */
	guint kill_src;		/* the grace / SIGKILL timer, or 0 */
	gboolean killing;	/* the grace period is over: SIGKILL */
	gboolean upstream_lost;	/* the clients were told the X server is
				 * gone */
	char **app_env;		/* the app's environment (owned) */
	char *bus_path;		/* STATEDIR/NAME.bus, the D-Bus socket (owned),
				 * or NULL */
	char *bus_address;	/* its D-Bus address (owned), or NULL */
	gboolean checkpointing;	/* between CHECKPOINT and RESUME */
	guint resume_src;	/* resumes by itself if RESUME never comes */
	PtyTerm *pty;		/* the app's terminal: pty master and model
				 * (owned), or NULL (output through pipes) */
	SessionClient *attached;	/* the client attached to the terminal,
					 * or NULL */
	GByteArray *held;	/* OUTPUT messages kept for the output clients
				 * a checkpoint paused, until one comes back
				 * (owned), or NULL */
};

/* The one daemon of this process (for the log writer). */
static Session *session_self;

static void session_end(Session *s, const char *why);
static void session_client_flush(SessionClient *c);
static gboolean session_on_accept(int fd, GIOCondition cond, gpointer ud);

/* Appends LEN bytes of DATA to the session log.  The log is opened for each
 * write and closed again, so no process of the session keeps a growing file
 * open (CRIU checks open files' sizes at restore). */
static void session_log_write(Session *s, const void *data, gsize len)
{
	int fd = open(s->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		      0600);
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && (guint64)st.st_size > SESSION_LOG_MAX) {
		g_autofree char *old = g_strconcat(s->log_path, ".1", NULL);

		close(fd);
		rename(s->log_path, old);
		fd = open(s->log_path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC |
			  O_CLOEXEC, 0600);
		if (fd < 0)
			return;
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		data = (const char *)data + n;
		len -= n;
	}
	close(fd);
}

/* Removes the session log and its rotated part. */
static void session_log_remove(Session *s)
{
	g_autofree char *old = g_strconcat(s->log_path, ".1", NULL);

	g_unlink(s->log_path);
	g_unlink(old);
}

/* The GLib log writer of the daemon: every message not dropped by
 * G_MESSAGES_DEBUG goes to the session log as one line "xckpt[PID]: DOMAIN:
 * MESSAGE". */
static GLogWriterOutput session_log_writer(GLogLevelFlags level,
					   const GLogField *fields,
					   gsize n_fields, gpointer ud)
{
	const char *domain = NULL, *message = NULL;
	g_autofree char *line = NULL;

	if (session_self == NULL)
		return G_LOG_WRITER_UNHANDLED;
	for (gsize i = 0; i < n_fields; i++) {
		if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
		else if (strcmp(fields[i].key, "MESSAGE") == 0)
			message = fields[i].value;
	}
	if (g_log_writer_default_would_drop(level, domain))
		return G_LOG_WRITER_HANDLED;
	line = g_strdup_printf("xckpt[%d]: %s%s%s\n", (int)getpid(),
			       domain ? domain : "", domain ? ": " : "",
			       message ? message : "");
	session_log_write(session_self, line, strlen(line));
	return G_LOG_WRITER_HANDLED;
}

/* Writes a daemon message (printf-style) as one line to the session log. */
G_GNUC_PRINTF(2, 3)
static void session_log(Session *s, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;
	g_autofree char *line = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	line = g_strdup_printf("xckpt[%d]: %s\n", (int)getpid(), msg);
	session_log_write(s, line, strlen(line));
}

/* Closes and frees client C, removing it from the session's list. */
static void session_client_free(SessionClient *c)
{
	if (c->session->attached == c) {
		c->session->attached = NULL;
		/* Nobody answers the app's terminal queries now: the model
		 * does. */
		ptyterm_set_answer(c->session->pty, TRUE);
	}
	if (c->in_src != 0)
		g_source_remove(c->in_src);
	if (c->out_src != 0)
		g_source_remove(c->out_src);
	if (c->drop_src != 0)
		g_source_remove(c->drop_src);
	close(c->fd);
	control_reader_clear(&c->reader);
	g_byte_array_unref(c->out);
	g_free(c);
}

/* The idle that drops client UD (closes and frees it). */
static gboolean session_client_on_drop(gpointer ud)
{
	SessionClient *c = ud;

	c->drop_src = 0;
	g_ptr_array_remove(c->session->clients, c);
	return G_SOURCE_REMOVE;
}

/* Marks client C closing and, once its queue is sent, drops it from an idle
 * callback (never under the caller's feet). */
static void session_client_close(SessionClient *c)
{
	c->closing = TRUE;
	if (c->in_src != 0)
		g_source_remove(c->in_src);
	c->in_src = 0;
	if (c->out->len == 0 && c->drop_src == 0)
		c->drop_src = g_idle_add(session_client_on_drop, c);
}

/* Whether some client's queue is over SESSION_QUEUE_MAX. */
static gboolean session_congested(Session *s)
{
	for (guint i = 0; i < s->clients->len; i++) {
		SessionClient *c = g_ptr_array_index(s->clients, i);
		if (c->out->len > SESSION_QUEUE_MAX)
			return TRUE;
	}
	return FALSE;
}

static gboolean session_on_output(int fd, GIOCondition cond, gpointer ud);

/* Starts reading the app's output again after a pause. */
static void session_resume_output(Session *s)
{
	if (!s->paused || session_congested(s))
		return;
	s->paused = FALSE;
	for (int i = 1; i <= 2; i++)
		if (s->out_fd[i] >= 0 && s->out_src[i] == 0)
			s->out_src[i] = g_unix_fd_add(s->out_fd[i],
						      G_IO_IN | G_IO_HUP |
						      G_IO_ERR,
						      session_on_output, s);
}

/* Sends what client C has queued, as far as the socket takes it. */
static gboolean session_client_on_out(int fd, GIOCondition cond,
				      gpointer ud)
{
	SessionClient *c = ud;

	session_client_flush(c);
	if (c->out->len > 0)
		return G_SOURCE_CONTINUE;
	c->out_src = 0;
	return G_SOURCE_REMOVE;
}

/* Writes C's queue without blocking; arranges a G_IO_OUT watch for the rest.
 * A write error drops the client (later, from the main loop). */
static void session_client_flush(SessionClient *c)
{
	while (c->out->len > 0) {
		ssize_t n = send(c->fd, c->out->data, c->out->len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			/* The peer is gone: forget what it would have got. */
			g_byte_array_set_size(c->out, 0);
			break;
		}
		g_byte_array_remove_range(c->out, 0, n);
	}
	if (c->out->len > 0 && c->out_src == 0)
		c->out_src = g_unix_fd_add(c->fd, G_IO_OUT, session_client_on_out,
					   c);
	if (c->out->len == 0) {
		session_resume_output(c->session);
		if (c->closing && c->drop_src == 0)
			c->drop_src = g_idle_add(session_client_on_drop, c);
	}
}

/* Queues message TYPE with BODY (LEN bytes) to C and starts sending it. */
static void session_client_send(SessionClient *c, guint32 type,
				const void *body, gsize len)
{
	control_encode(c->out, type, body, len);
	session_client_flush(c);
}

/* Queues an ERROR with TEXT to C. */
static void session_client_error(SessionClient *c, const char *text)
{
	session_client_send(c, CONTROL_ERROR, text, strlen(text));
}

/* Sends LEN bytes of output of STREAM (CONTROL_STDOUT/ERR) to every client
 * that asked for output. */
static void session_broadcast_output(Session *s, guint8 stream,
				     const guint8 *data, gsize len)
{
	while (len > 0) {
		gsize chunk = MIN(len, CONTROL_MAX_BODY - 1);
		g_autoptr(GByteArray) msg = g_byte_array_sized_new(chunk + 1);

		g_byte_array_append(msg, &stream, 1);
		g_byte_array_append(msg, data, chunk);
		if (s->held != NULL && s->held->len < SESSION_HELD_MAX)
			control_encode(s->held, CONTROL_OUTPUT, msg->data,
				       msg->len);
		for (guint i = 0; i < s->clients->len; i++) {
			SessionClient *c = g_ptr_array_index(s->clients, i);
			/* A terminal's output goes to its attached client
			 * only (a later one gets the model's redraw). */
			if (s->pty != NULL && c != s->attached)
				continue;
			if (c->hello && (c->flags & CONTROL_HELLO_OUTPUT) &&
			    !c->closing)
				session_client_send(c, CONTROL_OUTPUT,
						    msg->data, msg->len);
		}
		data += chunk;
		len -= chunk;
	}
}

/* Reads what the app's stream I has written; logs and forwards it.  Returns
 * 1 when it read something, 0 when there was nothing to read, -1 at EOF (and
 * closes the pipe). */
static int session_read_output(Session *s, int i)
{
	guint8 buf[SESSION_READ_CHUNK];
	ssize_t n;

	do
		n = read(s->out_fd[i], buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		close(s->out_fd[i]);
		s->out_fd[i] = -1;
		return -1;
	}
	if (s->pty != NULL)
		ptyterm_output(s->pty, buf, n);
	session_log_write(s, buf, n);
	session_broadcast_output(s, i == 1 ? CONTROL_STDOUT : CONTROL_STDERR,
				 buf, n);
	return 1;
}

/* The app's stdout or stderr pipe is readable. */
static gboolean session_on_output(int fd, GIOCondition cond, gpointer ud)
{
	Session *s = ud;
	int i = fd == s->out_fd[1] ? 1 : 2;

	if (session_read_output(s, i) < 0) {
		s->out_src[i] = 0;
		return G_SOURCE_REMOVE;
	}
	if (session_congested(s)) {
		/* Stop reading until the slow client has caught up. */
		s->paused = TRUE;
		for (int j = 1; j <= 2; j++) {
			if (j != i && s->out_src[j] != 0)
				g_source_remove(s->out_src[j]);
			s->out_src[j] = 0;
		}
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* Reads the app's pipes to their end (every writer is gone). */
static void session_drain_output(Session *s)
{
	for (int i = 1; i <= 2; i++) {
		if (s->out_src[i] != 0)
			g_source_remove(s->out_src[i]);
		s->out_src[i] = 0;
		if (s->out_fd[i] < 0)
			continue;
		/* Non-blocking: a writer that escaped the session cannot hold
		 * the daemon here. */
		while (session_read_output(s, i) > 0)
			;
		if (s->out_fd[i] >= 0) {
			close(s->out_fd[i]);
			s->out_fd[i] = -1;
		}
	}
}

static void session_on_lost(gpointer ud, const char *message);

/* Whether the proxy's upstream X server still accepts a connection. */
static gboolean session_upstream_alive(Session *s)
{
	xcb_connection_t *x = xcb_connect(xproxy_upstream(s->proxy), NULL);
	gboolean alive = xcb_connection_has_error(x) == 0;

	xcb_disconnect(x);
	return alive;
}

/* Sends what C has queued with a last blocking flush, bounded in time
 * (SESSION_FLUSH_TIMEOUT), and forgets what did not go. */
static void session_client_flush_last(SessionClient *c)
{
	struct timeval tv = { SESSION_FLUSH_TIMEOUT, 0 };
	gsize off = 0;

	g_unix_set_fd_nonblocking(c->fd, FALSE, NULL);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (off < c->out->len) {
		ssize_t n = send(c->fd, c->out->data + off, c->out->len - off,
				 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	g_byte_array_set_size(c->out, 0);
}

/* Everything has ended: tells the clients, removes the state, quits. */
static void session_finish(Session *s)
{
	guint32 status = s->app_reaped ? (guint32)s->app_status : 0;

	if (s->state == SESSION_DONE)
		return;
	s->state = SESSION_DONE;
	if (s->kill_src != 0)
		g_source_remove(s->kill_src);
	s->kill_src = 0;
	session_drain_output(s);
	/* The proxy notices a dead server a moment after its connections
	 * close; an app that died of it may end the session before that. */
	if (s->proxy != NULL && !s->upstream_lost && s->app_reaped &&
	    s->app_status != 0 && !session_upstream_alive(s))
		session_on_lost(s, "the server went away");
	session_log(s, "session %s over", s->config->name);
	/* State files first: from now on the session is not listed. */
	g_unlink(s->info_path);
	g_unlink(s->sock_path);
	if (s->bus_path != NULL)
		g_unlink(s->bus_path);
	if (s->listen_src != 0)
		g_source_remove(s->listen_src);
	s->listen_src = 0;
	close(s->config->listen_fd);
	/* The proxy goes before EXIT: once `xckpt run` returns, its display
	 * is gone. */
	g_clear_pointer(&s->proxy, xproxy_free);
	g_unlink(s->xauth_path);
	for (guint i = 0; i < s->clients->len; i++) {
		SessionClient *c = g_ptr_array_index(s->clients, i);

		if (c->hello && (c->flags & CONTROL_HELLO_OUTPUT))
			control_encode_u32(c->out, CONTROL_EXIT, status);
		if (c->hello && c->killer)
			control_encode(c->out, CONTROL_DONE, NULL, 0);
		session_client_flush_last(c);
	}
	g_main_loop_quit(s->loop);
}

/* Reaps every child that has exited; notes the app's status; ends the
 * session when the app is gone and finishes it when no child is left. */
static void session_reap(Session *s)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid > 0) {
			if (pid == s->app_pid) {
				s->app_status = status;
				s->app_reaped = TRUE;
				if (WIFSIGNALED(status))
					session_log(s, "app %d killed by signal %d",
						    (int)pid, WTERMSIG(status));
				else
					session_log(s, "app %d exited with status %d",
						    (int)pid, WEXITSTATUS(status));
				session_end(s, "the app has exited");
			}
			continue;
		}
		if (pid < 0 && errno == ECHILD && s->state == SESSION_ENDING)
			session_finish(s);
		break;
	}
}

/* SIGCHLD arrived. */
static gboolean session_on_sigchld(int fd, GIOCondition cond, gpointer ud)
{
	Session *s = ud;

	reaper_ack(fd);
	session_reap(s);
	return G_SOURCE_CONTINUE;
}

/* After the grace period: SIGKILL whatever is left, then again every
 * SESSION_KILL_INTERVAL_MS until no child remains. */
static gboolean session_on_kill_timer(gpointer ud)
{
	Session *s = ud;
	guint n;

	if (s->state != SESSION_ENDING) {
		s->kill_src = 0;
		return G_SOURCE_REMOVE;
	}
	n = reaper_signal_descendants(getpid(), SIGKILL);
	if (n > 0)
		session_log(s, "sent SIGKILL to %u process(es)", n);
	if (!s->killing) {
		s->killing = TRUE;
		s->kill_src = g_timeout_add(SESSION_KILL_INTERVAL_MS,
					    session_on_kill_timer, s);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* Ends the session (once): SIGTERM (and SIGCONT) to every descendant, then
 * SIGKILL after the grace period; session_reap() finishes it. */
static void session_end(Session *s, const char *why)
{
	guint n;

	if (s->state != SESSION_RUNNING)
		return;
	s->state = SESSION_ENDING;
	session_log(s, "ending session %s: %s", s->config->name, why);
	n = reaper_signal_descendants(getpid(), SIGTERM);
	reaper_signal_descendants(getpid(), SIGCONT);
	if (n > 0)
		session_log(s, "sent SIGTERM to %u process(es)", n);
	s->kill_src = g_timeout_add(s->grace_ms, session_on_kill_timer, s);
	session_reap(s);
}

/* Answers a HELLO from C. */
static void session_client_hello(SessionClient *c, GBytes *body)
{
	guint32 version, flags, reply[2];

	if (!control_get_u32(body, 0, &version) ||
	    !control_get_u32(body, 4, &flags)) {
		session_client_error(c, "malformed HELLO");
		c->closing = TRUE;
		return;
	}
	if (version != CONTROL_VERSION) {
		g_autofree char *msg = g_strdup_printf(
			"this session daemon speaks control protocol version %u, "
			"the client speaks %u", CONTROL_VERSION, version);
		session_log(c->session, "refused a client: %s", msg);
		session_client_error(c, msg);
		c->closing = TRUE;
		return;
	}
	c->hello = TRUE;
	c->flags = flags;
	reply[0] = GUINT32_TO_LE(CONTROL_VERSION);
	reply[1] = GUINT32_TO_LE((guint32)getpid());
	control_encode(c->out, CONTROL_HELLO, reply, sizeof(reply));
	if ((flags & CONTROL_HELLO_OUTPUT) && c->session->held != NULL &&
	    !c->session->checkpointing) {
		/* The output a checkpoint kept back for a paused client. */
		g_byte_array_append(c->out, c->session->held->data,
				    c->session->held->len);
		g_clear_pointer(&c->session->held, g_byte_array_unref);
	}
	session_client_flush(c);
}

/* Sets the state the metadata file shows (running, checkpointing...). */
static void session_set_state(Session *s, const char *state)
{
	g_autoptr(GError) error = NULL;

	g_free(s->info->state);
	s->info->state = g_strdup(state);
	if (!sessinfo_save(s->info, s->info_path, &error))
		session_log(s, "cannot update %s: %s", s->info_path,
			    error->message);
}

/* Sends what C has queued, blocking for at most SESSION_FLUSH_TIMEOUT, then
 * closes and frees it at once. */
static void session_client_hangup(SessionClient *c)
{
	session_client_flush_last(c);
	g_ptr_array_remove(c->session->clients, c);
}

/* Ends a checkpoint: back to running. */
static void session_checkpoint_end(Session *s)
{
	s->checkpointing = FALSE;
	if (s->resume_src != 0)
		g_source_remove(s->resume_src);
	s->resume_src = 0;
	if (s->state == SESSION_RUNNING)
		session_set_state(s, "running");
}

/* Nobody came back after a checkpoint: resume by ourselves. */
static gboolean session_on_resume_timeout(gpointer ud)
{
	Session *s = ud;

	s->resume_src = 0;
	session_log(s, "no RESUME after the checkpoint: resuming");
	if (s->proxy != NULL)
		xproxy_resume(s->proxy);
	session_checkpoint_end(s);
	return G_SOURCE_REMOVE;
}

/* The facts a checkpoint of S records, as GKeyFile text (caller frees). */
static char *session_checkpoint_facts(Session *s)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	const char *g = "checkpoint";
	char *none[] = { NULL };
	char **env = s->app_env ? s->app_env : none;

	g_key_file_set_string(kf, g, "session", s->config->name);
	g_key_file_set_integer(kf, g, "pid", (int)getpid());
	g_key_file_set_string_list(kf, g, "argv",
				   (const char *const *)s->config->argv,
				   g_strv_length(s->config->argv));
	g_key_file_set_string(kf, g, "cwd", s->config->cwd);
	g_key_file_set_string_list(kf, g, "env", (const char *const *)env,
				   g_strv_length(env));
	if (s->proxy != NULL) {
		g_key_file_set_string(kf, g, "display",
				      xproxy_display_name(s->proxy));
		g_key_file_set_string(kf, g, "upstream",
				      xproxy_upstream(s->proxy));
	}
	{
		/* What CRIU must leave alone: the proxy's server
		 * connections. */
		g_autoptr(GPtrArray) ext = g_ptr_array_new_with_free_func(g_free);
		if (s->proxy != NULL) {
			g_auto(GStrv) x = xproxy_externals(s->proxy);
			for (guint i = 0; x[i]; i++)
				g_ptr_array_add(ext, g_strdup(x[i]));
		}
		g_key_file_set_string_list(kf, g, "external",
					   (const char *const *)ext->pdata,
					   ext->len);
		if (s->proxy != NULL) {
			/* for the restart: its placeholders and its check of
			 * the new display */
			g_key_file_set_string_list(
				kf, "x11", "external",
				(const char *const *)ext->pdata, ext->len);
			xproxy_describe(s->proxy, kf, "x11");
		}
	}
	return g_key_file_to_data(kf, NULL, NULL);
}

/* CHECKPOINT from C: quiesces the session, answers with the facts to
 * record, and hangs up on every client (C once its answer is sent), so that
 * the tree holds no connection to the outside while CRIU dumps it. */
static void session_checkpoint(SessionClient *c)
{
	Session *s = c->session;
	g_autofree char *facts = NULL;

	if (s->state != SESSION_RUNNING) {
		session_client_error(c, "the session is ending");
		return;
	}
	if (s->checkpointing) {
		session_client_error(c, "a checkpoint of this session is "
				     "already being taken");
		return;
	}
	s->checkpointing = TRUE;
	session_set_state(s, "checkpointing");
	session_log(s, "checkpoint requested");
	if (s->proxy != NULL) {
		/* X clients paused, pixmap contents read, no reply in flight:
		 * the proxy's record is complete when CRIU dumps it */
		g_autoptr(GError) e = NULL;
		if (!xproxy_quiesce(s->proxy, SESSION_QUIESCE_TIMEOUT_MS, &e))
			session_log(s, "X proxy: %s", e->message);
	}
	facts = session_checkpoint_facts(s);
	for (guint i = s->clients->len; i-- > 0;) {
		SessionClient *o = g_ptr_array_index(s->clients, i);
		if (o == c)
			continue;
		if (o->hello && (o->flags & CONTROL_HELLO_OUTPUT)) {
			control_encode(o->out, CONTROL_PAUSE, NULL, 0);
			/* (A terminal needs no held output: the model
			 * redraws it on the next ATTACH.) */
			if (s->held == NULL && s->pty == NULL)
				s->held = g_byte_array_new();
		}
		session_client_hangup(o);
	}
	session_client_send(c, CONTROL_CHECKPOINT, facts, strlen(facts));
	c->closing = TRUE;
	s->resume_src = g_timeout_add_seconds(SESSION_CHECKPOINT_TIMEOUT,
					      session_on_resume_timeout, s);
}

/* Moves the session to name NAME after a restart under another name:
 * listens on the new control socket and moves the state files.  FALSE with
 * ERROR when the name cannot be had. */
static gboolean session_rename(Session *s, const char *name, GError **error)
{
	g_autofree char *sock = statedir_file(s->config->statedir, name, "sock");
	int fd;

	if (!statedir_name_valid(name, error))
		return FALSE;
	fd = control_listen(sock, error);
	if (fd < 0)
		return FALSE;
	g_source_remove(s->listen_src);
	close(s->config->listen_fd);
	g_unlink(s->sock_path);
	g_unlink(s->info_path);
	s->config->listen_fd = fd;
	s->listen_src = g_unix_fd_add(fd, G_IO_IN, session_on_accept, s);
	g_free(s->config->name);
	s->config->name = g_strdup(name);
	g_free(s->sock_path);
	s->sock_path = g_steal_pointer(&sock);
	g_free(s->info_path);
	s->info_path = statedir_file(s->config->statedir, name, "session");
	g_free(s->log_path);
	s->log_path = statedir_file(s->config->statedir, name, "log");
	g_free(s->info->name);
	s->info->name = g_strdup(name);
	return TRUE;
}

/* RESUME from C: the checkpoint is over; after a restore, maybe under a new
 * name. */
static void session_resume(SessionClient *c, GBytes *body)
{
	Session *s = c->session;
	gsize len;
	const char *data = g_bytes_get_data(body, &len);
	guint32 flags;
	g_autoptr(GError) error = NULL;
	g_autofree char *display = NULL;
	gsize off = 4;

	if (!control_get_u32(body, 0, &flags)) {
		session_client_error(c, "malformed RESUME");
		return;
	}
	if (!s->checkpointing) {
		session_client_error(c, "no checkpoint is being taken");
		return;
	}
	if (flags & CONTROL_RESUME_DISPLAY) {
		const char *nul = memchr(data + 4, 0, len - 4);
		if (nul == NULL) {
			session_client_error(c, "malformed RESUME");
			return;
		}
		display = g_strdup(data + 4);
		off = nul + 1 - data;
	}
	if (len > off) {
		g_autofree char *name = g_strndup(data + off, len - off);
		if (strcmp(name, s->config->name) != 0 &&
		    !session_rename(s, name, &error)) {
			session_client_error(c, error->message);
			return;
		}
	}
	session_log(s, "%s", (flags & CONTROL_RESUME_RESTORED) ?
		    "restored from a checkpoint" : "checkpoint taken");
	if (flags & CONTROL_RESUME_RESTORED)
		s->info->restores++;	/* saved with the state, below */
	if (s->pty != NULL && (flags & CONTROL_RESUME_RESTORED))
		ptyterm_restored(s->pty);
	if (s->proxy != NULL && (flags & CONTROL_RESUME_RESTORED)) {
		/* The server connections are CRIU's placeholders: every
		 * client gets a new one, and its windows back. */
		const char *d = display ? display : xproxy_upstream(s->proxy);
		g_autofree char *dd = g_strdup(d);
		gint64 t0 = g_get_monotonic_time();
		if (!xproxy_rewrite_xauthority(s->proxy, &error) ||
		    !xproxy_reconnect(s->proxy, dd, SESSION_RECONNECT_TIMEOUT_MS,
				      &error)) {
			session_log(s, "X proxy: %s", error->message);
			xproxy_resume(s->proxy);
			session_checkpoint_end(s);
			session_client_error(c, error->message);
			return;
		}
		session_log(s, "X clients back on %s in %.3f s", dd,
			    (g_get_monotonic_time() - t0) / 1e6);
		/* xckpt list shows the new upstream (saved with the state,
		 * below) */
		g_free(s->info->upstream);
		s->info->upstream = g_strdup(xproxy_upstream(s->proxy));
	}
	if (s->proxy != NULL)
		xproxy_resume(s->proxy);
	session_checkpoint_end(s);
	session_client_send(c, CONTROL_DONE, NULL, 0);
}

/* Queues the model's redraw to client C, as REDRAW messages of at most
 * CONTROL_MAX_BODY bytes each (a full screen of coloured cells takes about
 * 31 bytes a cell: 400x100 is over a megabyte); the client writes each as
 * it comes. */
static void session_send_redraw(SessionClient *c, GBytes *redraw)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(redraw, &len);

	do {
		gsize n = MIN(len, CONTROL_MAX_BODY);
		session_client_send(c, CONTROL_REDRAW, data, n);
		data += n;
		len -= n;
	} while (len > 0);
}

/* A terminal request TYPE (ATTACH, INPUT, RESIZE, DETACH, REDRAW) with
 * BODY from client C (see control.h). */
static void session_terminal_request(SessionClient *c, guint32 type,
				     GBytes *body)
{
	Session *s = c->session;
	guint32 rows = 0, cols = 0;
	gsize len;
	const guint8 *data = g_bytes_get_data(body, &len);

	if (s->pty == NULL) {
		session_client_error(c, "this session has no terminal (it "
				     "was not started from one)");
		return;
	}
	if ((type == CONTROL_ATTACH || type == CONTROL_RESIZE) &&
	    (!control_get_u32(body, 0, &rows) ||
	     !control_get_u32(body, 4, &cols) || rows == 0 || cols == 0 ||
	     rows > 10000 || cols > 10000)) {
		session_client_error(c, "bad terminal size");
		return;
	}
	if (type != CONTROL_ATTACH && c != s->attached) {
		if (type != CONTROL_INPUT)
			session_client_error(c, "not attached");
		return;
	}
	switch (type) {
	case CONTROL_ATTACH: {
		if (s->attached != NULL && s->attached != c) {
			/* Takes over: the other client leaves first. */
			SessionClient *o = s->attached;
			const char *why = "attached elsewhere";
			s->attached = NULL;
			session_client_send(o, CONTROL_DETACH, why, strlen(why));
			session_client_close(o);
		}
		s->attached = c;
		ptyterm_set_answer(s->pty, FALSE);
		g_autoptr(GBytes) redraw = ptyterm_attach(s->pty, rows, cols);
		session_send_redraw(c, redraw);
		session_log(s, "terminal attached (%ux%u)", cols, rows);
		break;
	}
	case CONTROL_INPUT: {
		gsize off = 0;
		/* The keyboard is slow: a short blocking loop is fine. */
		while (off < len) {
			ssize_t n = write(ptyterm_master(s->pty), data + off,
					  len - off);
			if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
				if (errno == EAGAIN)
					g_usleep(1000);
				continue;
			}
			if (n <= 0)
				break;
			off += n;
		}
		break;
	}
	case CONTROL_RESIZE:
		ptyterm_resize(s->pty, rows, cols);
		break;
	case CONTROL_DETACH:
		s->attached = NULL;
		ptyterm_set_answer(s->pty, TRUE);
		session_client_send(c, CONTROL_DONE, NULL, 0);
		session_log(s, "terminal detached");
		break;
	case CONTROL_REDRAW: {
		g_autoptr(GBytes) redraw = ptyterm_redraw(s->pty);
		session_send_redraw(c, redraw);
		break;
	}
	}
}

/* Carries out request TYPE with BODY from client C. */
static void session_client_request(SessionClient *c, guint32 type,
				   GBytes *body)
{
	Session *s = c->session;
	guint32 v;

	if (!c->hello) {
		if (type == CONTROL_HELLO) {
			session_client_hello(c, body);
		} else {
			session_client_error(c, "HELLO expected first");
			c->closing = TRUE;
		}
		return;
	}
	switch (type) {
	case CONTROL_SIGNAL:
		if (!control_get_u32(body, 0, &v) || v == 0 || v >= 65) {
			session_client_error(c, "bad signal number");
			break;
		}
		if (s->app_pid > 0 && !s->app_reaped)
			kill(-s->app_pid, (int)v);
		session_client_send(c, CONTROL_DONE, NULL, 0);
		break;
	case CONTROL_KILL:
		if (control_get_u32(body, 0, &v) && v > 0 &&
		    s->state == SESSION_RUNNING)
			s->grace_ms = v;
		c->killer = TRUE;
		session_end(s, "killed on request");
		break;
	case CONTROL_INFO: {
		g_autofree char *data = sessinfo_to_data(s->info);
		session_client_send(c, CONTROL_INFO, data, strlen(data));
		break;
	}
	case CONTROL_CHECKPOINT:
		session_checkpoint(c);
		break;
	case CONTROL_ATTACH:
	case CONTROL_INPUT:
	case CONTROL_RESIZE:
	case CONTROL_DETACH:
	case CONTROL_REDRAW:
		session_terminal_request(c, type, body);
		break;
	case CONTROL_RESUME:
		session_resume(c, body);
		break;
	default: {
		g_autofree char *msg = g_strdup_printf(
			"unknown request type %u", type);
		session_client_error(c, msg);
		break;
	}
	}
}

/* Client C's connection is readable: takes in its requests. */
static gboolean session_client_on_in(int fd, GIOCondition cond, gpointer ud)
{
	SessionClient *c = ud;
	g_autoptr(GError) error = NULL;
	gboolean eof = FALSE;
	guint32 type;
	GBytes *body;

	if (!control_reader_fill(&c->reader, fd, &eof, &error))
		goto drop;
	while (!c->closing &&
	       control_reader_next(&c->reader, &type, &body, &error)) {
		session_client_request(c, type, body);
		g_bytes_unref(body);
	}
	if (error != NULL)
		goto drop;
	if (eof || c->closing) {
		/* (A killer that hangs up still gets its kill.) */
		c->in_src = 0;
		session_client_close(c);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
drop:
	session_log(c->session, "control client dropped: %s", error->message);
	c->in_src = 0;
	g_byte_array_set_size(c->out, 0);
	session_client_close(c);
	return G_SOURCE_REMOVE;
}

/* Adds a client on connection FD (taken over; made non-blocking). */
static SessionClient *session_client_add(Session *s, int fd)
{
	SessionClient *c = g_new0(SessionClient, 1);

	c->session = s;
	c->fd = fd;
	g_unix_set_fd_nonblocking(fd, TRUE, NULL);
	control_reader_init(&c->reader);
	c->out = g_byte_array_new();
	c->in_src = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
				  session_client_on_in, c);
	g_ptr_array_add(s->clients, c);
	return c;
}

/* The control socket has a connection to accept. */
static gboolean session_on_accept(int fd, GIOCondition cond, gpointer ud)
{
	Session *s = ud;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0)
			break;
		session_client_add(s, cfd);
	}
	return G_SOURCE_CONTINUE;
}

/* The proxy lost its upstream server: tells the clients; the apps will see
 * their connections close and exit, which ends the session. */
static void session_on_lost(gpointer ud, const char *message)
{
	Session *s = ud;
	g_autofree char *line = g_strdup_printf(
		"xckpt: X display %s lost: %s\n", s->config->upstream, message);

	if (s->upstream_lost)
		return;
	s->upstream_lost = TRUE;
	session_log_write(s, line, strlen(line));
	session_broadcast_output(s, CONTROL_STDERR, (const guint8 *)line,
				 strlen(line));
}

/* SIGTERM, SIGINT or SIGHUP to the daemon itself: end the session. */
static gboolean session_on_signal(gpointer ud)
{
	session_end(ud, "the daemon got a signal");
	return G_SOURCE_CONTINUE;
}

/* Runs in the app's process before exec: its own process group, default
 * signal dispositions and mask. */
static void session_child_setup(gpointer ud)
{
	sigset_t none;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The configuration of the session's bus (resources/dbus-session.conf: no
 * service is activated): $XCKPT_DBUS_CONFIG, the installed copy, or this
 * source tree's.  Returns its path (caller frees) or NULL. */
static char *session_dbus_config(void)
{
	const char *env = g_getenv("XCKPT_DBUS_CONFIG");
	const char *dirs[] = { XCKPT_DATADIR, XCKPT_SRCDATADIR };

	if (env != NULL && *env != '\0')
		return g_strdup(env);
	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		char *p = g_build_filename(dirs[i], "dbus-session.conf", NULL);
		if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
			return p;
		g_free(p);
	}
	return NULL;
}

/* Starts the private D-Bus session bus: dbus-daemon, a child of the daemon
 * (so inside the tree), listening at STATEDIR/NAME.bus.  Waits until it
 * prints its address, i.e. until it accepts connections.  FALSE with a
 * one-line ERROR. */
static gboolean session_start_dbus(Session *s, GError **error)
{
	g_autofree char *listen = NULL;
	g_autofree char *config = NULL;
	g_autofree char *conf_arg = NULL;
	g_autofree char *program = g_find_program_in_path("dbus-daemon");
	GPid pid;
	int out = -1;
	char buf[512];
	gsize got = 0;

	if (program == NULL) {
		g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT,
			    "dbus-daemon is not installed (or use --no-dbus)");
		return FALSE;
	}
	s->bus_path = statedir_file(s->config->statedir, s->config->name,
				    "bus");
	g_unlink(s->bus_path);
	listen = g_strdup_printf("--address=unix:path=%s", s->bus_path);
	config = session_dbus_config();
	if (config == NULL)
		session_log(s, "no dbus-session.conf found: the bus may "
			    "activate services (XCKPT_DBUS_CONFIG)");
	conf_arg = config ? g_strdup_printf("--config-file=%s", config)
			  : g_strdup("--session");
	const char *argv[] = { program, conf_arg, "--nofork", "--nopidfile",
			       "--nosyslog", listen, "--print-address=1",
			       NULL };
	if (!g_spawn_async_with_pipes_and_fds(NULL, argv, NULL,
			G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL |
			G_SPAWN_STDERR_TO_DEV_NULL, session_child_setup, NULL,
			-1, -1, -1, NULL, NULL, 0, &pid, NULL, &out, NULL,
			error))
		return FALSE;
	/* Its first line is the address, printed once it listens. */
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		ssize_t n = read(out, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(out);
	buf[got] = 0;
	if (!memchr(buf, '\n', got)) {
		g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
			    "the session's dbus-daemon did not start");
		return FALSE;
	}
	s->bus_address = g_strndup(buf, strcspn(buf, "\n"));
	session_log(s, "D-Bus session bus %d at %s", (int)pid,
		    s->bus_address);
	return TRUE;
}

/* Opens the app's terminal: a pty of the user's terminal size with the
 * user's terminal modes (like dtach: the app sees the terminal it was
 * started from).  Nobody is attached yet, so the model answers the app's
 * terminal queries.  FALSE with a one-line ERROR. */
static gboolean session_open_pty(Session *s, GError **error)
{
	s->pty = ptyterm_open(s->config->rows, s->config->cols, error);
	if (s->pty == NULL)
		return FALSE;
	if (s->config->has_termios)
		tcsetattr(ptyterm_master(s->pty), TCSANOW,
			  &s->config->termios);
	ptyterm_set_answer(s->pty, TRUE);
	return TRUE;
}

/* Spawns the app.  FALSE with a one-line ERROR when it cannot start. */
static gboolean session_spawn(Session *s, GError **error)
{
	g_auto(GStrv) env = g_get_environ();
	g_autoptr(GError) e = NULL;
	GPid pid;
	int out_fd = -1, err_fd = -1;

	if (s->proxy != NULL) {
		env = g_environ_setenv(env, "DISPLAY",
				       xproxy_display_name(s->proxy), TRUE);
		env = g_environ_setenv(env, "XAUTHORITY",
				       xproxy_xauthority(s->proxy), TRUE);
	}
	if (s->bus_address != NULL)
		env = g_environ_setenv(env, "DBUS_SESSION_BUS_ADDRESS",
				       s->bus_address, TRUE);
	else
		env = g_environ_unsetenv(env, "DBUS_SESSION_BUS_ADDRESS");
	env = g_environ_setenv(env, "NO_AT_BRIDGE", "1", TRUE);
	env = g_environ_setenv(env, "GSETTINGS_BACKEND", "memory", TRUE);
	env = g_environ_setenv(env, "XCKPT_SESSION", s->config->name, TRUE);
	if (s->pty != NULL) {
		/* On its terminal: a session leader whose controlling
		 * terminal is the pty's slave; the daemon reads the master
		 * (through its own fd, which session_read_output() may close
		 * at the end). */
		if (!g_spawn_async_with_pipes_and_fds(s->config->cwd,
				(const char *const *)s->config->argv,
				(const char *const *)env,
				G_SPAWN_SEARCH_PATH_FROM_ENVP |
				G_SPAWN_DO_NOT_REAP_CHILD |
				G_SPAWN_CHILD_INHERITS_STDIN,
				ptyterm_spawn_setup,
				(gpointer)ptyterm_slave_name(s->pty),
				-1, -1, -1, NULL, NULL, 0, &pid, NULL, NULL, NULL,
				&e))
			goto fail;
		out_fd = fcntl(ptyterm_master(s->pty), F_DUPFD_CLOEXEC, 3);
	} else if (!g_spawn_async_with_pipes_and_fds(s->config->cwd,
			(const char *const *)s->config->argv,
			(const char *const *)env,
			G_SPAWN_SEARCH_PATH_FROM_ENVP |
			G_SPAWN_DO_NOT_REAP_CHILD |
			G_SPAWN_STDIN_FROM_DEV_NULL,
			session_child_setup, NULL, -1, -1, -1, NULL, NULL, 0,
			&pid, NULL, &out_fd, &err_fd, &e)) {
		goto fail;
	} else {
		/* Both sides set the group, so that signals can go to it at
		 * once. */
		setpgid(pid, pid);
	}
	s->app_pid = pid;
	s->app_env = g_strdupv(env);
	s->out_fd[1] = out_fd;
	s->out_fd[2] = err_fd;
	for (int i = 1; i <= 2; i++) {
		if (s->out_fd[i] < 0)
			continue;
		g_unix_set_fd_nonblocking(s->out_fd[i], TRUE, NULL);
		fcntl(s->out_fd[i], F_SETFD, FD_CLOEXEC);
	}
	session_log(s, "started app %d: %s", (int)pid, s->config->argv[0]);
	return TRUE;
fail:
	g_set_error(error, G_SPAWN_ERROR, e->code, "cannot run %s: %s",
		    s->config->argv[0], e->message);
	return FALSE;
}

/* Points fds 0, 1 and 2 at /dev/null and closes every other fd but those
 * in KEEP (N of them). */
static void session_detach_fds(const int *keep, int n)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	g_autoptr(GDir) d = NULL;
	g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
	const char *entry;

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	d = g_dir_open("/proc/self/fd", 0, NULL);
	if (d == NULL)
		return;
	while ((entry = g_dir_read_name(d)) != NULL)
		g_array_append_val(fds, (int){ atoi(entry) });
	for (guint i = 0; i < fds->len; i++) {
		int fd = g_array_index(fds, int, i);
		gboolean kept = fd <= 2;

		for (int j = 0; j < n; j++)
			kept = kept || keep[j] == fd;
		if (!kept)
			close(fd);
	}
}

/* Detaches, in the session's own mount namespace, every FUSE mount it
 * inherited from the host.  CRIU cannot dump a FUSE mount ("failed to dump
 * fs ... (fuse): always fail"), and a desktop has some whether or not the
 * app uses them (xdg-document-portal's $XDG_RUNTIME_DIR/doc, gvfs): the
 * session does without them, the host keeps them.  Mountinfo lists parents
 * before children, so the list is walked backwards.  Failures are logged:
 * the checkpoint will then say which mount is in the way. */
static void session_drop_fuse(void)
{
	g_autofree char *info = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
		return;
	lines = g_strsplit(info, "\n", -1);
	for (gint i = (gint)g_strv_length(lines) - 1; i >= 0; i--) {
		g_auto(GStrv) f = g_strsplit(lines[i], " ", -1);
		g_autofree char *point = NULL;
		guint n = g_strv_length(f), dash;

		/* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE */
		for (dash = 6; dash < n && strcmp(f[dash], "-") != 0; dash++)
			;
		if (dash + 1 >= n || (strcmp(f[dash + 1], "fuse") != 0 &&
				      !g_str_has_prefix(f[dash + 1], "fuse.")))
			continue;
		point = g_strcompress(f[4]);
		if (umount2(point, MNT_DETACH) < 0)
			g_printerr("xckpt: cannot detach the FUSE mount %s in "
				   "the session: %s\n", point, g_strerror(errno));
	}
}

/* In the session's new mount namespace: makes every mount private (nothing
 * the session mounts leaks out) and gives the session its own devpts
 * instance, on /dev/pts with /dev/ptmx bound to its ptmx.  CRIU restores a
 * pty only under its old index; in a private instance the indexes are the
 * session's own (0, 1, ...), so a restart never finds one taken by a
 * terminal of the host.  This covers the ptys the app makes itself (GNU
 * screen's and tmux's windows, xterm's shell), not just the one the daemon
 * keeps.  FALSE with a one-line ERROR. */
static gboolean session_private_pts(GError **error)
{
	const char *step = NULL;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		step = "make the mounts private";
	else if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		       "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
		step = "mount a private devpts on /dev/pts";
	else if (mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) < 0)
		step = "bind /dev/pts/ptmx on /dev/ptmx";
	if (step != NULL) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "cannot %s for the session: %s", step,
			    g_strerror(e));
		return FALSE;
	}
	session_drop_fuse();
	return TRUE;
}

/* Makes this process the root of a session tree: new session, subreaper,
 * new IPC and UTS namespaces.  FALSE with a one-line ERROR. */
static gboolean session_become_root(GError **error)
{
	if (setsid() < 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "setsid: %s", g_strerror(e));
		return FALSE;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "cannot become a child subreaper: %s",
			    g_strerror(e));
		return FALSE;
	}
	if (unshare(CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS) < 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "cannot create the session's IPC, UTS and mount "
			    "namespaces (needs CAP_SYS_ADMIN): %s", g_strerror(e));
		return FALSE;
	}
	return session_private_pts(error);
}

/* Exchanges HELLOs with the foreground client on FD, blocking (it has sent
 * its HELLO before waiting for the ready pipe). */
static gboolean session_fg_hello(Session *s, int fd, GError **error)
{
	g_autoptr(GBytes) body = NULL;
	guint32 type, version, flags, reply[2];

	if (!control_recv(fd, &type, &body, error))
		return FALSE;
	if (type != CONTROL_HELLO || !control_get_u32(body, 0, &version) ||
	    !control_get_u32(body, 4, &flags) || version != CONTROL_VERSION) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_VERSION,
			    "the foreground client sent a bad HELLO");
		return FALSE;
	}
	reply[0] = GUINT32_TO_LE(CONTROL_VERSION);
	reply[1] = GUINT32_TO_LE((guint32)getpid());
	if (!control_send(fd, CONTROL_HELLO, reply, sizeof(reply), error))
		return FALSE;
	SessionClient *c = session_client_add(s, fd);
	c->hello = TRUE;
	c->flags = flags;
	return TRUE;
}

/* Writes the session's metadata file. */
static gboolean session_write_info(Session *s, GError **error)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	SessInfo *info = g_new0(SessInfo, 1);

	info->name = g_strdup(s->config->name);
	info->pid = getpid();
	info->app_pid = s->app_pid;
	if (s->proxy != NULL) {
		info->display = g_strdup(xproxy_display_name(s->proxy));
		info->upstream = g_strdup(xproxy_upstream(s->proxy));
	}
	info->argv = g_strdupv(s->config->argv);
	info->cwd = g_strdup(s->config->cwd);
	info->started = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
	info->state = g_strdup("running");
	info->terminal = s->pty != NULL;
	s->info = info;
	return sessinfo_save(info, s->info_path, error);
}

/* Reports a failed start on the ready pipe, undoes everything and exits 1. */
G_GNUC_NORETURN
static void session_fail(Session *s, const char *message)
{
	char *line = g_strdup_printf("e%s", message);
	ssize_t n = write(s->config->ready_fd, line, strlen(line));

	(void)n;
	session_log(s, "could not start: %s", message);
	if (s->app_pid > 0) {
		reaper_signal_descendants(getpid(), SIGKILL);
		while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
			;
	}
	g_clear_pointer(&s->proxy, xproxy_free);
	statedir_remove(s->config->statedir, s->config->name);
	_exit(1);
}

/* Binds the control socket again, from inside the session's mount
 * namespace: the one `xckpt run` bound (to reserve the name) belongs to the
 * host's mounts, which a restore cannot find.  FALSE with ERROR. */
static gboolean session_rebind(Session *s, GError **error)
{
	int fd;

	/* Under the state directory's lock: no other `xckpt run` may take
	 * the name while no socket is there. */
	fd = control_relisten(s->sock_path, s->config->listen_fd, error);
	s->config->listen_fd = -1;
	if (fd < 0)
		return FALSE;
	s->config->listen_fd = fd;
	return TRUE;
}

/* Runs the session daemon; never returns (see session.h). */
void session_main(SessionConfig *config)
{
	Session *s = g_new0(Session, 1);
	g_autoptr(GError) error = NULL;
	XProxyConfig pc = { 0 };
	int keep[3] = { config->listen_fd, config->fg_fd, config->ready_fd };

	session_self = s;
	s->config = config;
	s->state = SESSION_RUNNING;
	s->grace_ms = SESSION_GRACE_MS;
	s->out_fd[0] = s->out_fd[1] = s->out_fd[2] = -1;
	s->clients = g_ptr_array_new_with_free_func(
		(GDestroyNotify)session_client_free);
	s->sock_path = statedir_file(config->statedir, config->name, "sock");
	s->info_path = statedir_file(config->statedir, config->name, "session");
	s->log_path = statedir_file(config->statedir, config->name, "log");
	s->xauth_path = statedir_file(config->statedir, config->name, "xauth");

	/* (session_exec() made this process the root of the tree, in its
	 * namespaces, before it re-executed the daemon.) */
	session_detach_fds(keep, G_N_ELEMENTS(keep));
	if (!session_rebind(s, &error))
		session_fail(s, error->message);
	signal(SIGPIPE, SIG_IGN);
	session_log_remove(s);
	g_log_set_writer_func(session_log_writer, NULL, NULL);
	s->loop = g_main_loop_new(NULL, FALSE);
	s->sigchld_fd = reaper_init(&error);
	if (s->sigchld_fd < 0)
		session_fail(s, error->message);

	if (config->upstream != NULL) {
		pc.upstream = config->upstream;
		pc.display = -1;
		pc.xauthority = s->xauth_path;
		s->proxy = xproxy_new(&pc, &error);
		if (s->proxy == NULL)
			session_fail(s, error->message);
		xproxy_set_lost_fn(s->proxy, session_on_lost, s);
		session_log(s, "proxy %s for display %s",
			    xproxy_display_name(s->proxy),
			    xproxy_upstream(s->proxy));
	}
	if (!config->no_dbus && !session_start_dbus(s, &error))
		session_fail(s, error->message);
	if (config->pty && !session_open_pty(s, &error))
		session_fail(s, error->message);

	if (config->fg_fd >= 0 && !session_fg_hello(s, config->fg_fd, &error))
		session_fail(s, error->message);
	if (!session_spawn(s, &error))
		session_fail(s, error->message);
	if (!session_write_info(s, &error))
		session_fail(s, error->message);

	s->sigchld_src = g_unix_fd_add(s->sigchld_fd, G_IO_IN,
				       session_on_sigchld, s);
	s->listen_src = g_unix_fd_add(config->listen_fd, G_IO_IN,
				      session_on_accept, s);
	for (int i = 1; i <= 2; i++)
		if (s->out_fd[i] >= 0)
			s->out_src[i] = g_unix_fd_add(s->out_fd[i],
						      G_IO_IN | G_IO_HUP |
						      G_IO_ERR,
						      session_on_output, s);
	g_unix_signal_add(SIGTERM, session_on_signal, s);
	g_unix_signal_add(SIGINT, session_on_signal, s);
	g_unix_signal_add(SIGHUP, session_on_signal, s);

	if (write(config->ready_fd, "o", 1) != 1)
		session_log(s, "the starting xckpt went away");
	close(config->ready_fd);
	config->ready_fd = -1;

	/* The app may have exited already. */
	session_reap(s);
	if (s->state != SESSION_DONE)
		g_main_loop_run(s->loop);

	g_clear_pointer(&s->proxy, xproxy_free);
	g_ptr_array_unref(s->clients);
	session_log_remove(s);
	_exit(0);
}

/* The environment variable that carries a SessionConfig across the
 * daemon's re-execution. */
#define SESSION_CONFIG_ENV "XCKPT_DAEMON_CONFIG"

/* Writes CONFIG as GKeyFile text (caller frees). */
static char *session_config_to_data(const SessionConfig *c)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	const char *g = "daemon";
	g_autofree char *tio = g_base64_encode((const guchar *)&c->termios,
					       sizeof(c->termios));

	g_key_file_set_string(kf, g, "name", c->name);
	g_key_file_set_string(kf, g, "statedir", c->statedir);
	if (c->upstream != NULL)
		g_key_file_set_string(kf, g, "upstream", c->upstream);
	g_key_file_set_string_list(kf, g, "argv",
				   (const char *const *)c->argv,
				   g_strv_length(c->argv));
	g_key_file_set_string(kf, g, "cwd", c->cwd);
	g_key_file_set_integer(kf, g, "listen-fd", c->listen_fd);
	g_key_file_set_integer(kf, g, "fg-fd", c->fg_fd);
	g_key_file_set_integer(kf, g, "ready-fd", c->ready_fd);
	g_key_file_set_boolean(kf, g, "no-dbus", c->no_dbus);
	g_key_file_set_boolean(kf, g, "pty", c->pty);
	g_key_file_set_integer(kf, g, "rows", (int)c->rows);
	g_key_file_set_integer(kf, g, "cols", (int)c->cols);
	g_key_file_set_boolean(kf, g, "has-termios", c->has_termios);
	g_key_file_set_string(kf, g, "termios", tio);
	return g_key_file_to_data(kf, NULL, NULL);
}

/* Reads a SessionConfig from GKeyFile text DATA.  Returns it (caller owns
 * it) or NULL. */
static SessionConfig *session_config_from_data(const char *data)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	const char *g = "daemon";
	SessionConfig *c;
	g_autofree guchar *tio = NULL;
	g_autofree char *tio64 = NULL;
	gsize len = 0;

	if (data == NULL ||
	    !g_key_file_load_from_data(kf, data, -1, G_KEY_FILE_NONE, NULL))
		return NULL;
	c = g_new0(SessionConfig, 1);
	c->name = g_key_file_get_string(kf, g, "name", NULL);
	c->statedir = g_key_file_get_string(kf, g, "statedir", NULL);
	c->upstream = g_key_file_get_string(kf, g, "upstream", NULL);
	c->argv = g_key_file_get_string_list(kf, g, "argv", NULL, NULL);
	c->cwd = g_key_file_get_string(kf, g, "cwd", NULL);
	c->listen_fd = g_key_file_get_integer(kf, g, "listen-fd", NULL);
	c->fg_fd = g_key_file_get_integer(kf, g, "fg-fd", NULL);
	c->ready_fd = g_key_file_get_integer(kf, g, "ready-fd", NULL);
	c->no_dbus = g_key_file_get_boolean(kf, g, "no-dbus", NULL);
	c->pty = g_key_file_get_boolean(kf, g, "pty", NULL);
	c->rows = (guint)g_key_file_get_integer(kf, g, "rows", NULL);
	c->cols = (guint)g_key_file_get_integer(kf, g, "cols", NULL);
	c->has_termios = g_key_file_get_boolean(kf, g, "has-termios", NULL);
	tio64 = g_key_file_get_string(kf, g, "termios", NULL);
	if (tio64 != NULL)
		tio = g_base64_decode(tio64, &len);
	if (tio != NULL && len == sizeof(c->termios))
		memcpy(&c->termios, tio, len);
	else
		c->has_termios = FALSE;
	if (c->name == NULL || c->statedir == NULL || c->argv == NULL ||
	    c->cwd == NULL)
		return NULL;
	return c;
}

/* Makes the root of the session tree and re-executes the daemon in it (see
 * session.h). */
void session_exec(SessionConfig *config)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	int fds[3] = { config->listen_fd, config->fg_fd, config->ready_fd };
	char *argv[] = { "xckpt", SESSION_DAEMON_COMMAND, NULL };
	g_autofree char *self = NULL;

	if (!session_become_root(&error)) {
		g_autofree char *line = g_strdup_printf("e%s", error->message);
		if (write(config->ready_fd, line, strlen(line)) < 0)
			_exit(1);
		_exit(1);
	}
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFD, 0);
	data = session_config_to_data(config);
	g_setenv(SESSION_CONFIG_ENV, data, TRUE);
	/* By its path, looked up again in the new mount namespace (the
	 * /proc/self/exe link itself would lead to the old mount). */
	self = g_file_read_link("/proc/self/exe", NULL);
	if (self != NULL)
		execv(self, argv);
	{
		g_autofree char *line = g_strdup_printf(
			"ecannot re-execute xckpt: %s", g_strerror(errno));
		if (write(config->ready_fd, line, strlen(line)) < 0)
			_exit(1);
	}
	_exit(1);
}

/* The re-executed daemon (see session.h). */
int session_daemon_exec(void)
{
	SessionConfig *config = session_config_from_data(
		g_getenv(SESSION_CONFIG_ENV));

	if (config == NULL) {
		fprintf(stderr, "xckpt: %s is for xckpt's own use\n",
			SESSION_DAEMON_COMMAND);
		return 2;
	}
	g_unsetenv(SESSION_CONFIG_ENV);
	fcntl(config->listen_fd, F_SETFD, FD_CLOEXEC);
	if (config->fg_fd >= 0)
		fcntl(config->fg_fd, F_SETFD, FD_CLOEXEC);
	fcntl(config->ready_fd, F_SETFD, FD_CLOEXEC);
	session_main(config);
}
