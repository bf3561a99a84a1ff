/*
 * statedir.h: where live sessions keep their state.
 *
 * The state directory is $XDG_RUNTIME_DIR/xckpt, or /tmp/xckpt-UID when
 * XDG_RUNTIME_DIR is not set; it is mode 0700 and must belong to the user.
 * A session NAME owns these entries in it:
 *
 *   NAME.sock     the daemon's control socket (see control.h)
 *   NAME.session  its metadata (see sessinfo.h)
 *   NAME.log      the session log: the app's output and the daemon's messages
 *   NAME.log.1    the log's older part (rotated past a size limit)
 *   NAME.xauth    the proxy's private Xauthority file (mode 0600)
 */
#pragma once

#include <glib.h>

/* The longest session name. */
#define STATEDIR_NAME_MAX 64

/* Returns the state directory's path, whether or not it exists (caller
 * frees). */
char *statedir_path(void);

/* Creates the state directory when missing (0700) and checks that it is a
 * directory of the user's, not open to others.  Returns its path (caller
 * frees) or NULL with a one-line ERROR. */
char *statedir_ensure(GError **error);

/* Returns DIR/NAME.SUFFIX (caller frees). */
char *statedir_file(const char *dir, const char *name, const char *suffix);

/* Checks that NAME can name a session: 1 to STATEDIR_NAME_MAX characters of
 * [A-Za-z0-9._+-], not starting with '.' or '-'.  Returns FALSE with a
 * one-line ERROR otherwise. */
gboolean statedir_name_valid(const char *name, GError **error);

/* Returns a session-name stem made from COMMAND (its basename with the
 * characters a name cannot hold replaced by '_'; caller frees). */
char *statedir_name_stem(const char *command);

/* Removes every entry of session NAME from DIR (missing ones are fine). */
void statedir_remove(const char *dir, const char *name);

/* Returns the names of the sessions that have a metadata file in DIR, sorted
 * (caller frees with g_strfreev). */
char **statedir_names(const char *dir);
