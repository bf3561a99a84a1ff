/*
 * xproxy.c: the proxy object: listening as display :N, the private cookie,
 * and the set of client connections (see xproxy.h for the public interface).
 *
 * Like an X server, the proxy claims a display number with the lock file
 * /tmp/.XN-lock (created exclusively; a lock whose process is gone is
 * stale and taken over), then listens on /tmp/.X11-unix/XN and on the
 * abstract socket of the same name.  It never listens on TCP.  Its
 * MIT-MAGIC-COOKIE-1 is 16 random bytes, written with libXau into a private
 * Xauthority file (mode 0600) for FamilyLocal (this host) and FamilyWild, so
 * any client library finds it.
 *
 * When an upstream connection closes, the proxy cannot tell from that alone
 * whether the server went away or just closed that one client (KillClient),
 * so it checks shortly after that the display still accepts connections;
 * only when it does not (or when a server sent garbage) are all clients
 * closed and the lost function called.
 *
 * Threads.  The proxy runs on a thread of its own with its own epoll loop
 * (loop.h): the session daemon's main loop polls a dozen other fds, which
 * made every X round trip pay for them.  Everything of the proxy (the
 * listening sockets, the connections, their records) lives on that thread;
 * the public functions below, called from the owner's thread, run their
 * work there with loop_call() and wait for it, and the lost function is
 * handed back to the owner's main context.  So no state is ever shared
 * between two running threads, and a checkpoint's quiesce parks the proxy
 * thread in epoll_wait() with nothing of a parked connection in its set.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <X11/Xauth.h>

#include "xproxy/conn.h"
#include "xproxy/display.h"
#include "xproxy/hooks.h"
#include "xproxy/log.h"
#include "xproxy/loop.h"
#include "xproxy/remap.h"
#include "xproxy/xlate.h"
#include "xproxy/xproxy.h"

/* The first display number tried when none is given, and the last. */
#define XPROXY_FIRST_DISPLAY 100
#define XPROXY_LAST_DISPLAY 999
/* The length of the cookie. */
#define XPROXY_COOKIE_LEN 16
/* How long the upstream check at start may take. */
#define XPROXY_CHECK_TIMEOUT_MS 5000
/* Delay before checking whether the upstream server is still there after
 * one of its connections closed. */
#define XPROXY_ALIVE_DELAY_MS 100

struct XProxy {
	GMainContext *context;	/* the owner's context, where the lost
				 * function is called (a reference) */
	XpLoop *loop;		/* where everything else runs, on the
				 * proxy's thread (owned) */
	XpDisplay *upstream;	/* the upstream display (owned) */
	int number;		/* our display number, -1 before one is got */
	char *name;		/* ":N" (owned) */
	char *lock_path;	/* /tmp/.XN-lock, NULL if not taken (owned) */
	char *socket_path;	/* /tmp/.X11-unix/XN, NULL if not bound */
	int fd;			/* listening socket on socket_path, or -1 */
	int afd;		/* listening abstract socket, or -1 */
	XpWatch *src;		/* watch on fd (owned) */
	XpWatch *asrc;		/* watch on afd (owned) */
	guint8 cookie[XPROXY_COOKIE_LEN]; /* our MIT-MAGIC-COOKIE-1 */
	char *xauthority;	/* the private Xauthority file (owned) */
	GPtrArray *conns;	/* open connections (XpConn, owned) */
	guint next_id;		/* number of the next connection */
	XProxyLostFn lost_fn;	/* called when the server is lost */
	gpointer lost_ud;	/* its user data */
	gboolean lost;		/* the server has been lost */
	XpTimer *alive_src;	/* pending upstream check, or NULL (owned) */
	GSource *lost_src;	/* the call of lost_fn queued on context, or
				 * NULL (owned; under lost_lock: the proxy's
				 * thread sets it, the owner's clears it) */
	char *lost_why;		/* its message (owned; under lost_lock) */
	GMutex lost_lock;	/* guards lost_src and lost_why */
	gboolean clock_known;	/* clock_server and clock_mono are set */
	guint32 clock_server;	/* the upstream server's time (ms) when it was
				 * last read */
	gint64 clock_mono;	/* our monotonic time (us) then */
	gboolean ckpt_known;	/* ckpt_time is set */
	guint32 ckpt_time;	/* the server's time at the last quiesce */
};

/*
 * X timestamps after a restart.  A server's time is its own clock (on Linux
 * CLOCK_MONOTONIC in ms: it starts near 0 after a reboot, and another
 * machine's is unrelated).  An app restarted on a server whose clock is
 * behind would see time go back, and a timestamp it kept (the last user
 * event's, for SetInputFocus or SetSelectionOwner) would lie in the
 * server's future, where the server ignores such requests.  So the maps
 * carry a time offset: at a restart the client's clock goes on from the
 * server time at the checkpoint.  The proxy reads the server's time once at
 * start and after each reconnect (remap_server_time(): one short connection
 * of its own), and extrapolates it with the monotonic clock: the quiesce
 * costs no X round trip for it.
 */

/* Reads display D's clock into PROXY; logs and forgets it on failure. */
static void xproxy_read_clock(XProxy *proxy, const XpDisplay *d)
{
	g_autoptr(GError) error = NULL;

	proxy->clock_known = remap_server_time(d, XPROXY_CHECK_TIMEOUT_MS,
					       &proxy->clock_server, &error);
	proxy->clock_mono = g_get_monotonic_time();
	if (!proxy->clock_known)
		log_msg("cannot read the time of %s: %s", display_name(d),
			error->message);
}

/* The upstream server's time now, extrapolated from the last reading. */
static guint32 xproxy_server_now(const XProxy *proxy)
{
	return proxy->clock_server +
	       (guint32)((g_get_monotonic_time() - proxy->clock_mono) / 1000);
}

G_DEFINE_QUARK(xproxy-error-quark, xproxy_error)

/* Removes the sockets, the lock and the cookie file that PROXY made. */
static void xproxy_unlink(XProxy *proxy)
{
	if (proxy->socket_path)
		unlink(proxy->socket_path);
	if (proxy->lock_path)
		unlink(proxy->lock_path);
	if (proxy->xauthority)
		unlink(proxy->xauthority);
}

/* Frees what lives on the proxy's loop: the timer, the watches (before
 * their sockets close) and the connections.  Runs on the proxy's thread. */
static void xproxy_teardown(gpointer ud)
{
	XProxy *proxy = ud;

	g_clear_pointer(&proxy->alive_src, loop_timer_free);
	g_clear_pointer(&proxy->src, loop_watch_free);
	g_clear_pointer(&proxy->asrc, loop_watch_free);
	if (proxy->fd >= 0)
		close(proxy->fd);
	if (proxy->afd >= 0)
		close(proxy->afd);
	if (proxy->conns)
		g_ptr_array_free(proxy->conns, TRUE);
	proxy->conns = NULL;
}

/* Stops listening, closes every connection, stops the proxy's thread,
 * removes what the proxy made and frees it. */
void xproxy_free(XProxy *proxy)
{
	if (!proxy)
		return;
	if (proxy->loop) {
		loop_call(proxy->loop, xproxy_teardown, proxy);
		loop_free(proxy->loop);
	} else {
		xproxy_teardown(proxy);
	}
	/* (the proxy's thread is gone: no lock needed) */
	if (proxy->lost_src) {
		g_source_destroy(proxy->lost_src);
		g_source_unref(proxy->lost_src);
	}
	g_free(proxy->lost_why);
	g_mutex_clear(&proxy->lost_lock);
	xproxy_unlink(proxy);
	display_free(proxy->upstream);
	g_free(proxy->name);
	g_free(proxy->lock_path);
	g_free(proxy->socket_path);
	g_free(proxy->xauthority);
	if (proxy->context)
		g_main_context_unref(proxy->context);
	g_free(proxy);
}

/* Takes the X lock file of display N.  A lock held by a process that no
 * longer exists is removed and taken.  Returns FALSE when N is in use. */
static gboolean xproxy_lock(XProxy *proxy, int n)
{
	g_autofree char *path = g_strdup_printf("/tmp/.X%d-lock", n);
	char pid[16];

	for (int tries = 0; tries < 2; tries++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0444);
		if (fd >= 0) {
			int len = g_snprintf(pid, sizeof(pid), "%10d\n",
					     (int)getpid());
			gboolean ok = write(fd, pid, len) == len;
			close(fd);
			if (!ok) {
				unlink(path);
				return FALSE;
			}
			proxy->lock_path = g_steal_pointer(&path);
			return TRUE;
		}
		if (errno != EEXIST)
			return FALSE;
		/* stale? */
		g_autofree char *text = NULL;
		long other;
		if (!g_file_get_contents(path, &text, NULL, NULL))
			return FALSE;
		other = strtol(text, NULL, 10);
		if (other <= 0 || kill(other, 0) == 0 || errno != ESRCH)
			return FALSE;
		log_debug("removing stale lock %s of pid %ld", path, other);
		unlink(path);
	}
	return FALSE;
}

/* Creates a listening unix socket on PATH (in the abstract namespace when
 * ABSTRACT).  Returns it or -1 (errno set). */
static int xproxy_listen(const char *path, gboolean abstract)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(path) +
			(abstract ? 1 : 0);
	int fd, saved;

	strcpy(sun.sun_path + (abstract ? 1 : 0), path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (!abstract)
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, len) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!abstract)
		chmod(path, 0777);
	return fd;
}

/* Claims display N: the lock, then both sockets.  Returns FALSE (having
 * undone its steps) when N is taken. */
static gboolean xproxy_claim(XProxy *proxy, int n)
{
	g_autofree char *path = g_strdup_printf("/tmp/.X11-unix/X%d", n);

	if (!xproxy_lock(proxy, n))
		return FALSE;
	proxy->afd = xproxy_listen(path, TRUE);
	if (proxy->afd >= 0)
		proxy->fd = xproxy_listen(path, FALSE);
	if (proxy->afd < 0 || proxy->fd < 0) {
		log_debug("display :%d: cannot listen: %s", n,
			  g_strerror(errno));
		if (proxy->afd >= 0)
			close(proxy->afd);
		proxy->afd = -1;
		unlink(proxy->lock_path);
		g_clear_pointer(&proxy->lock_path, g_free);
		return FALSE;
	}
	proxy->socket_path = g_steal_pointer(&path);
	proxy->number = n;
	proxy->name = g_strdup_printf(":%d", n);
	return TRUE;
}

static gboolean xproxy_write_xauth(XProxy *proxy, const char *path,
				   GError **error);

/* Makes the cookie and writes the private Xauthority file. */
static gboolean xproxy_write_cookie(XProxy *proxy, const char *path,
				    GError **error)
{
	if (getrandom(proxy->cookie, sizeof(proxy->cookie), 0) !=
	    sizeof(proxy->cookie)) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "cannot make a cookie: %s", g_strerror(errno));
		return FALSE;
	}
	return xproxy_write_xauth(proxy, path, error);
}

/* Writes the private Xauthority file with PROXY's cookie: at PATH, or at a
 * new file in the temporary directory when PATH is NULL (its name goes to
 * proxy->xauthority). */
static gboolean xproxy_write_xauth(XProxy *proxy, const char *path,
				   GError **error)
{
	char host[256] = "", num[16];
	int fd;
	FILE *f;
	gboolean ok;

	if (path) {
		if (proxy->xauthority != path) {
			g_free(proxy->xauthority);
			proxy->xauthority = g_strdup(path);
		}
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	} else {
		proxy->xauthority = g_build_filename(g_get_tmp_dir(),
						     "xckpt-xauth-XXXXXX",
						     NULL);
		fd = g_mkstemp_full(proxy->xauthority, O_WRONLY | O_CLOEXEC,
				    0600);
	}
	if (fd < 0 || fchmod(fd, 0600) < 0) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "cannot write %s: %s", proxy->xauthority,
			    g_strerror(errno));
		if (fd >= 0)
			close(fd);
		g_clear_pointer(&proxy->xauthority, g_free);
		return FALSE;
	}
	f = fdopen(fd, "w");
	gethostname(host, sizeof(host) - 1);
	g_snprintf(num, sizeof(num), "%d", proxy->number);
	Xauth local = {
		.family = FamilyLocal,
		.address_length = strlen(host), .address = host,
		.number_length = strlen(num), .number = num,
		.name_length = 18, .name = (char *)"MIT-MAGIC-COOKIE-1",
		.data_length = sizeof(proxy->cookie),
		.data = (char *)proxy->cookie,
	};
	Xauth wild = local;
	wild.family = FamilyWild;
	wild.address_length = 0;
	wild.address = (char *)"";
	ok = XauWriteAuth(f, &local) == 1 && XauWriteAuth(f, &wild) == 1;
	if (fclose(f) != 0)
		ok = FALSE;
	if (!ok)
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "cannot write %s", proxy->xauthority);
	return ok;
}

/* On the owner's context: calls the lost function.  PROXY may be freed by
 * it: nothing touches it afterwards. */
static gboolean xproxy_lost_call(gpointer ud)
{
	XProxy *proxy = ud;
	g_autofree char *why = NULL;

	g_mutex_lock(&proxy->lost_lock);
	why = g_steal_pointer(&proxy->lost_why);
	g_clear_pointer(&proxy->lost_src, g_source_unref);
	g_mutex_unlock(&proxy->lost_lock);
	if (proxy->lost_fn)
		proxy->lost_fn(proxy->lost_ud, why);
	return G_SOURCE_REMOVE;
}

/* Closes every connection and has the owner told, on its own context, that
 * the server is lost (once). */
static void xproxy_lose(XProxy *proxy, const char *why)
{
	if (proxy->lost)
		return;
	proxy->lost = TRUE;
	log_msg("upstream display %s lost (%s); closing %u client(s)",
		display_name(proxy->upstream), why, proxy->conns->len);
	g_ptr_array_set_size(proxy->conns, 0);
	g_mutex_lock(&proxy->lost_lock);
	if (!proxy->lost_src) {
		proxy->lost_why = g_strdup(why);
		proxy->lost_src = g_idle_source_new();
		g_source_set_callback(proxy->lost_src, xproxy_lost_call, proxy,
				      NULL);
		g_source_attach(proxy->lost_src, proxy->context);
	}
	g_mutex_unlock(&proxy->lost_lock);
}

/* Timer: the upstream check after a server connection closed. */
static void xproxy_alive_check(gpointer data)
{
	XProxy *proxy = data;

	proxy->alive_src = NULL;	/* the loop frees it */
	if (!display_alive(proxy->upstream))
		xproxy_lose(proxy, "the server went away");
}

/* A connection has ended: frees it; for a server-side end, checks the
 * server (garbage: loses it at once). */
static void xproxy_conn_end(gpointer ud, XpConn *conn, ConnEnd end,
			    const char *why)
{
	XProxy *proxy = ud;

	log_debug("client %u ended: %s", conn_id(conn), why);
	g_ptr_array_remove_fast(proxy->conns, conn);	/* frees it */
	if (end == CONN_END_GARBAGE) {
		g_autofree char *msg = g_strdup_printf("it sent garbage: %s",
						       why);
		xproxy_lose(proxy, msg);
	} else if (end == CONN_END_SERVER && !proxy->alive_src &&
		   !proxy->lost) {
		proxy->alive_src = loop_timer_new(proxy->loop,
						  XPROXY_ALIVE_DELAY_MS,
						  xproxy_alive_check, proxy);
	}
}

/* Accepts every client waiting on listening socket FD. */
static void xproxy_accept(XProxy *proxy, int fd)
{
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_msg("accept: %s", g_strerror(errno));
			break;
		}
		XpConnParams params = {
			.loop = proxy->loop,
			.upstream = proxy->upstream,
			.cookie = proxy->cookie,
			.cookie_len = sizeof(proxy->cookie),
			.end_fn = xproxy_conn_end,
			.ud = proxy,
			.id = ++proxy->next_id,
		};
		g_ptr_array_add(proxy->conns, conn_new(cfd, &params));
		log_debug("client %u connected", proxy->next_id);
	}
}

/* The unix socket's watch fired. */
static void xproxy_on_listen(gpointer ud, guint32 revents)
{
	XProxy *proxy = ud;

	xproxy_accept(proxy, proxy->fd);
}

/* The abstract socket's watch fired. */
static void xproxy_on_alisten(gpointer ud, guint32 revents)
{
	XProxy *proxy = ud;

	xproxy_accept(proxy, proxy->afd);
}

/* Whether environment variable NAME is set to something other than 0. */
static gboolean xproxy_env_on(const char *name)
{
	const char *v = g_getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

/* Reads the test and debugging switches: XCKPT_XPROXY_WALK=1 walks every
 * message even when the maps are the identity (validation);
 * XCKPT_XPROXY_REMAP=1 gives clients resource IDs and extension codes other
 * than the server's (exercises the translation on one live server; implies
 * walking). */
static void xproxy_read_env(void)
{
	conn_remap_xids = xproxy_env_on("XCKPT_XPROXY_REMAP");
	hooks_remap_exts = conn_remap_xids;
	xlate_walk_always = xproxy_env_on("XCKPT_XPROXY_WALK");
}

/* Starts a proxy; see xproxy.h. */
XProxy *xproxy_new(const XProxyConfig *config, GError **error)
{
	g_autoptr(XProxy) proxy = g_new0(XProxy, 1);
	const char *upstream = config->upstream ? config->upstream :
						  g_getenv("DISPLAY");
	int first, last;

	log_init();
	xproxy_read_env();
	g_mutex_init(&proxy->lost_lock);
	proxy->fd = proxy->afd = -1;
	proxy->number = -1;
	proxy->conns = g_ptr_array_new_with_free_func((GDestroyNotify)conn_free);
	proxy->context = config->context ? g_main_context_ref(config->context)
					 : g_main_context_ref(
						   g_main_context_default());
	proxy->loop = loop_new(error);
	if (!proxy->loop)
		return NULL;
	if (!upstream || !*upstream) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_BAD_DISPLAY,
			    "no display to connect to: DISPLAY is not set");
		return NULL;
	}
	proxy->upstream = display_new(upstream, error);
	if (!proxy->upstream ||
	    !display_check(proxy->upstream, XPROXY_CHECK_TIMEOUT_MS, error))
		return NULL;
	xproxy_read_clock(proxy, proxy->upstream);
	mkdir("/tmp/.X11-unix", 01777);
	first = config->display >= 0 ? config->display : XPROXY_FIRST_DISPLAY;
	last = config->display >= 0 ? config->display : XPROXY_LAST_DISPLAY;
	for (int n = first; n <= last && proxy->number < 0; n++)
		xproxy_claim(proxy, n);
	if (proxy->number < 0) {
		if (config->display >= 0)
			g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_IN_USE,
				    "display :%d is in use", config->display);
		else
			g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_IN_USE,
				    "no free display number from :%d to :%d",
				    first, last);
		return NULL;
	}
	if (!xproxy_write_cookie(proxy, config->xauthority, error))
		return NULL;
	proxy->src = loop_watch_new(proxy->loop, proxy->fd, LOOP_IN,
				    xproxy_on_listen, proxy);
	proxy->asrc = loop_watch_new(proxy->loop, proxy->afd, LOOP_IN,
				     xproxy_on_alisten, proxy);
	if (!loop_start(proxy->loop, "xproxy", error))
		return NULL;
	log_debug("listening as %s for %s", proxy->name, upstream);
	return g_steal_pointer(&proxy);
}

/* Sets the lost function. */
void xproxy_set_lost_fn(XProxy *proxy, XProxyLostFn fn, gpointer ud)
{
	proxy->lost_fn = fn;
	proxy->lost_ud = ud;
}

/* ":N". */
const char *xproxy_display_name(XProxy *proxy)
{
	return proxy->name;
}

/* N. */
int xproxy_display_number(XProxy *proxy)
{
	return proxy->number;
}

/* The private Xauthority file. */
const char *xproxy_xauthority(XProxy *proxy)
{
	return proxy->xauthority;
}

/* The upstream display name. */
const char *xproxy_upstream(XProxy *proxy)
{
	return display_name(proxy->upstream);
}

/* The arguments and results of a public function's work on the proxy's
 * thread (loop_call()). */
typedef struct {
	XProxy *proxy;		/* the proxy */
	int timeout_ms;		/* quiesce, reconnect: the time allowed */
	const char *display;	/* reconnect: the new display */
	GKeyFile *kf;		/* describe: where to write */
	const char *group;	/* describe: its group */
	GError **error;		/* where a failure goes */
	gboolean ok;		/* the result */
	guint n;		/* n_clients: the result */
	char **strv;		/* externals: the result (caller's) */
} XproxyCall;

/* Counts the open connections (on the proxy's thread). */
static void xproxy_do_n_clients(gpointer ud)
{
	XproxyCall *a = ud;

	a->n = a->proxy->conns->len;
}

/* Lists CRIU's names of the server connections (on the proxy's thread). */
static void xproxy_do_externals(gpointer ud)
{
	XproxyCall *a = ud;
	XProxy *proxy = a->proxy;
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; i < proxy->conns->len; i++) {
		int fd = conn_server_fd(g_ptr_array_index(proxy->conns, i));
		struct stat st;

		if (fd >= 0 && fstat(fd, &st) == 0)
			g_ptr_array_add(out, g_strdup_printf("unix[%lu]",
						(unsigned long)st.st_ino));
	}
	g_ptr_array_add(out, NULL);
	a->strv = (char **)g_ptr_array_free(out, FALSE);
}

/* Quiesces every connection (on the proxy's thread, running its loop
 * nested until the answers are in or the deadline). */
static void xproxy_do_quiesce(gpointer ud)
{
	XproxyCall *a = ud;
	XProxy *proxy = a->proxy;
	gint64 deadline = g_get_monotonic_time() + a->timeout_ms * 1000LL;
	guint waiting = 0;

	for (guint i = 0; i < proxy->conns->len; i++)
		conn_quiesce(g_ptr_array_index(proxy->conns, i));
	for (;;) {
		gint64 left;

		waiting = 0;
		for (guint i = 0; i < proxy->conns->len; i++) {
			XpConn *c = g_ptr_array_index(proxy->conns, i);
			guint w = conn_waiting(c);
			/* one in the middle of a streamed request: again */
			if (w && conn_quiesce(c))
				w = conn_waiting(c);
			waiting += w;
		}
		left = deadline - g_get_monotonic_time();
		if (!waiting || left <= 0)
			break;
		loop_iterate(proxy->loop, (int)MAX((left + 999) / 1000, 1));
	}
	a->ok = !waiting;
	if (waiting)
		g_set_error(a->error, XPROXY_ERROR, XPROXY_ERROR_UNREACHABLE,
			    "upstream display %s: %u answer(s) still missing "
			    "after %d ms", display_name(proxy->upstream),
			    waiting, a->timeout_ms);
	else {
		proxy->ckpt_known = proxy->clock_known;
		proxy->ckpt_time = xproxy_server_now(proxy);
		for (guint i = 0; i < proxy->conns->len; i++)
			conn_release(g_ptr_array_index(proxy->conns, i));
	}
}

/* Unpauses every connection (on the proxy's thread). */
static void xproxy_do_resume(gpointer ud)
{
	XproxyCall *a = ud;

	for (guint i = 0; i < a->proxy->conns->len; i++)
		conn_unpause(g_ptr_array_index(a->proxy->conns, i));
}

/* Moves every connection to the new display (on the proxy's thread). */
static void xproxy_do_reconnect(gpointer ud)
{
	XproxyCall *a = ud;
	XProxy *proxy = a->proxy;
	g_autoptr(XpDisplay) d = display_new(a->display, a->error);
	gboolean ok = TRUE;
	guint32 shift = 0;

	a->ok = FALSE;
	if (!d)
		return;
	xproxy_read_clock(proxy, d);
	if (proxy->clock_known && proxy->ckpt_known)
		shift = proxy->clock_server - proxy->ckpt_time;
	for (guint i = 0; i < proxy->conns->len; i++) {
		XpConn *c = g_ptr_array_index(proxy->conns, i);
		g_autoptr(GError) e = NULL;

		if (conn_reconnect(c, d, a->timeout_ms, shift, &e))
			continue;
		log_msg("client %u: %s", conn_id(c), e->message);
		if (ok)
			g_propagate_error(a->error, g_steal_pointer(&e));
		ok = FALSE;
	}
	/* Connections that failed still point at the old display (they end
	 * when their placeholder socket closes): it is kept then, a few
	 * bytes. */
	if (ok)
		display_free(proxy->upstream);
	proxy->upstream = g_steal_pointer(&d);
	proxy->lost = FALSE;
	a->ok = ok;
}

/* The number of open connections. */
guint xproxy_n_clients(XProxy *proxy)
{
	XproxyCall a = { .proxy = proxy };

	loop_call(proxy->loop, xproxy_do_n_clients, &a);
	return a.n;
}

/* CRIU's names of the proxy's server connections (see xproxy.h). */
char **xproxy_externals(XProxy *proxy)
{
	XproxyCall a = { .proxy = proxy };

	loop_call(proxy->loop, xproxy_do_externals, &a);
	return a.strv;
}

/* Quiesces every client connection for a checkpoint (see xproxy.h). */
gboolean xproxy_quiesce(XProxy *proxy, int timeout_ms, GError **error)
{
	XproxyCall a = { .proxy = proxy, .timeout_ms = timeout_ms,
			 .error = error };

	loop_call(proxy->loop, xproxy_do_quiesce, &a);
	return a.ok;
}

/* Lets every client connection go on after a quiesce. */
void xproxy_resume(XProxy *proxy)
{
	XproxyCall a = { .proxy = proxy };

	loop_call(proxy->loop, xproxy_do_resume, &a);
}

/* Moves every client connection to DISPLAY after a restore (see
 * xproxy.h). */
gboolean xproxy_reconnect(XProxy *proxy, const char *display, int timeout_ms,
			  GError **error)
{
	XproxyCall a = { .proxy = proxy, .display = display,
			 .timeout_ms = timeout_ms, .error = error };

	loop_call(proxy->loop, xproxy_do_reconnect, &a);
	return a.ok;
}

/* Writes the private Xauthority file again (see xproxy.h). */
gboolean xproxy_rewrite_xauthority(XProxy *proxy, GError **error)
{
	return xproxy_write_xauth(proxy, proxy->xauthority, error);
}

/* Writes what a restart must find (on the proxy's thread). */
static void xproxy_do_describe(gpointer ud)
{
	XproxyCall *a = ud;
	XProxy *proxy = a->proxy;
	GKeyFile *kf = a->kf;
	const char *group = a->group;
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	GBytes *setup = NULL;

	for (guint i = 0; i < proxy->conns->len; i++) {
		XpConn *c = g_ptr_array_index(proxy->conns, i);
		XpMap *map = conn_map(c);

		if (!setup)
			setup = conn_setup_reply(c);
		for (guint k = 0; k < xmap_n_exts(map); k++) {
			guint8 cm, ce, cr;
			const char *n = proto_ext_name(
				xmap_ext_nth(map, k, &cm, &ce, &cr));
			gboolean seen = FALSE;
			for (guint j = 0; j < names->len; j++)
				seen |= strcmp(names->pdata[j], n) == 0;
			if (!seen)
				g_ptr_array_add(names, (gpointer)n);
		}
	}
	g_key_file_set_string_list(kf, group, "extensions",
				   (const char *const *)names->pdata,
				   names->len);
	if (setup) {
		gsize len;
		const guint8 *p = g_bytes_get_data(setup, &len);
		g_autofree char *b64 = g_base64_encode(p, len);
		g_key_file_set_string(kf, group, "setup", b64);
	}
}

/* What a restart must find on a display (see xproxy.h). */
void xproxy_describe(XProxy *proxy, GKeyFile *kf, const char *group)
{
	XproxyCall a = { .proxy = proxy, .kf = kf, .group = group };

	loop_call(proxy->loop, xproxy_do_describe, &a);
}

/* Checks a display before a restart (see xproxy.h). */
gboolean xproxy_check_display(const char *display, const char *setup_b64,
			      const char *const *exts, GError **error)
{
	g_autoptr(XpDisplay) d = display_new(display, error);
	g_autofree guint8 *setup = NULL;
	gsize len = 0;

	if (!d)
		return FALSE;
	if (setup_b64)
		setup = g_base64_decode(setup_b64, &len);
	return remap_check(d, setup, len, exts, XPROXY_CHECK_TIMEOUT_MS,
			   error);
}
