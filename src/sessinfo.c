/*
 * sessinfo.c: the metadata of a live session (see sessinfo.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "src/sessinfo.h"

/* The key-file group. */
#define SESSINFO_GROUP "session"

/* Frees INFO; NULL is fine. */
void sessinfo_free(SessInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->name);
	g_free(info->display);
	g_free(info->upstream);
	g_strfreev(info->argv);
	g_free(info->cwd);
	g_free(info->started);
	g_free(info->state);
	g_free(info);
}

/* Sets string KEY to VALUE in KF when VALUE is not NULL. */
static void sessinfo_set(GKeyFile *kf, const char *key, const char *value)
{
	if (value != NULL)
		g_key_file_set_string(kf, SESSINFO_GROUP, key, value);
}

/* Serializes INFO (caller frees the text). */
char *sessinfo_to_data(const SessInfo *info)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	const char *empty[] = { NULL };

	g_key_file_set_integer(kf, SESSINFO_GROUP, "version", SESSINFO_VERSION);
	sessinfo_set(kf, "name", info->name);
	g_key_file_set_int64(kf, SESSINFO_GROUP, "pid", info->pid);
	g_key_file_set_int64(kf, SESSINFO_GROUP, "app-pid", info->app_pid);
	sessinfo_set(kf, "display", info->display);
	sessinfo_set(kf, "upstream", info->upstream);
	g_key_file_set_string_list(kf, SESSINFO_GROUP, "command",
				   (const char *const *)(info->argv ?
					info->argv : (char **)empty),
				   info->argv ? g_strv_length(info->argv) : 0);
	sessinfo_set(kf, "cwd", info->cwd);
	sessinfo_set(kf, "started", info->started);
	sessinfo_set(kf, "state", info->state);
	g_key_file_set_boolean(kf, SESSINFO_GROUP, "terminal", info->terminal);
	g_key_file_set_uint64(kf, SESSINFO_GROUP, "restores", info->restores);
	return g_key_file_to_data(kf, NULL, NULL);
}

/* Returns string KEY of KF or NULL when it is missing or empty (caller
 * frees). */
static char *sessinfo_get(GKeyFile *kf, const char *key)
{
	char *v = g_key_file_get_string(kf, SESSINFO_GROUP, key, NULL);

	if (v != NULL && *v == '\0')
		g_clear_pointer(&v, g_free);
	return v;
}

/* Parses DATA; returns the metadata (caller frees) or NULL with ERROR. */
SessInfo *sessinfo_from_data(const char *data, gssize len, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(SessInfo) info = g_new0(SessInfo, 1);
	GError *e = NULL;
	int version;

	if (len < 0)
		len = strlen(data);
	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, error))
		return NULL;
	version = g_key_file_get_integer(kf, SESSINFO_GROUP, "version", &e);
	if (e != NULL) {
		g_propagate_error(error, e);
		return NULL;
	}
	if (version > SESSINFO_VERSION) {
		g_set_error(error, G_KEY_FILE_ERROR,
			    G_KEY_FILE_ERROR_INVALID_VALUE,
			    "session metadata version %d is newer than this "
			    "xckpt's (%d)", version, SESSINFO_VERSION);
		return NULL;
	}
	info->name = sessinfo_get(kf, "name");
	info->pid = g_key_file_get_int64(kf, SESSINFO_GROUP, "pid", NULL);
	info->app_pid = g_key_file_get_int64(kf, SESSINFO_GROUP, "app-pid",
					     NULL);
	info->display = sessinfo_get(kf, "display");
	info->upstream = sessinfo_get(kf, "upstream");
	info->argv = g_key_file_get_string_list(kf, SESSINFO_GROUP, "command",
						NULL, NULL);
	info->cwd = sessinfo_get(kf, "cwd");
	info->started = sessinfo_get(kf, "started");
	info->state = sessinfo_get(kf, "state");
	info->restores = (guint)g_key_file_get_uint64(kf, SESSINFO_GROUP,
						      "restores", NULL);
	info->terminal = g_key_file_get_boolean(kf, SESSINFO_GROUP, "terminal",
						NULL);
	if (info->name == NULL || info->pid <= 0) {
		g_set_error(error, G_KEY_FILE_ERROR,
			    G_KEY_FILE_ERROR_KEY_NOT_FOUND,
			    "session metadata lacks a name or a pid");
		return NULL;
	}
	if (info->argv == NULL)
		info->argv = g_new0(char *, 1);
	return g_steal_pointer(&info);
}

/* Writes INFO to PATH atomically (a new file renamed over it: a reader
 * sees the old text or the new), mode 0600; FALSE with ERROR on failure.
 * Not synced to the disk: it is runtime state, gone at a reboot anyway
 * (GLib's CONSISTENT flag fsyncs, and did so at every state change, a
 * checkpoint's included: a journal commit when XDG_RUNTIME_DIR is on a
 * disk). */
gboolean sessinfo_save(const SessInfo *info, const char *path,
		       GError **error)
{
	g_autofree char *data = sessinfo_to_data(info);
	g_autofree char *tmp = g_strdup_printf("%s.new-%d", path,
					       (int)getpid());

	if (!g_file_set_contents_full(tmp, data, -1, G_FILE_SET_CONTENTS_NONE,
				      0600, error))
		return FALSE;
	if (rename(tmp, path) < 0) {
		int e = errno;
		g_unlink(tmp);
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "cannot rename %s: %s", tmp, g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

/* Reads PATH; returns the metadata (caller frees) or NULL with ERROR. */
SessInfo *sessinfo_load(const char *path, GError **error)
{
	g_autofree char *data = NULL;
	gsize len;

	if (!g_file_get_contents(path, &data, &len, error))
		return NULL;
	return sessinfo_from_data(data, len, error);
}

/* Returns the command line, shell-quoted where needed (caller frees). */
char *sessinfo_command_line(const SessInfo *info)
{
	GString *s = g_string_new(NULL);

	for (int i = 0; info->argv != NULL && info->argv[i] != NULL; i++) {
		const char *a = info->argv[i];
		gboolean plain = *a != '\0';

		for (const char *p = a; *p != '\0'; p++)
			if (!g_ascii_isalnum(*p) && !strchr("-_./=:,+@%", *p))
				plain = FALSE;
		if (i > 0)
			g_string_append_c(s, ' ');
		if (plain) {
			g_string_append(s, a);
		} else {
			g_autofree char *q = g_shell_quote(a);
			g_string_append(s, q);
		}
	}
	return g_string_free(s, FALSE);
}
