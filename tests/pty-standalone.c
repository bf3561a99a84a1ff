/*
 * pty-standalone.c: a terminal session outside xckpt's session daemon and
 * CRIU, for tests and as the model of the daemon's terminal side (issue 5).
 *
 *   pty-standalone serve SOCK ROWS COLS COMMAND [ARG...]
 *   pty-standalone attach SOCK [NAME]
 *
 * serve runs COMMAND on a pty of ROWS x COLS (ptysupport.h) and answers the
 * terminal messages of control.h on a control socket at SOCK: HELLO,
 * ATTACH (REDRAW, then OUTPUT; a second ATTACH takes over), INPUT, RESIZE,
 * DETACH, REDRAW.  While no client is attached the model answers the app's
 * terminal queries.  It exits with COMMAND's status once COMMAND has exited
 * and the pty is closed, after EXIT to the attached client.  attach runs
 * the attach client (src/attach.c) on SOCK and exits with its status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "ptysupport/ptysupport.h"
#include "src/cmd.h"
#include "src/control.h"

typedef struct Server Server;

/* One client of the control socket. */
typedef struct {
	Server *server;		/* the server it talks to */
	int fd;			/* its connection (owned) */
	ControlReader reader;	/* bytes from it */
	guint src;		/* its watch */
} Client;

/* The server. */
struct Server {
	PtyTerm *term;		/* the pty and its model */
	GPid app;		/* the app */
	int status;		/* its wait status, once reaped */
	gboolean reaped;	/* it was */
	Client *attached;	/* the attached client, or NULL */
	GMainLoop *loop;	/* the main loop */
	char *sock;		/* the socket's path */
	gboolean pty_gone;	/* the master read EOF or EIO */
};

/* Sends message TYPE with BODY (LEN bytes) to C, blocking. */
static void server_send(Client *c, guint32 type, const void *body, gsize len)
{
	control_send(c->fd, type, body, len, NULL);
}

/* Sends REDRAW to C: as several messages when it is longer than a message
 * body may be (a big screen in many colours). */
static void server_send_redraw(Client *c, GBytes *redraw)
{
	gsize len, off = 0;
	const guint8 *data = g_bytes_get_data(redraw, &len);

	do {
		gsize n = MIN(len - off, CONTROL_MAX_BODY);
		server_send(c, CONTROL_REDRAW, data + off, n);
		off += n;
	} while (off < len);
}

/* Drops client C. */
static void server_drop(Server *s, Client *c)
{
	if (s->attached == c) {
		s->attached = NULL;
		ptyterm_set_answer(s->term, TRUE);
	}
	g_source_remove(c->src);
	close(c->fd);
	control_reader_clear(&c->reader);
	g_free(c);
}

/* Writes LEN bytes of DATA to the pty master (non-blocking: waits while it
 * is full). */
static void server_input(Server *s, const guint8 *data, gsize len)
{
	int fd = ptyterm_master(s->term);

	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			g_usleep(1000);
			continue;
		}
		if (n <= 0)
			return;
		data += n;
		len -= n;
	}
}

/* Handles message TYPE with BODY from client C. */
static void server_message(Server *s, Client *c, guint32 type, GBytes *body)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(body, &len);
	guint32 rows, cols;

	switch (type) {
	case CONTROL_HELLO: {
		guint32 hello[2] = { GUINT32_TO_LE(CONTROL_VERSION),
				     GUINT32_TO_LE((guint32)getpid()) };
		server_send(c, CONTROL_HELLO, hello, sizeof(hello));
		break;
	}
	case CONTROL_ATTACH: {
		g_autoptr(GBytes) redraw = NULL;
		if (!control_get_u32(body, 0, &rows) ||
		    !control_get_u32(body, 4, &cols)) {
			server_send(c, CONTROL_ERROR, "bad ATTACH", 10);
			break;
		}
		if (s->attached != NULL && s->attached != c)
			server_send(s->attached, CONTROL_DETACH,
				    "attached elsewhere", 18);
		s->attached = c;
		ptyterm_set_answer(s->term, FALSE);
		redraw = ptyterm_attach(s->term, rows, cols);
		server_send_redraw(c, redraw);
		break;
	}
	case CONTROL_INPUT:
		if (s->attached == c)
			server_input(s, data, len);
		break;
	case CONTROL_RESIZE:
		if (s->attached == c && control_get_u32(body, 0, &rows) &&
		    control_get_u32(body, 4, &cols))
			ptyterm_resize(s->term, rows, cols);
		break;
	case CONTROL_DETACH:
		if (s->attached == c) {
			s->attached = NULL;
			ptyterm_set_answer(s->term, TRUE);
		}
		server_send(c, CONTROL_DONE, NULL, 0);
		break;
	case CONTROL_REDRAW: {
		g_autoptr(GBytes) redraw = ptyterm_redraw(s->term);
		server_send_redraw(c, redraw);
		break;
	}
	default:
		server_send(c, CONTROL_ERROR, "unknown request", 15);
		break;
	}
}

/* A client's connection is readable. */
static gboolean server_on_client(int fd, GIOCondition cond, gpointer ud)
{
	Client *c = ud;
	Server *s = c->server;
	gboolean eof = FALSE;
	guint32 type;
	GBytes *body;

	if (!control_reader_fill(&c->reader, fd, &eof, NULL))
		eof = TRUE;
	while (control_reader_next(&c->reader, &type, &body, NULL)) {
		server_message(s, c, type, body);
		g_bytes_unref(body);
	}
	if (eof) {
		c->src = 0;
		server_drop(s, c);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* The listening socket has a client. */
static gboolean server_on_listen(int fd, GIOCondition cond, gpointer ud)
{
	Server *s = ud;
	Client *c;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (cfd < 0)
		return G_SOURCE_CONTINUE;
	c = g_new0(Client, 1);
	c->server = s;
	c->fd = cfd;
	control_reader_init(&c->reader);
	c->src = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR,
			       server_on_client, c);
	return G_SOURCE_CONTINUE;
}

/* Quits once the app is reaped and the pty has closed. */
static void server_check_end(Server *s)
{
	if (!s->reaped || !s->pty_gone)
		return;
	if (s->attached != NULL) {
		guint32 le = GUINT32_TO_LE((guint32)s->status);
		server_send(s->attached, CONTROL_EXIT, &le, sizeof(le));
	}
	g_main_loop_quit(s->loop);
}

/* The master is readable: the app's output goes into the model and to the
 * attached client, in this order. */
static gboolean server_on_master(int fd, GIOCondition cond, gpointer ud)
{
	Server *s = ud;
	guint8 buf[1 + 16384];
	ssize_t n = read(fd, buf + 1, sizeof(buf) - 1);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		/* EIO: no slave is open any more. */
		s->pty_gone = TRUE;
		server_check_end(s);
		return G_SOURCE_REMOVE;
	}
	ptyterm_output(s->term, buf + 1, n);
	if (s->attached != NULL) {
		buf[0] = CONTROL_STDOUT;
		server_send(s->attached, CONTROL_OUTPUT, buf, n + 1);
	}
	return G_SOURCE_CONTINUE;
}

/* The app exited. */
static void server_on_app(GPid pid, gint status, gpointer ud)
{
	Server *s = ud;

	s->status = status;
	s->reaped = TRUE;
	g_spawn_close_pid(pid);
	server_check_end(s);
}

/* SIGTERM, SIGINT: ends the app. */
static gboolean server_on_signal(gpointer ud)
{
	Server *s = ud;

	if (!s->reaped)
		kill(s->app, SIGHUP);
	return G_SOURCE_CONTINUE;
}

/* serve SOCK ROWS COLS COMMAND... */
static int standalone_serve(int argc, char **argv)
{
	Server s = { 0 };
	g_autoptr(GError) error = NULL;
	int lfd;

	if (argc < 5) {
		fprintf(stderr, "usage: pty-standalone serve SOCK ROWS COLS "
			"COMMAND [ARG...]\n");
		return 2;
	}
	s.sock = argv[1];
	s.term = ptyterm_open(atoi(argv[2]), atoi(argv[3]), &error);
	if (s.term == NULL) {
		fprintf(stderr, "pty-standalone: %s\n", error->message);
		return 1;
	}
	ptyterm_set_answer(s.term, TRUE);
	lfd = control_listen(s.sock, &error);
	if (lfd < 0) {
		fprintf(stderr, "pty-standalone: %s\n", error->message);
		return 1;
	}
	if (!g_spawn_async(NULL, argv + 4, NULL,
			   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
			   ptyterm_spawn_setup,
			   (gpointer)ptyterm_slave_name(s.term), &s.app,
			   &error)) {
		fprintf(stderr, "pty-standalone: %s\n", error->message);
		return 1;
	}
	s.loop = g_main_loop_new(NULL, FALSE);
	g_unix_fd_add(lfd, G_IO_IN, server_on_listen, &s);
	g_unix_fd_add(ptyterm_master(s.term), G_IO_IN | G_IO_HUP | G_IO_ERR,
		      server_on_master, &s);
	g_child_watch_add(s.app, server_on_app, &s);
	g_unix_signal_add(SIGTERM, server_on_signal, &s);
	g_unix_signal_add(SIGINT, server_on_signal, &s);
	printf("%d\n", (int)s.app);
	fflush(stdout);
	g_main_loop_run(s.loop);
	g_unlink(s.sock);
	ptyterm_free(s.term);
	return WIFEXITED(s.status) ? WEXITSTATUS(s.status) :
	       128 + WTERMSIG(s.status);
}

/* attach SOCK [NAME] */
static int standalone_attach(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	AttachOptions opt = { 0 };
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: pty-standalone attach SOCK [NAME]\n");
		return 2;
	}
	opt.name = argc > 2 ? argv[2] : argv[1];
	fd = control_open(argv[1], CONTROL_HELLO_OUTPUT, &error);
	if (fd < 0) {
		fprintf(stderr, "pty-standalone: %s\n", error->message);
		return 1;
	}
	return attach_run(fd, &opt, NULL);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return standalone_serve(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "attach") == 0)
		return standalone_attach(argc - 1, argv + 1);
	fprintf(stderr, "usage: pty-standalone serve|attach ...\n");
	return 2;
}
