/*
 * statedir.c: where live sessions keep their state (see statedir.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "src/statedir.h"

/* The entries a session owns, by suffix. */
static const char *const statedir_suffixes[] = {
	"session", "sock", "log", "log.1", "xauth", "bus", "dump.log", NULL
};

/* Returns the state directory's path (caller frees). */
char *statedir_path(void)
{
	const char *run = g_getenv("XDG_RUNTIME_DIR");

	if (run != NULL && *run != '\0')
		return g_build_filename(run, "xckpt", NULL);
	return g_strdup_printf("%s/xckpt-%u", g_get_tmp_dir(),
			       (unsigned)getuid());
}

/* Creates and checks the state directory; returns its path (caller frees) or
 * NULL with ERROR set. */
char *statedir_ensure(GError **error)
{
	g_autofree char *dir = statedir_path();
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "cannot create state directory %s: %s", dir,
			    g_strerror(e));
		return NULL;
	}
	if (lstat(dir, &st) < 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "cannot use state directory %s: %s", dir,
			    g_strerror(e));
		return NULL;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid()) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
			    "state directory %s is not a directory of user %u",
			    dir, (unsigned)getuid());
		return NULL;
	}
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) < 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "cannot make state directory %s private: %s", dir,
			    g_strerror(e));
		return NULL;
	}
	return g_steal_pointer(&dir);
}

/* Returns DIR/NAME.SUFFIX (caller frees). */
char *statedir_file(const char *dir, const char *name, const char *suffix)
{
	return g_strdup_printf("%s/%s.%s", dir, name, suffix);
}

/* Returns whether C may appear in a session name. */
static gboolean statedir_name_char(char c)
{
	return g_ascii_isalnum(c) || c == '.' || c == '_' || c == '-' ||
	       c == '+';
}

/* Checks that NAME can name a session; FALSE with ERROR set if not. */
gboolean statedir_name_valid(const char *name, GError **error)
{
	size_t len = strlen(name);

	if (len == 0 || len > STATEDIR_NAME_MAX || name[0] == '.' ||
	    name[0] == '-')
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!statedir_name_char(name[i]))
			goto bad;
	return TRUE;
bad:
	g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
		    "invalid session name '%s' (use 1 to %d of A-Z a-z 0-9 . _ + -, "
		    "not starting with . or -)", name, STATEDIR_NAME_MAX);
	return FALSE;
}

/* Returns a name stem made from COMMAND's basename (caller frees). */
char *statedir_name_stem(const char *command)
{
	g_autofree char *base = g_path_get_basename(command);
	GString *s = g_string_new(NULL);

	for (const char *p = base; *p != '\0' && s->len < 40; p++)
		g_string_append_c(s, statedir_name_char(*p) ? *p : '_');
	if (s->len == 0 || s->str[0] == '.' || s->str[0] == '-')
		g_string_prepend(s, "s");
	return g_string_free(s, FALSE);
}

/* Removes every entry of session NAME from DIR. */
void statedir_remove(const char *dir, const char *name)
{
	for (int i = 0; statedir_suffixes[i] != NULL; i++) {
		g_autofree char *path = statedir_file(dir, name,
						      statedir_suffixes[i]);
		g_unlink(path);
	}
}

/* Orders two elements of a string GPtrArray (pointers to the strings). */
static gint statedir_cmp(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* Returns the sorted names of the sessions with metadata in DIR (caller
 * frees with g_strfreev). */
char **statedir_names(const char *dir)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *entry;

	if (d != NULL) {
		while ((entry = g_dir_read_name(d)) != NULL) {
			if (!g_str_has_suffix(entry, ".session"))
				continue;
			char *name = g_strndup(entry, strlen(entry) -
						      strlen(".session"));
			if (!statedir_name_valid(name, NULL)) {
				g_free(name);
				continue;
			}
			g_ptr_array_add(names, name);
		}
	}
	g_ptr_array_sort(names, statedir_cmp);
	g_ptr_array_add(names, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}
