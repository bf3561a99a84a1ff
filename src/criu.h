/*
 * criu.h: the CRIU driver.
 *
 * xckpt runs CRIU as a command (never as a library), the one that `make deps`
 * found to pass `criu check`: $XCKPT_CRIU when set, else the command recorded
 * at build time in BUILD/criu.path, else `criu` on PATH.  Every run writes a
 * log file; an error names it.  CRIU runs as `criu swrk`, its RPC over a
 * socket (criurpc.h): the same work as `criu dump` and `criu restore`, but
 * CRIU can be started before the request is sent (it loads while the
 * session quiesces), and it reports each action-script point and waits for
 * the reply.  That is how a checkpoint resumes the session's proxy the
 * moment the images are complete, and how a restart holds the restored
 * tree until the checkpoint's page images have been verified
 * (criu_restore()), without the fork and exec of an action script at each
 * of the points.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Errors of this module. */
#define CRIU_ERROR (criu_error_quark())
GQuark criu_error_quark(void);

/* What went wrong. */
typedef enum {
	CRIU_ERROR_NOT_FOUND,	/* no working criu */
	CRIU_ERROR_FAILED,	/* criu ran and failed (see its log) */
	CRIU_ERROR_PID_BUSY,	/* a pid of the images is held by a process */
} CriuError;

/* A `criu swrk` under way (opaque). */
typedef struct CriuWorker CriuWorker;

/* How to dump a process tree. */
typedef struct {
	pid_t pid;		/* the root of the tree */
	const char *images;	/* the directory CRIU writes its images into */
	gboolean leave_running;	/* let the tree run on (else it is killed) */
	void (*dumped)(gpointer ud);	/* may be NULL; else called once the
					 * images are complete and before
					 * CRIU lets the tree run on or ends
					 * it, with progress_ud */
	const char *const *external;	/* NULL-terminated --external values,
					 * e.g. "unix[12345]"; may be NULL */
	void (*progress)(gpointer ud);	/* called every CRIU_PROGRESS_MS while
					 * CRIU runs; may be NULL */
	gpointer progress_ud;	/* its argument */
} CriuDump;

/* How often a running dump calls its progress function, in ms. */
#define CRIU_PROGRESS_MS 50

/* How to restore one. */
typedef struct {
	const char *images;	/* the directory of the images */
	const char *log;	/* the log file */
	const int *inherit_fds;	/* fds of the caller handed to the restored
				 * tree (--inherit-fd fd[N]:KEY) */
	const char *const *inherit_keys;	/* their keys, e.g.
					 * "socket:[12345]" */
	guint n_inherit;	/* how many */
	gboolean (*gate)(gpointer ud, GError **error);
				/* may be NULL; else called once every process
				 * of the tree is restored and before any runs
				 * on: FALSE (with ERROR) makes CRIU kill the
				 * tree, and the restore fails with that error.
				 * Also called when CRIU fails, whose error it
				 * then replaces when FALSE.  Must give the
				 * same answer each time. */
	gpointer gate_ud;	/* its argument */
} CriuRestore;

/* Finds the working criu.  Returns its command line as a NULL-terminated
 * vector (caller frees with g_strfreev), or NULL with ERROR set. */
char **criu_command(GError **error);

/* The version line of the working criu, e.g. "4.1.1" (caller frees), or
 * NULL with ERROR set. */
char *criu_version(GError **error);

/* The CRIU version that wrote LOG_TEXT, the text of a dump or restore log
 * (logs at -v3 and up say it), else the working criu's ("4.1.1";
 * "unknown").
 * Caller frees. */
char *criu_log_version(const char *log_text);

/* Starts `criu swrk`, CRIU waiting for a request, its log to go to LOG at
 * the end and the caller's fds FDS (N of them) kept open in it at the same
 * numbers.  Started ahead of criu_dump(), CRIU loads (a few ms here)
 * while the caller gets the tree ready.  Returns it (free with
 * criu_worker_free()) or NULL with ERROR. */
CriuWorker *criu_worker_start(const char *log, const int *fds, guint n,
			      GError **error);

/* Ends W (criu exits if it had no request yet) and frees it. */
void criu_worker_free(CriuWorker *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CriuWorker, criu_worker_free)

/* Dumps the tree OPTS says with W, which is used up (free it after).
 * Returns TRUE, or FALSE with a one-line ERROR that quotes CRIU's first
 * error and names the log. */
gboolean criu_dump(CriuWorker *w, const CriuDump *opts, GError **error);

/* Restores the tree OPTS says as a child of the caller (CRIU runs as a
 * sibling of the tree and exits when it is restored).  Returns the pid of
 * the restored root, or -1 with ERROR set.  When a pid of the images is held
 * by a live process the code is CRIU_ERROR_PID_BUSY and the message names the
 * pid and the holder's command. */
pid_t criu_restore(const CriuRestore *opts, GError **error);
