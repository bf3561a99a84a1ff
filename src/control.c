/*
 * control.c: the control-socket protocol (see control.h for the format).
 */
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "src/control.h"

G_DEFINE_QUARK(xckpt-control-error-quark, control_error)

/* The most bytes control_reader_fill() reads per call. */
#define CONTROL_FILL_CHUNK 65536

/* Appends message TYPE with body BODY (LEN bytes) to OUT. */
void control_encode(GByteArray *out, guint32 type, const void *body,
		    gsize len)
{
	guint32 hdr[2] = { GUINT32_TO_LE(type), GUINT32_TO_LE((guint32)len) };

	g_assert(len <= CONTROL_MAX_BODY);
	g_byte_array_append(out, (const guint8 *)hdr, sizeof(hdr));
	if (len > 0)
		g_byte_array_append(out, body, len);
}

/* Appends message TYPE with the u32 body VALUE to OUT. */
void control_encode_u32(GByteArray *out, guint32 type, guint32 value)
{
	guint32 le = GUINT32_TO_LE(value);

	control_encode(out, type, &le, sizeof(le));
}

/* Reads the u32 at OFFSET of BODY; FALSE when BODY is too short. */
gboolean control_get_u32(GBytes *body, gsize offset, guint32 *value)
{
	gsize len;
	const guint8 *p = g_bytes_get_data(body, &len);
	guint32 le;

	if (len < offset + 4)
		return FALSE;
	memcpy(&le, p + offset, 4);
	*value = GUINT32_FROM_LE(le);
	return TRUE;
}

/* Writes all LEN bytes of DATA to blocking FD; FALSE with ERROR set. */
static gboolean control_write_all(int fd, const guint8 *data, gsize len,
				  GError **error)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			g_set_error(error, CONTROL_ERROR_DOMAIN,
				    e == EPIPE || e == ECONNRESET ?
				    CONTROL_ERROR_CLOSED : CONTROL_ERROR_IO,
				    "control socket write: %s", g_strerror(e));
			return FALSE;
		}
		data += n;
		len -= n;
	}
	return TRUE;
}

/* Sends one message on blocking FD; FALSE with ERROR set. */
gboolean control_send(int fd, guint32 type, const void *body, gsize len,
		      GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_sized_new(CONTROL_HEADER + len);

	control_encode(out, type, body, len);
	return control_write_all(fd, out->data, out->len, error);
}

/* Reads exactly LEN bytes from blocking FD into DATA; FALSE with ERROR set
 * (CONTROL_ERROR_CLOSED on EOF). */
static gboolean control_read_all(int fd, guint8 *data, gsize len,
				 GError **error)
{
	while (len > 0) {
		ssize_t n = read(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			g_set_error(error, CONTROL_ERROR_DOMAIN,
				    e == ECONNRESET ? CONTROL_ERROR_CLOSED :
				    CONTROL_ERROR_IO,
				    "control socket read: %s", g_strerror(e));
			return FALSE;
		}
		if (n == 0) {
			g_set_error(error, CONTROL_ERROR_DOMAIN,
				    CONTROL_ERROR_CLOSED,
				    "the session daemon closed the connection");
			return FALSE;
		}
		data += n;
		len -= n;
	}
	return TRUE;
}

/* Receives one message from blocking FD; FALSE with ERROR set. */
gboolean control_recv(int fd, guint32 *type, GBytes **body, GError **error)
{
	guint32 hdr[2];
	guint32 len;
	g_autofree guint8 *data = NULL;

	if (!control_read_all(fd, (guint8 *)hdr, sizeof(hdr), error))
		return FALSE;
	len = GUINT32_FROM_LE(hdr[1]);
	if (len > CONTROL_MAX_BODY) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_PROTOCOL,
			    "control message of %u bytes is too long", len);
		return FALSE;
	}
	data = g_malloc(len + 1);
	if (!control_read_all(fd, data, len, error))
		return FALSE;
	*type = GUINT32_FROM_LE(hdr[0]);
	*body = g_bytes_new_take(g_steal_pointer(&data), len);
	return TRUE;
}

/* Initializes READER. */
void control_reader_init(ControlReader *reader)
{
	reader->buf = g_byte_array_new();
}

/* Frees what READER holds. */
void control_reader_clear(ControlReader *reader)
{
	g_clear_pointer(&reader->buf, g_byte_array_unref);
}

/* Reads what non-blocking FD has into READER; sets *EOF at end of stream;
 * FALSE with ERROR set on a read error. */
gboolean control_reader_fill(ControlReader *reader, int fd, gboolean *eof,
			     GError **error)
{
	guint old = reader->buf->len;
	ssize_t n;

	*eof = FALSE;
	g_byte_array_set_size(reader->buf, old + CONTROL_FILL_CHUNK);
	do
		n = read(fd, reader->buf->data + old, CONTROL_FILL_CHUNK);
	while (n < 0 && errno == EINTR);
	g_byte_array_set_size(reader->buf, old + MAX(n, 0));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return TRUE;
	if (n < 0 && errno == ECONNRESET) {
		*eof = TRUE;
		return TRUE;
	}
	if (n < 0) {
		int e = errno;
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "control socket read: %s", g_strerror(e));
		return FALSE;
	}
	if (n == 0)
		*eof = TRUE;
	return TRUE;
}

/* Takes the next complete message out of READER (see control.h). */
gboolean control_reader_next(ControlReader *reader, guint32 *type,
			     GBytes **body, GError **error)
{
	guint32 hdr[2];
	guint32 len;

	if (reader->buf->len < CONTROL_HEADER)
		return FALSE;
	memcpy(hdr, reader->buf->data, sizeof(hdr));
	len = GUINT32_FROM_LE(hdr[1]);
	if (len > CONTROL_MAX_BODY) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_PROTOCOL,
			    "control message of %u bytes is too long", len);
		return FALSE;
	}
	if (reader->buf->len < CONTROL_HEADER + len)
		return FALSE;
	*type = GUINT32_FROM_LE(hdr[0]);
	*body = g_bytes_new(reader->buf->data + CONTROL_HEADER, len);
	g_byte_array_remove_range(reader->buf, 0, CONTROL_HEADER + len);
	return TRUE;
}

/* Fills ADDR with PATH; FALSE with ERROR set when PATH is too long. */
static gboolean control_addr(struct sockaddr_un *addr, const char *path,
			     GError **error)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path)) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "socket path %s is too long", path);
		return FALSE;
	}
	strcpy(addr->sun_path, path);
	return TRUE;
}

/* Connects to PATH; returns a blocking fd or -1 with ERROR set. */
/* Connects to PATH, without waiting for room in the listener's backlog when
 * NOWAIT (see control_connect_nowait()).  Returns a blocking fd or -1 with
 * ERROR set. */
static int control_connect_mode(const char *path, gboolean nowait,
				GError **error)
{
	struct sockaddr_un addr;
	int fd;

	if (!control_addr(&addr, path, error))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
		    (nowait ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "socket: %s", g_strerror(e));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		g_set_error(error, CONTROL_ERROR_DOMAIN,
			    e == ENOENT || e == ECONNREFUSED ?
			    CONTROL_ERROR_NO_DAEMON : e == EAGAIN ?
			    CONTROL_ERROR_BUSY : CONTROL_ERROR_IO,
			    "cannot connect to %s: %s", path, g_strerror(e));
		return -1;
	}
	if (nowait && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "fcntl: %s", g_strerror(e));
		return -1;
	}
	return fd;
}

int control_connect(const char *path, GError **error)
{
	return control_connect_mode(path, FALSE, error);
}

int control_connect_nowait(const char *path, GError **error)
{
	return control_connect_mode(path, TRUE, error);
}

/* Locks the directory holding PATH (see control.h); returns the lock fd or
 * -1 with ERROR set. */
int control_lock_dir(const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "cannot open %s: %s", dir, g_strerror(e));
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		close(fd);
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "cannot lock %s: %s", dir, g_strerror(e));
		return -1;
	}
	return fd;
}

/* Whether nothing listens at PATH (see control.h). */
gboolean control_stale(const char *path)
{
	g_autoptr(GError) e = NULL;
	int fd = control_connect(path, &e);

	if (fd >= 0) {
		close(fd);
		return FALSE;
	}
	return g_error_matches(e, CONTROL_ERROR_DOMAIN,
			       CONTROL_ERROR_NO_DAEMON);
}

/* Binds and listens at PATH, replacing a stale socket; the caller holds the
 * directory lock.  Returns a non-blocking fd or -1 with ERROR set. */
static int control_bind_listen(const char *path, GError **error)
{
	struct sockaddr_un addr;
	mode_t old_umask;
	int fd;

	if (!control_addr(&addr, path, error))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "socket: %s", g_strerror(e));
		return -1;
	}
	for (int attempt = 0;; attempt++) {
		int rc, be;

		old_umask = umask(0177);
		rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
		be = errno;
		umask(old_umask);
		if (rc == 0)
			break;
		if (be != EADDRINUSE) {
			g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
				    "cannot bind %s: %s", path, g_strerror(be));
			goto fail;
		}
		/* Taken: by a live daemon, or left by a dead one? */
		if (attempt > 0 || !control_stale(path)) {
			g_set_error(error, CONTROL_ERROR_DOMAIN,
				    CONTROL_ERROR_IN_USE,
				    "%s is in use by a live session", path);
			goto fail;
		}
		g_unlink(path);
	}
	if (listen(fd, 16) < 0) {
		int e = errno;
		g_unlink(path);
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "cannot listen on %s: %s", path, g_strerror(e));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Creates a listening socket at PATH under the directory lock; returns a
 * non-blocking fd or -1 with ERROR set. */
int control_listen(const char *path, GError **error)
{
	/* Bind and listen as one step for every other starter, so that a
	 * socket nobody listens on is a dead daemon's. */
	int lock = control_lock_dir(path, error);
	int fd;

	if (lock < 0)
		return -1;
	fd = control_bind_listen(path, error);
	close(lock);
	return fd;
}

/* Replaces the listening socket OLD_FD at PATH with a new one, under the
 * directory lock; returns the new fd or -1 with ERROR set. */
int control_relisten(const char *path, int old_fd, GError **error)
{
	int lock = control_lock_dir(path, error);
	int fd;

	if (lock < 0)
		return -1;
	if (old_fd >= 0)
		close(old_fd);
	g_unlink(path);
	fd = control_bind_listen(path, error);
	close(lock);
	return fd;
}

/* Waits for the daemon's answer to a HELLO already sent on blocking FD;
 * FALSE with a one-line ERROR. */
gboolean control_hello_reply(int fd, pid_t *pid, GError **error)
{
	g_autoptr(GBytes) body = NULL;
	guint32 type, version, dpid;

	if (!control_recv(fd, &type, &body, error))
		return FALSE;
	if (type == CONTROL_ERROR) {
		gsize len;
		const char *text = g_bytes_get_data(body, &len);
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_REFUSED,
			    "session daemon: %.*s", (int)len, text);
		return FALSE;
	}
	if (type != CONTROL_HELLO || !control_get_u32(body, 0, &version) ||
	    !control_get_u32(body, 4, &dpid)) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_PROTOCOL,
			    "session daemon answered %s to HELLO",
			    control_type_name(type));
		return FALSE;
	}
	if (version != CONTROL_VERSION) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_VERSION,
			    "session daemon speaks control protocol version %u, "
			    "this xckpt speaks %u", version, CONTROL_VERSION);
		return FALSE;
	}
	if (pid != NULL)
		*pid = dpid;
	return TRUE;
}

/* Exchanges HELLOs on blocking FD; FALSE with a one-line ERROR. */
gboolean control_hello(int fd, guint32 flags, pid_t *pid, GError **error)
{
	guint32 hello[2] = { GUINT32_TO_LE(CONTROL_VERSION),
			     GUINT32_TO_LE(flags) };

	if (!control_send(fd, CONTROL_HELLO, hello, sizeof(hello), error))
		return FALSE;
	return control_hello_reply(fd, pid, error);
}

/* Connects to PATH and says HELLO; returns the fd or -1 with ERROR set. */
int control_open(const char *path, guint32 flags, GError **error)
{
	int fd = control_connect(path, error);

	if (fd < 0)
		return -1;
	if (!control_hello(fd, flags, NULL, error)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Returns the name of message TYPE (static string). */
const char *control_type_name(guint32 type)
{
	switch (type) {
	case CONTROL_HELLO: return "HELLO";
	case CONTROL_ERROR: return "ERROR";
	case CONTROL_DONE: return "DONE";
	case CONTROL_OUTPUT: return "OUTPUT";
	case CONTROL_EXIT: return "EXIT";
	case CONTROL_SIGNAL: return "SIGNAL";
	case CONTROL_KILL: return "KILL";
	case CONTROL_INFO: return "INFO";
	case CONTROL_CHECKPOINT: return "CHECKPOINT";
	case CONTROL_PAUSE: return "PAUSE";
	case CONTROL_RESUME: return "RESUME";
	case CONTROL_ATTACH: return "ATTACH";
	case CONTROL_INPUT: return "INPUT";
	case CONTROL_RESIZE: return "RESIZE";
	case CONTROL_DETACH: return "DETACH";
	case CONTROL_REDRAW: return "REDRAW";
	default: return "unknown";
	}
}
