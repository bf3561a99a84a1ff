/*
 * display.c: an upstream X display (see display.h).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <X11/X.h>
#include <X11/Xauth.h>

#include "xproxy/display.h"
#include "xproxy/xproxy.h"

/* The only authorisation protocol the proxy speaks. */
#define DISPLAY_MIT_COOKIE "MIT-MAGIC-COOKIE-1"

struct XpDisplay {
	char *name;		/* the name as given (owned) */
	char *host;		/* TCP host, or NULL for a local socket */
	char *path;		/* an explicit socket path ("/path:N"), or
				 * NULL (owned) */
	int number;		/* display number */
	GBytes *auth_name;	/* cookie protocol name, empty if none */
	GBytes *auth_data;	/* cookie bytes, empty if none */
};

/* Frees DISPLAY. */
void display_free(XpDisplay *display)
{
	if (!display)
		return;
	g_free(display->name);
	g_free(display->host);
	g_free(display->path);
	g_bytes_unref(display->auth_name);
	g_bytes_unref(display->auth_data);
	g_free(display);
}

/* Splits NAME into host (or socket path) and display number. */
static gboolean display_parse(XpDisplay *d, const char *name, GError **error)
{
	const char *colon = strrchr(name, ':');
	char *end;
	long n;

	if (!colon)
		goto bad;
	errno = 0;
	n = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || (*end && *end != '.') || n < 0 ||
	    n > 65535 - 6000 || errno)
		goto bad;
	d->number = n;
	if (colon == name || (colon - name == 4 && !strncmp(name, "unix", 4)))
		return TRUE;
	if (name[0] == '/') {
		d->path = g_strndup(name, colon - name);
		return TRUE;
	}
	if (colon > name && colon[-1] == ':') {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_BAD_DISPLAY,
			    "display %s: DECnet is not supported", name);
		return FALSE;
	}
	d->host = g_strndup(name, colon - name);
	return TRUE;
bad:
	g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_BAD_DISPLAY,
		    "bad display name \"%s\" (expected e.g. \":0\")", name);
	return FALSE;
}

/* Looks up the user's cookie with libXau: for a local display by this host's
 * name (FamilyLocal), for TCP by the host's IPv4 address (FamilyInternet);
 * FamilyWild entries match either. */
static void display_find_cookie(XpDisplay *d)
{
	char num[16], hostname[256] = "";
	char *types[] = { DISPLAY_MIT_COOKIE };
	int type_lens[] = { strlen(DISPLAY_MIT_COOKIE) };
	unsigned short family = FamilyLocal;
	const char *addr = hostname;
	int addr_len;
	struct in_addr in4;
	Xauth *auth;

	g_snprintf(num, sizeof(num), "%d", d->number);
	gethostname(hostname, sizeof(hostname) - 1);
	addr_len = strlen(hostname);
	if (d->host && strcmp(d->host, "localhost") != 0 &&
	    inet_pton(AF_INET, d->host, &in4) == 1 &&
	    (ntohl(in4.s_addr) >> 24) != 127) {
		family = FamilyInternet;
		addr = (const char *)&in4;
		addr_len = 4;
	}
	auth = XauGetBestAuthByAddr(family, addr_len, addr, strlen(num), num,
				    1, types, type_lens);
	if (auth) {
		d->auth_name = g_bytes_new(auth->name, auth->name_length);
		d->auth_data = g_bytes_new(auth->data, auth->data_length);
		XauDisposeAuth(auth);
	} else {
		d->auth_name = g_bytes_new(NULL, 0);
		d->auth_data = g_bytes_new(NULL, 0);
	}
}

/* Parses NAME and finds its cookie. */
XpDisplay *display_new(const char *name, GError **error)
{
	g_autoptr(XpDisplay) d = g_new0(XpDisplay, 1);

	d->name = g_strdup(name);
	if (!display_parse(d, name, error))
		return NULL;
	display_find_cookie(d);
	return g_steal_pointer(&d);
}

/* The name as given. */
const char *display_name(const XpDisplay *display)
{
	return display->name;
}

/* Connects a unix stream socket to PATH; ABSTRACT puts it in the abstract
 * namespace.  Returns the socket or -1 (errno set). */
static int display_connect_unix(const char *path, gboolean abstract)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, saved;

	if (strlen(path) + 1 >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path + (abstract ? 1 : 0), path);
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path) +
	      (abstract ? 1 : 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Connects over TCP to HOST port 6000 + N.  Returns the socket or -1 with
 * ERROR set. */
static int display_connect_tcp(const char *host, int n, GError **error)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[16];
	int fd = -1, rc, saved = 0;

	g_snprintf(port, sizeof(port), "%d", 6000 + n);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_UNREACHABLE,
			    "cannot resolve display host %s: %s", host,
			    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_UNREACHABLE,
			    "cannot connect to %s:%d: %s", host, n,
			    g_strerror(saved));
	return fd;
}

/* Connects as libxcb does for local displays: the abstract socket first,
 * then the file under /tmp/.X11-unix. */
int display_connect(const XpDisplay *d, GError **error)
{
	int fd;

	if (d->host) {
		fd = display_connect_tcp(d->host, d->number, error);
	} else {
		g_autofree char *path = d->path ? g_strdup(d->path) :
				g_strdup_printf("/tmp/.X11-unix/X%d",
						d->number);
		fd = d->path ? -1 : display_connect_unix(path, TRUE);
		if (fd < 0)
			fd = display_connect_unix(path, FALSE);
		if (fd < 0) {
			int saved = errno;
			g_set_error(error, XPROXY_ERROR,
				    XPROXY_ERROR_UNREACHABLE,
				    "cannot open display %s: %s", d->name,
				    g_strerror(saved));
			return -1;
		}
	}
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* The set-up request with the user's cookie. */
GBytes *display_setup_request(const XpDisplay *d, guint16 major,
			      guint16 minor)
{
	gsize nn, nd;
	const guint8 *an = g_bytes_get_data(d->auth_name, &nn);
	const guint8 *ad = g_bytes_get_data(d->auth_data, &nd);
	gsize pn = (nn + 3) & ~3, pd = (nd + 3) & ~3;
	guint8 *r = g_malloc0(12 + pn + pd);

	r[0] = 'l';
	r[2] = major;
	r[3] = major >> 8;
	r[4] = minor;
	r[5] = minor >> 8;
	r[6] = nn;
	r[7] = nn >> 8;
	r[8] = nd;
	r[9] = nd >> 8;
	if (nn)
		memcpy(r + 12, an, nn);
	if (nd)
		memcpy(r + 12 + pn, ad, nd);
	return g_bytes_new_take(r, 12 + pn + pd);
}

/* Waits for FD to be ready for EVENTS until DEADLINE (monotonic µs). */
static gboolean display_wait(int fd, short events, gint64 deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;
		int n;

		if (left <= 0)
			return FALSE;
		n = poll(&p, 1, left);
		/* a signal (SIGCHLD in a daemon) is no timeout */
		if (n >= 0 || errno != EINTR)
			return n > 0;
	}
}

/* Writes all of DATA to non-blocking FD before DEADLINE (see display.h). */
gboolean display_write_all(int fd, const guint8 *data, gsize len,
			   gint64 deadline)
{
	while (len) {
		gssize n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && display_wait(fd, POLLOUT,
							      deadline))
			continue;
		if (n <= 0)
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

/* Reads exactly LEN bytes from non-blocking FD before DEADLINE (see
 * display.h). */
gboolean display_read_all(int fd, guint8 *data, gsize len, gint64 deadline)
{
	while (len) {
		gssize n = read(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && display_wait(fd, POLLIN,
							      deadline))
			continue;
		if (n <= 0)
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

/* A blocking set-up, with a deadline. */
gboolean display_check(const XpDisplay *d, int timeout_ms, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
	g_autoptr(GBytes) req = display_setup_request(d, 11, 0);
	g_autofree guint8 *extra = NULL;
	guint8 head[8];
	gsize len, n;
	gboolean ok = FALSE;
	int fd;

	const guint8 *data = g_bytes_get_data(req, &len);

	fd = display_connect(d, error);
	if (fd < 0)
		return FALSE;
	if (!display_write_all(fd, data, len, deadline) ||
	    !display_read_all(fd, head, 8, deadline)) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_UNREACHABLE,
			    "display %s does not answer", d->name);
		goto out;
	}
	n = (head[6] | head[7] << 8) * 4;
	extra = g_malloc(n + 1);
	if (!display_read_all(fd, extra, n, deadline)) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_UNREACHABLE,
			    "display %s: short set-up reply", d->name);
		goto out;
	}
	if (head[0] == 1) {
		ok = TRUE;
	} else {
		/* Failed: reason length in byte 1; Authenticate: the reason
		 * fills the additional data. */
		gsize rl = head[0] == 0 ? MIN(head[1], n) : n;
		while (rl && (extra[rl - 1] == '\n' || extra[rl - 1] == 0))
			rl--;
		extra[rl] = 0;
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_REFUSED,
			    "display %s refused the connection: %s", d->name,
			    rl ? (char *)extra : "no reason given");
	}
out:
	close(fd);
	return ok;
}

/* A quick connect to tell whether the server is still there. */
gboolean display_alive(const XpDisplay *display)
{
	int fd = display_connect(display, NULL);

	if (fd < 0)
		return FALSE;
	close(fd);
	return TRUE;
}
