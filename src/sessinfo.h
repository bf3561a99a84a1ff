/*
 * sessinfo.h: the metadata of a live session, NAME.session in the state
 * directory (see statedir.h).
 *
 * A GKeyFile with one group:
 *
 *   [session]
 *   version=1            format of this file
 *   name=NAME
 *   pid=PID              the session daemon (root of the session tree)
 *   app-pid=PID          the app it started
 *   display=:101         the proxy's display (empty: no proxy)
 *   upstream=:0          the X display the proxy talks to
 *   command=xlogo;-fg;red;   the app's command line (a string list)
 *   cwd=/home/user       the app's working directory
 *   started=2026-11-25T12:00:00Z
 *   terminal=true        the app runs on a pty of the daemon's
 *   state=running        what the session is doing (running, ending; later
 *                        checkpointing...)
 *
 * The daemon writes it (atomically) once the session is ready and removes it
 * when the session ends; readers ignore keys they do not know.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* The format version this build writes and reads. */
#define SESSINFO_VERSION 1

/* What a session's metadata says. */
typedef struct {
	char *name;		/* session name */
	pid_t pid;		/* the session daemon's pid */
	pid_t app_pid;		/* the app's pid (0: none) */
	char *display;		/* the proxy's display name, or NULL */
	char *upstream;		/* the upstream X display, or NULL */
	char **argv;		/* the app's command line (NULL-terminated) */
	char *cwd;		/* the app's working directory */
	char *started;		/* when the session started (ISO 8601, UTC) */
	char *state;		/* "running", "ending", ... */
	gboolean terminal;	/* the app runs on a pty of the daemon's: a
				 * terminal can attach (issue 5) */
	guint restores;		/* how many times the session came back from
				 * a checkpoint: a client from before a
				 * checkpoint --kill tells the restarted
				 * session from the one it knew */
} SessInfo;

/* Frees INFO and what it holds; NULL is fine. */
void sessinfo_free(SessInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SessInfo, sessinfo_free)

/* Serializes INFO into GKeyFile text (caller frees). */
char *sessinfo_to_data(const SessInfo *info);

/* Parses GKeyFile text DATA (LEN bytes, -1: NUL-terminated).  Returns the
 * metadata (caller frees) or NULL with ERROR set (bad syntax, missing keys,
 * or a newer format version). */
SessInfo *sessinfo_from_data(const char *data, gssize len, GError **error);

/* Writes INFO to PATH atomically (a temporary file, then rename; mode 0600).
 * Returns FALSE with ERROR set on failure. */
gboolean sessinfo_save(const SessInfo *info, const char *path,
		       GError **error);

/* Reads PATH.  Returns the metadata (caller frees) or NULL with ERROR. */
SessInfo *sessinfo_load(const char *path, GError **error);

/* Returns the command line joined with spaces, shell-quoted where needed
 * (caller frees). */
char *sessinfo_command_line(const SessInfo *info);
