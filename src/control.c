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

/* The most fds one read takes in. */
#define CONTROL_MAX_FDS 4

/* Reads up to LEN bytes from FD into DATA like recv(FLAGS), and appends the
 * fds that came with them (SCM_RIGHTS, made close-on-exec) to FDS, or
 * closes them when FDS is NULL.  Returns what recvmsg() returns. */
static ssize_t control_recvmsg(int fd, void *data, gsize len, int flags,
			       GArray *fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(CONTROL_MAX_FDS * sizeof(int))];
	} ctl;
	struct iovec iov = { data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(fd, &msg, flags | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
	     c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		gsize k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (gsize i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
			if (fds != NULL)
				g_array_append_val(fds, got);
			else
				close(got);
		}
	}
	return n;
}

/* Reads exactly LEN bytes from blocking FD into DATA, keeping the fds that
 * come with them in FDS (closing them when NULL); FALSE with ERROR set
 * (CONTROL_ERROR_CLOSED on EOF). */
static gboolean control_read_all(int fd, guint8 *data, gsize len,
				 GArray *fds, GError **error)
{
	while (len > 0) {
		ssize_t n = control_recvmsg(fd, data, len, 0, fds);

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

/* Receives one message from blocking FD, with the fds that came with it
 * in FDS (closed when NULL); FALSE with ERROR set. */
static gboolean control_recv_fds(int fd, guint32 *type, GBytes **body,
				 GArray *fds, GError **error)
{
	guint32 hdr[2];
	guint32 len;
	g_autofree guint8 *data = NULL;

	if (!control_read_all(fd, (guint8 *)hdr, sizeof(hdr), fds, error))
		return FALSE;
	len = GUINT32_FROM_LE(hdr[1]);
	if (len > CONTROL_MAX_BODY) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_PROTOCOL,
			    "control message of %u bytes is too long", len);
		return FALSE;
	}
	data = g_malloc(len + 1);
	if (!control_read_all(fd, data, len, fds, error))
		return FALSE;
	*type = GUINT32_FROM_LE(hdr[0]);
	*body = g_bytes_new_take(g_steal_pointer(&data), len);
	return TRUE;
}

/* Receives one message from blocking FD; FALSE with ERROR set. */
gboolean control_recv(int fd, guint32 *type, GBytes **body, GError **error)
{
	return control_recv_fds(fd, type, body, NULL, error);
}

/* Receives one message and the fd that came with it (see control.h). */
gboolean control_recv_fd(int fd, guint32 *type, GBytes **body, int *passed,
			 GError **error)
{
	g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
	gboolean ok = control_recv_fds(fd, type, body, fds, error);

	*passed = -1;
	for (guint i = 0; i < fds->len; i++) {
		if (ok && *passed < 0)
			*passed = g_array_index(fds, int, i);
		else
			close(g_array_index(fds, int, i));
	}
	return ok;
}

/* Sends one message with fd PASSED (SCM_RIGHTS on its first byte) on
 * blocking FD; FALSE with ERROR set. */
gboolean control_send_fd(int fd, guint32 type, const void *body, gsize len,
			 int passed, GError **error)
{
	g_autoptr(GByteArray) out = g_byte_array_sized_new(CONTROL_HEADER + len);
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	ssize_t n;

	control_encode(out, type, body, len);
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &passed, sizeof(int));
	iov.iov_base = out->data;
	iov.iov_len = out->len;
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "control socket write: %s", g_strerror(e));
		return FALSE;
	}
	return control_write_all(fd, out->data + n, out->len - n, error);
}

/* Initializes READER. */
void control_reader_init(ControlReader *reader)
{
	reader->buf = g_byte_array_new();
	reader->fds = g_array_new(FALSE, FALSE, sizeof(int));
}

/* Takes the oldest fd READER received (see control.h). */
int control_reader_take_fd(ControlReader *reader)
{
	int fd;

	if (reader->fds == NULL || reader->fds->len == 0)
		return -1;
	fd = g_array_index(reader->fds, int, 0);
	g_array_remove_index(reader->fds, 0);
	return fd;
}

/* Frees what READER holds. */
void control_reader_clear(ControlReader *reader)
{
	int fd;

	while ((fd = control_reader_take_fd(reader)) >= 0)
		close(fd);
	g_clear_pointer(&reader->fds, g_array_unref);
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
		n = control_recvmsg(fd, reader->buf->data + old,
				    CONTROL_FILL_CHUNK, 0, reader->fds);
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
int control_connect(const char *path, GError **error)
{
	struct sockaddr_un addr;
	int fd;

	if (!control_addr(&addr, path, error))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
			    CONTROL_ERROR_NO_DAEMON : CONTROL_ERROR_IO,
			    "cannot connect to %s: %s", path, g_strerror(e));
		return -1;
	}
	return fd;
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

/* Creates a listening socket at PATH under the directory lock; returns a
 * non-blocking fd or -1 with ERROR set. */
int control_listen(const char *path, GError **error)
{
	struct sockaddr_un addr;
	int fd = -1, lock = -1;
	mode_t old_umask;

	if (!control_addr(&addr, path, error))
		return -1;
	/* Bind and listen as one step for every other starter, so that a
	 * socket nobody listens on is a dead daemon's. */
	lock = control_lock_dir(path, error);
	if (lock < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IO,
			    "socket: %s", g_strerror(e));
		goto fail;
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
	close(lock);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	close(lock);
	return -1;
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
	default: return "unknown";
	}
}
