/*
 * criurpc.h: the messages of CRIU's RPC protocol that a dump or a restore
 * through `criu swrk` needs, in protobuf's wire format.
 *
 * CRIU documents the protocol as images/rpc.proto in its source (messages
 * criu_req, criu_opts, criu_resp, criu_notify); it is stable across
 * releases (fields are only ever added).  xckpt needs a request, one
 * reply and one response, so it writes and reads these few fields itself
 * rather than generate a protobuf library from a .proto file that no
 * Debian package ships.  The field numbers are CRIU's, in criurpc.c.
 */
#pragma once
#include <glib.h>

/* criu_req_type: what a request or response is about. */
typedef enum {
	CRIURPC_DUMP = 1,	/* dump a tree */
	CRIURPC_RESTORE = 2,	/* restore a tree */
	CRIURPC_NOTIFY = 6,	/* an action-script point was reached */
} CriurpcType;

/* The options of a request (criu_opts). */
typedef struct {
	int images_dir_fd;	/* the images directory, open in the
				 * requesting process (CRIU opens it through
				 * /proc/PID/fd) */
	int work_dir_fd;	/* where CRIU writes its log and stats, the
				 * same way */
	const char *log_file;	/* the log's name in the work directory */
	int log_level;		/* CRIU's -v level */
	int pid;		/* dump: the root of the tree (-t) */
	gboolean leave_running;	/* dump: --leave-running */
	const char *root;	/* restore: --root, or NULL */
	const char *const *external;	/* --external values, NULL-terminated;
					 * may be NULL */
	const int *inherit_fds;	/* restore: --inherit-fd, fds of the criu
				 * process */
	const char *const *inherit_keys;	/* their keys */
	guint n_inherit;	/* how many */
	gboolean file_locks;	/* --file-locks */
	gboolean tcp_close;	/* --tcp-close */
	gboolean rst_sibling;	/* restore as a sibling of criu (a child of
				 * the requesting process) */
	gboolean notify_scripts;	/* report every action-script point
					 * and wait for the reply */
} CriurpcOpts;

/* A response from criu (criu_resp), parsed. */
typedef struct {
	CriurpcType type;	/* what it answers (or NOTIFY) */
	gboolean success;	/* whether CRIU succeeded */
	int pid;		/* RESTORE: the restored root's pid, or 0 */
	char *script;		/* NOTIFY: the action point, e.g.
				 * "post-restore" (owned), or NULL */
	int cr_errno;		/* an errno CRIU reported, or 0 */
	char *errmsg;		/* CRIU's error message (owned), or NULL */
} CriurpcResp;

/* Encodes the request of TYPE (DUMP or RESTORE) with options O.  Returns it
 * (caller frees). */
GBytes *criurpc_request(CriurpcType type, const CriurpcOpts *o);

/* Encodes the reply to a notification: SUCCESS lets CRIU go on; FALSE
 * makes it fail the restore (at "post-restore" it kills the tree).
 * Returns it (caller frees). */
GBytes *criurpc_notify_reply(gboolean success);

/* Parses the response of N bytes at P into *RESP (cleared first; clear it
 * with criurpc_resp_clear()).  Returns TRUE, or FALSE with ERROR when the
 * bytes are not a well-formed criu_resp. */
gboolean criurpc_parse_response(const guint8 *p, gsize n, CriurpcResp *resp,
				GError **error);

/* Frees what *RESP owns and zeroes it. */
void criurpc_resp_clear(CriurpcResp *resp);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CriurpcResp, criurpc_resp_clear)
