/*
 * control.h: the control-socket protocol between the `xckpt` command and a
 * session daemon.
 *
 * Transport: a SOCK_STREAM unix socket, STATEDIR/NAME.sock (see statedir.h),
 * or one end of a socketpair handed to the daemon by `xckpt run` in the
 * foreground.
 *
 * Framing: every message is an 8-byte header, then the body:
 *
 *   u32 type     a ControlType, little-endian
 *   u32 length   body length in bytes, little-endian, at most CONTROL_MAX_BODY
 *   u8  body[length]
 *
 * Integers inside bodies are little-endian u32; text is UTF-8 without a NUL.
 * A peer that receives a bad frame (too long) closes the connection; a peer
 * that receives a message type it does not know answers ERROR (daemon) or
 * ignores it (client), so both sides can grow.
 *
 * Conversation: the client speaks first with HELLO {u32 version, u32 flags}.
 * The daemon answers HELLO {u32 version, u32 daemon pid} when the versions
 * match, or ERROR "..." and closes.  Then the client sends requests; each is
 * answered by its reply, DONE or ERROR.  A client that set
 * CONTROL_HELLO_OUTPUT also receives, unasked, the app's OUTPUT and, when the
 * session is over, EXIT.
 *
 *   type        dir  body
 *   HELLO       <>   u32 version, u32 flags (client) | u32 pid (daemon)
 *   ERROR        >   text: why a request (or the hello) was refused
 *   DONE         >   empty: the request was carried out
 *   OUTPUT       >   u8 stream (1 stdout, 2 stderr), bytes
 *   EXIT         >   u32 the app's wait status; the session is over
 *   SIGNAL      <    u32 signal number, delivered to the app's process group
 *   KILL        <    u32 grace period in ms (0: default); DONE once every
 *                    process of the session has ended
 *   INFO        <>   request: empty; reply: the session metadata (sessinfo.h)
 *   CHECKPOINT  <>   request: empty.  The daemon quiesces the session and
 *                    replies CHECKPOINT with the facts a checkpoint records
 *                    (GKeyFile text, group [checkpoint]: argv, cwd, env,
 *                    display, upstream, and `external`, the --external
 *                    values CRIU needs).  Then it hangs up on every client,
 *                    this one included (PAUSE to the output clients first):
 *                    a dumped tree must hold no connection to the outside.
 *                    The requester waits for the hang-up, dumps, and comes
 *                    back with RESUME.
 *   PAUSE        >   empty: a checkpoint is being taken; reconnect once the
 *                    session's state (sessinfo.h) is no longer
 *                    "checkpointing"
 *   RESUME      <    u32 flags (CONTROL_RESUME_*), then, with
 *                    CONTROL_RESUME_DISPLAY, the X display to come back on
 *                    and a NUL, then an optional new session name (text);
 *                    ends the checkpoint.  After a restore, the proxy
 *                    rebuilds its clients' windows on that display (default:
 *                    the upstream it had) before DONE; ERROR names what the
 *                    display lacks.
 *
 * Terminals (issue 5; ptysupport/ptysupport.h, src/attach.c).  A session
 * whose app runs on a pty kept by the daemon can have one attached client,
 * which says HELLO with CONTROL_HELLO_OUTPUT (for PAUSE and EXIT), then:
 *   ATTACH      <    u32 rows, u32 cols: the client's terminal size.  The
 *                    daemon sets the pty to that size (a real size change
 *                    even when it is the same: ptyterm_attach()), answers
 *                    REDRAW, then sends the pty's output as OUTPUT stream 1
 *                    (in the order it was read, nothing lost or repeated
 *                    after the REDRAW) and EXIT when the session is over.
 *                    ERROR when the session has no terminal.  An ATTACH
 *                    while another client is attached takes over: the
 *                    other client gets DETACH first and no more output.
 *   INPUT       <    bytes for the pty (the keyboard).  Not answered.
 *   RESIZE      <    u32 rows, u32 cols: the attached terminal's new size.
 *                    Not answered.
 *   DETACH      <>   client: empty: the client leaves (the session runs on);
 *                    the daemon stops sending it output and answers DONE
 *                    (the client need not wait for it; closing the
 *                    connection detaches too).  Daemon: text: why this
 *                    client was detached ("attached elsewhere"); no more
 *                    output follows.
 *   REDRAW      <>   client: empty: send the redraw again; daemon: the
 *                    bytes that bring the client's terminal to the model's
 *                    state (reset, modes, screen, cursor).
 *
 * Reserved for later versions (the numbers are fixed now):
 *   19-31  checkpoint/restart (issue 4): PROGRESS...
 *   37-47  terminals (issue 5)
 *
 * The version changes whenever an existing message changes meaning; new
 * message types alone do not need a new version.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* The protocol version this build speaks. */
#define CONTROL_VERSION 1

/* The longest message body accepted. */
#define CONTROL_MAX_BODY (1u << 20)

/* The header size. */
#define CONTROL_HEADER 8

/* Message types (see the table above). */
typedef enum {
	CONTROL_HELLO = 1,
	CONTROL_ERROR = 2,
	CONTROL_DONE = 3,
	CONTROL_OUTPUT = 4,
	CONTROL_EXIT = 5,
	CONTROL_SIGNAL = 6,
	CONTROL_KILL = 7,
	CONTROL_INFO = 8,
	CONTROL_CHECKPOINT = 16,
	CONTROL_PAUSE = 17,
	CONTROL_RESUME = 18,
	CONTROL_ATTACH = 32,
	CONTROL_INPUT = 33,
	CONTROL_RESIZE = 34,
	CONTROL_DETACH = 35,
	CONTROL_REDRAW = 36,
} ControlType;

/* RESUME flags. */
#define CONTROL_RESUME_RESTORED 0x1	/* the tree was restored by CRIU (else
					 * it ran on after a dump) */
#define CONTROL_RESUME_DISPLAY 0x2	/* a display name and a NUL follow the
					 * flags, before the optional name:
					 * the X display the restored proxy
					 * connects its clients to */

/* HELLO flags from the client. */
#define CONTROL_HELLO_OUTPUT 0x1	/* stream OUTPUT and EXIT to me */

/* OUTPUT streams. */
#define CONTROL_STDOUT 1
#define CONTROL_STDERR 2

/* Errors of this module (codes: ControlError). */
#define CONTROL_ERROR_DOMAIN (control_error_quark())
GQuark control_error_quark(void);

/* What went wrong. */
typedef enum {
	CONTROL_ERROR_IO,	/* a system call failed */
	CONTROL_ERROR_CLOSED,	/* the peer closed the connection */
	CONTROL_ERROR_PROTOCOL,	/* a bad frame or an unexpected message */
	CONTROL_ERROR_VERSION,	/* the peer speaks another version */
	CONTROL_ERROR_REFUSED,	/* the peer answered ERROR */
	CONTROL_ERROR_IN_USE,	/* the socket belongs to a live daemon */
	CONTROL_ERROR_NO_DAEMON,	/* nothing listens on the socket */
	CONTROL_ERROR_BUSY,	/* the daemon listens but its backlog is full
				 * (control_connect_nowait()) */
} ControlError;

/* Accumulates bytes from a connection and cuts them into messages. */
typedef struct {
	GByteArray *buf;	/* bytes received and not yet consumed */
} ControlReader;

/* Appends message TYPE with body BODY (LEN bytes) to OUT. */
void control_encode(GByteArray *out, guint32 type, const void *body,
		    gsize len);

/* Appends message TYPE whose body is the single u32 VALUE to OUT. */
void control_encode_u32(GByteArray *out, guint32 type, guint32 value);

/* Reads the little-endian u32 at OFFSET of BODY into *VALUE.  Returns FALSE
 * when BODY is too short. */
gboolean control_get_u32(GBytes *body, gsize offset, guint32 *value);

/* Sends one message on blocking socket FD.  Returns FALSE with ERROR set
 * when the write fails. */
gboolean control_send(int fd, guint32 type, const void *body, gsize len,
		      GError **error);

/* Receives one message from blocking socket FD: its type in *TYPE and its
 * body in *BODY (caller unrefs).  Returns FALSE with ERROR set on EOF
 * (CONTROL_ERROR_CLOSED), a read error or a bad frame. */
gboolean control_recv(int fd, guint32 *type, GBytes **body, GError **error);

/* Initializes READER. */
void control_reader_init(ControlReader *reader);

/* Frees what READER holds. */
void control_reader_clear(ControlReader *reader);

/* Reads what non-blocking FD has (up to a limit per call) into READER.  Sets
 * *EOF when the peer has closed.  Returns FALSE with ERROR set on a read
 * error (EAGAIN is not one). */
gboolean control_reader_fill(ControlReader *reader, int fd, gboolean *eof,
			     GError **error);

/* Takes the next complete message out of READER.  Returns TRUE with *TYPE
 * and *BODY (caller unrefs) set; FALSE with ERROR unset when more bytes are
 * needed; FALSE with ERROR set on a bad frame. */
gboolean control_reader_next(ControlReader *reader, guint32 *type,
			     GBytes **body, GError **error);

/* Creates a listening socket at PATH (mode 0600), under
 * control_lock_dir().  A stale socket (nobody listening) is replaced; a live
 * one fails with CONTROL_ERROR_IN_USE.
 * Returns the non-blocking, close-on-exec fd or -1 with ERROR set. */
int control_listen(const char *path, GError **error);

/* Closes OLD_FD, the listening socket at PATH, and binds and listens at
 * PATH again (from the caller's mount namespace), all under
 * control_lock_dir(): no other starter can take the name in between.
 * Returns the new fd or -1 with ERROR set. */
int control_relisten(const char *path, int old_fd, GError **error);

/* Takes an exclusive flock on the directory that holds PATH, the lock that
 * serializes the reservation of session names (control_listen() binds and
 * listens under it) and the removal of stale sessions.  Returns the lock's
 * fd (closing it unlocks) or -1 with ERROR set. */
int control_lock_dir(const char *path, GError **error);

/* Whether nothing listens at PATH (the socket is missing, or refuses).
 * Conclusive only under control_lock_dir(): a starting daemon binds and
 * listens under that lock. */
gboolean control_stale(const char *path);

/* Connects to the daemon listening at PATH.  Returns a blocking,
 * close-on-exec fd or -1 with ERROR set (CONTROL_ERROR_NO_DAEMON when the
 * socket is missing or nobody listens). */
int control_connect(const char *path, GError **error);

/* Like control_connect(), but fails at once (CONTROL_ERROR_BUSY) instead
 * of waiting when the daemon's backlog is full: a daemon that CRIU
 * holds frozen accepts nothing, and other commands' connections may have
 * filled it.  Returns a blocking fd. */
int control_connect_nowait(const char *path, GError **error);

/* Says HELLO with FLAGS on blocking FD and waits for the daemon's HELLO.
 * Returns FALSE with a one-line ERROR when the daemon refuses or speaks
 * another version.  Stores the daemon's pid in *PID when PID is not NULL. */
gboolean control_hello(int fd, guint32 flags, pid_t *pid, GError **error);

/* Waits on blocking FD for the daemon's answer to a HELLO already sent (see
 * control_hello()). */
gboolean control_hello_reply(int fd, pid_t *pid, GError **error);

/* Connects to PATH and says HELLO with FLAGS.  Returns the fd or -1 with a
 * one-line ERROR. */
int control_open(const char *path, guint32 flags, GError **error);

/* Returns the name of message TYPE, for log lines (static string). */
const char *control_type_name(guint32 type);
