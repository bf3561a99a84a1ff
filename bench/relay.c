/*
 * relay.c: the benchmark's baseline, a plain byte relay for X11.
 *
 *   relay :LISTEN :UPSTREAM
 *
 * It listens as display :LISTEN (it takes /tmp/.XLISTEN-lock and binds
 * /tmp/.X11-unix/XLISTEN) and, for every client that connects, opens a
 * connection to the unix socket of display :UPSTREAM and copies bytes both
 * ways until either side closes.  It parses nothing and handles no
 * authorization, so the upstream server must run without access control.
 *
 * It is deliberately what anyone would write: one process, poll(2), and a
 * fixed 64 KiB buffer per direction with read(2) and write(2); a read is
 * followed by an immediate write, and only a partial write waits for POLLOUT.
 * It is the yardstick for the proxy (a proxy that copies can at best match
 * it), so it must stay simple and honest: no splice, no tricks.
 *
 * SIGINT, SIGTERM and SIGHUP remove the socket and the lock and exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The size of each direction's buffer. */
#define RELAY_BUFSIZE 65536

/* The directory that holds the X servers' unix sockets. */
#define RELAY_SOCKDIR "/tmp/.X11-unix"

/* One direction of a connection: bytes read from one fd, not yet written to
 * the other. */
typedef struct {
	char buf[RELAY_BUFSIZE];	/* the bytes in flight */
	size_t off;			/* the first byte not yet written */
	size_t len;			/* the end of the bytes read */
} RelayDir;

/* One client and its upstream connection. */
typedef struct {
	int client;		/* the client's socket */
	int server;		/* our socket to the upstream display */
	RelayDir up;		/* client to server */
	RelayDir down;		/* server to client */
} RelayConn;

/* The whole relay. */
typedef struct {
	int listen_fd;		/* the listening socket */
	int display;		/* the display number we listen as */
	int upstream;		/* the upstream display number */
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
				/* our socket's path, removed at exit */
	char lock_path[64];	/* our lock file's path, removed at exit */
	RelayConn **conns;	/* the open connections */
	size_t n_conns;		/* how many entries of conns are in use */
	size_t cap_conns;	/* how many entries conns has room for */
	struct pollfd *pfds;	/* the poll set, rebuilt every iteration */
} Relay;

/* Set by the signal handler: the relay should clean up and exit. */
static volatile sig_atomic_t relay_stop;

/* Records that a terminating signal arrived. */
static void
relay_on_signal(int sig)
{
	relay_stop = 1;
}

/* Parses a display name ":N" (or "N") into N.  Returns 0, or -1 when NAME is
 * not a plain local display number. */
static int
relay_parse_display(const char *name, int *number)
{
	char *end;
	long n;

	if (name[0] == ':')
		name++;
	errno = 0;
	n = strtol(name, &end, 10);
	if (errno || end == name || (*end && *end != '.') || n < 0 || n > 65535)
		return -1;
	*number = (int)n;
	return 0;
}

/* Takes the X lock file of display R->display the way X servers do: created
 * exclusively, holding our pid.  Returns 0, or -1 when the display is taken
 * or the file cannot be written. */
static int
relay_take_lock(Relay *r)
{
	char pid[16];
	int fd, n;

	snprintf(r->lock_path, sizeof r->lock_path, "/tmp/.X%d-lock", r->display);
	fd = open(r->lock_path, O_WRONLY | O_CREAT | O_EXCL, 0444);
	if (fd < 0) {
		fprintf(stderr, "relay: display :%d is taken (%s: %s)\n",
		    r->display, r->lock_path, strerror(errno));
		r->lock_path[0] = '\0';
		return -1;
	}
	n = snprintf(pid, sizeof pid, "%10d\n", (int)getpid());
	if (write(fd, pid, (size_t)n) != n) {
		fprintf(stderr, "relay: cannot write %s\n", r->lock_path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Makes R's listening socket at /tmp/.X11-unix/X<display>.  A stale socket
 * there is removed, since we hold the display's lock.  Returns 0 or -1. */
static int
relay_listen(Relay *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	mkdir(RELAY_SOCKDIR, 01777);
	snprintf(r->sock_path, sizeof r->sock_path, RELAY_SOCKDIR "/X%d", r->display);
	unlink(r->sock_path);
	memcpy(sa.sun_path, r->sock_path, sizeof sa.sun_path);
	r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->listen_fd < 0 ||
	    bind(r->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(r->listen_fd, 64) < 0) {
		fprintf(stderr, "relay: cannot listen on %s: %s\n",
		    r->sock_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Connects to the upstream display's unix socket.  Returns the fd, or -1. */
static int
relay_connect_upstream(Relay *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof sa.sun_path, RELAY_SOCKDIR "/X%d", r->upstream);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "relay: cannot connect to %s: %s\n",
		    sa.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Accepts one pending client and connects it upstream.  A client whose
 * upstream connection fails is closed.  Returns 0, or -1 when out of
 * memory. */
static int
relay_accept(Relay *r)
{
	RelayConn *c;
	int cfd, sfd;

	cfd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	sfd = relay_connect_upstream(r);
	if (sfd < 0) {
		close(cfd);
		return 0;
	}
	if (r->n_conns == r->cap_conns) {
		size_t cap = r->cap_conns ? 2 * r->cap_conns : 8;
		RelayConn **conns = realloc(r->conns, cap * sizeof *conns);
		struct pollfd *pfds = realloc(r->pfds, (2 * cap + 1) * sizeof *pfds);

		if (conns)
			r->conns = conns;
		if (pfds)
			r->pfds = pfds;
		if (!conns || !pfds)
			goto oom;
		r->cap_conns = cap;
	}
	c = malloc(sizeof *c);
	if (!c)
		goto oom;
	c->client = cfd;
	c->server = sfd;
	c->up.off = c->up.len = 0;
	c->down.off = c->down.len = 0;
	r->conns[r->n_conns++] = c;
	return 0;
oom:
	close(cfd);
	close(sfd);
	return -1;
}

/* Writes what D holds to FD until done or the socket is full.  Returns 0, or
 * -1 when FD failed. */
static int
relay_flush(RelayDir *d, int fd)
{
	while (d->off < d->len) {
		ssize_t n = write(fd, d->buf + d->off, d->len - d->off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		d->off += (size_t)n;
	}
	d->off = d->len = 0;
	return 0;
}

/* Reads what FROM has into the empty buffer D, then writes it on to TO at
 * once.  Returns 0, or -1 when either side closed or failed. */
static int
relay_pump(RelayDir *d, int from, int to)
{
	ssize_t n;

	do
		n = read(from, d->buf, sizeof d->buf);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	d->off = 0;
	d->len = (size_t)n;
	return relay_flush(d, to);
}

/* Closes connection number I and removes it from R. */
static void
relay_drop(Relay *r, size_t i)
{
	close(r->conns[i]->client);
	close(r->conns[i]->server);
	free(r->conns[i]);
	r->conns[i] = r->conns[--r->n_conns];
}

/* Handles the poll results PC (client side) and PS (server side) of
 * connection C.  Returns 0, or -1 when the connection is over. */
static int
relay_service(RelayConn *c, short pc, short ps)
{
	const short bad = POLLERR | POLLNVAL;

	if ((pc & POLLOUT) && relay_flush(&c->down, c->client) < 0)
		return -1;
	if ((ps & POLLOUT) && relay_flush(&c->up, c->server) < 0)
		return -1;
	if ((pc & (POLLIN | POLLHUP | bad)) && c->up.len == 0 &&
	    relay_pump(&c->up, c->client, c->server) < 0)
		return -1;
	if ((ps & (POLLIN | POLLHUP | bad)) && c->down.len == 0 &&
	    relay_pump(&c->down, c->server, c->client) < 0)
		return -1;
	return 0;
}

/* Runs R's poll loop until a signal asks it to stop.  Returns 0 or -1. */
static int
relay_loop(Relay *r)
{
	for (;;) {
		size_t i, n;

		if (relay_stop)
			return 0;
		r->pfds[0] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
		for (i = 0; i < r->n_conns; i++) {
			RelayConn *c = r->conns[i];

			/* Read a side only when its buffer is empty; wait
			 * for room only when a write was partial. */
			r->pfds[1 + 2 * i] = (struct pollfd){ .fd = c->client,
			    .events = (c->up.len ? 0 : POLLIN) |
				      (c->down.len ? POLLOUT : 0) };
			r->pfds[2 + 2 * i] = (struct pollfd){ .fd = c->server,
			    .events = (c->down.len ? 0 : POLLIN) |
				      (c->up.len ? POLLOUT : 0) };
		}
		n = r->n_conns;
		if (poll(r->pfds, 1 + 2 * n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("relay: poll");
			return -1;
		}
		/* Service from the end so that dropping (which moves the
		 * last connection into the hole) skips no one. */
		for (i = n; i-- > 0;)
			if (relay_service(r->conns[i], r->pfds[1 + 2 * i].revents,
			    r->pfds[2 + 2 * i].revents) < 0)
				relay_drop(r, i);
		if ((r->pfds[0].revents & POLLIN) && relay_accept(r) < 0) {
			fprintf(stderr, "relay: out of memory\n");
			return -1;
		}
	}
}

/* Closes every connection and removes R's socket and lock file. */
static void
relay_cleanup(Relay *r)
{
	while (r->n_conns)
		relay_drop(r, r->n_conns - 1);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	if (r->sock_path[0])
		unlink(r->sock_path);
	if (r->lock_path[0])
		unlink(r->lock_path);
	free(r->conns);
	free(r->pfds);
}

/* Installs the signal handlers: the terminating signals stop the loop, and
 * SIGPIPE is ignored (a closed peer shows up as a write error). */
static void
relay_signals(void)
{
	struct sigaction sa = { .sa_handler = relay_on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* relay :LISTEN :UPSTREAM.  Exits 0 when stopped by a signal, 1 on a setup
 * error, 2 on bad usage. */
int
main(int argc, char **argv)
{
	Relay r = { .listen_fd = -1 };
	int rc = 1;

	if (argc != 3 || relay_parse_display(argv[1], &r.display) < 0 ||
	    relay_parse_display(argv[2], &r.upstream) < 0) {
		fprintf(stderr, "usage: relay :LISTEN :UPSTREAM\n");
		return 2;
	}
	if (r.display == r.upstream) {
		fprintf(stderr, "relay: cannot relay display :%d to itself\n", r.display);
		return 2;
	}
	relay_signals();
	r.pfds = malloc(sizeof *r.pfds);
	if (r.pfds && relay_take_lock(&r) == 0 && relay_listen(&r) == 0)
		rc = relay_loop(&r) < 0;
	relay_cleanup(&r);
	return rc;
}
