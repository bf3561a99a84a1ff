/*
 * cmd-inspect.c: looking at checkpoints: `xckpt inspect DIR [--json]` and
 * the listing behind `xckpt list --checkpoints [NAME] [--json]`.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "src/ckptdir.h"
#include "src/cmd.h"

/* One checkpoint found on disk. */
typedef struct {
	char *path;		/* its directory */
	CkptMeta *meta;		/* its metadata */
	gint64 size;		/* the bytes its manifest lists, or -1 */
} CmdInspectEntry;

/* Frees E. */
static void cmd_inspect_entry_free(gpointer e)
{
	CmdInspectEntry *entry = e;

	g_free(entry->path);
	ckptdir_meta_free(entry->meta);
	g_free(entry);
}

/* Appends S to OUT as a JSON string (quoted, escaped). */
void cmd_json_string(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const guchar *p = (const guchar *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(out, "\\u%04x", *p);
		else
			g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

/* Appends the string vector V to OUT as a JSON array. */
void cmd_json_strv(GString *out, char **v)
{
	g_string_append_c(out, '[');
	for (guint i = 0; v && v[i]; i++) {
		if (i)
			g_string_append(out, ", ");
		cmd_json_string(out, v[i]);
	}
	g_string_append_c(out, ']');
}

/* The command line of META, shell-quoted where needed (caller frees). */
static char *cmd_inspect_command(const CkptMeta *meta)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; meta->argv && meta->argv[i]; i++) {
		const char *a = meta->argv[i];
		if (i)
			g_string_append_c(s, ' ');
		if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
				 "OPQRSTUVWXYZ0123456789-_./:=+,@%") ==
		    strlen(a)) {
			g_string_append(s, a);
		} else {
			g_autofree char *q = g_shell_quote(a);
			g_string_append(s, q);
		}
	}
	return g_string_free(s, FALSE);
}

/* META's time as "YYYY-MM-DD HH:MM:SS" in local time (caller frees). */
static char *cmd_inspect_time(const CkptMeta *meta)
{
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(meta->time);

	return t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S") : g_strdup("?");
}

/* The [window N] groups of META, in order (caller frees with
 * g_strfreev; empty when it has none). */
static char **cmd_inspect_windows(const CkptMeta *meta)
{
	GPtrArray *out = g_ptr_array_new();

	for (int n = 1; meta->extra != NULL; n++) {
		g_autofree char *g = g_strdup_printf("window %d", n);
		if (!g_key_file_has_group(meta->extra, g))
			break;
		g_ptr_array_add(out, g_steal_pointer(&g));
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

/* Appends META's windows to OUT as a JSON array. */
static void cmd_inspect_json_windows(GString *out, const CkptMeta *meta)
{
	g_auto(GStrv) wins = cmd_inspect_windows(meta);

	g_string_append(out, "[");
	for (guint i = 0; wins[i]; i++) {
		g_autofree char *title = g_key_file_get_string(meta->extra,
				wins[i], "title", NULL);
		g_autofree char *geom = g_key_file_get_string(meta->extra,
				wins[i], "geometry", NULL);
		g_autofree char *thumb = g_key_file_get_string(meta->extra,
				wins[i], "thumbnail", NULL);
		int conn = g_key_file_get_integer(meta->extra, wins[i],
						  "connection", NULL);
		g_string_append(out, i ? ", {\"title\": " : "{\"title\": ");
		cmd_json_string(out, title);
		g_string_append(out, ", \"geometry\": ");
		cmd_json_string(out, geom);
		g_string_append_printf(out, ", \"connection\": %d, "
				       "\"thumbnail\": ", conn);
		if (thumb)
			cmd_json_string(out, thumb);
		else
			g_string_append(out, "null");
		g_string_append_c(out, '}');
	}
	g_string_append(out, "]");
}

/* Appends E to OUT as a JSON object; VERIFIED is the verification error or
 * NULL when it passed, and is left out when FULL is not set. */
static void cmd_inspect_json(GString *out, const CmdInspectEntry *e,
			     gboolean full, const GError *verified)
{
	const CkptMeta *m = e->meta;

	g_string_append(out, "{\"path\": ");
	cmd_json_string(out, e->path);
	g_string_append(out, ", \"session\": ");
	cmd_json_string(out, m->session);
	g_string_append_printf(out, ", \"time\": %" G_GINT64_FORMAT
			       ", \"size\": %" G_GINT64_FORMAT
			       ", \"format\": %d, \"argv\": ", m->time,
			       e->size, m->format);
	cmd_json_strv(out, m->argv);
	g_string_append(out, ", \"cwd\": ");
	cmd_json_string(out, m->cwd);
	if (full) {
		g_string_append(out, ", \"env\": ");
		cmd_json_strv(out, m->env);
		g_string_append(out, ", \"xckpt_version\": ");
		cmd_json_string(out, m->xckpt_version);
		g_string_append(out, ", \"criu_version\": ");
		cmd_json_string(out, m->criu_version);
		g_string_append(out, ", \"kernel\": ");
		cmd_json_string(out, m->kernel);
		g_string_append(out, ", \"windows\": ");
		cmd_inspect_json_windows(out, m);
		g_string_append(out, ", \"verified\": ");
		g_string_append(out, verified ? "false" : "true");
		if (verified) {
			g_string_append(out, ", \"problem\": ");
			cmd_json_string(out, verified->message);
		}
	}
	g_string_append(out, ", \"display\": ");
	if (m->display)
		cmd_json_string(out, m->display);
	else
		g_string_append(out, "null");
	g_string_append(out, ", \"upstream\": ");
	if (m->upstream)
		cmd_json_string(out, m->upstream);
	else
		g_string_append(out, "null");
	g_string_append_c(out, '}');
}

/* Orders entries by time, then path. */
static gint cmd_inspect_cmp(gconstpointer a, gconstpointer b)
{
	const CmdInspectEntry *x = *(CmdInspectEntry *const *)a;
	const CmdInspectEntry *y = *(CmdInspectEntry *const *)b;

	if (x->meta->time != y->meta->time)
		return x->meta->time < y->meta->time ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Adds the checkpoints directly below PARENT to ENTRIES. */
static void cmd_inspect_scan(const char *parent, GPtrArray *entries)
{
	GDir *d = g_dir_open(parent, 0, NULL);
	const char *n;

	while (d && (n = g_dir_read_name(d))) {
		if (n[0] == '.')
			continue;
		g_autofree char *path = g_build_filename(parent, n, NULL);
		CkptMeta *meta = ckptdir_read_meta(path, NULL);
		if (meta == NULL)
			continue;
		CmdInspectEntry *e = g_new0(CmdInspectEntry, 1);
		e->path = g_steal_pointer(&path);
		e->meta = meta;
		e->size = ckptdir_size(e->path);
		g_ptr_array_add(entries, e);
	}
	if (d)
		g_dir_close(d);
}

/* Lists the checkpoints of session NAME (all sessions when NULL) under the
 * default location, oldest first, as a table or JSON. */
int cmd_inspect_list(const char *name, gboolean json)
{
	g_autoptr(GPtrArray) entries =
		g_ptr_array_new_with_free_func(cmd_inspect_entry_free);
	g_autofree char *top = g_build_filename(g_get_user_data_dir(), "xckpt",
						NULL);

	if (name != NULL) {
		g_autofree char *p = cmd_checkpoint_default_parent(name);
		cmd_inspect_scan(p, entries);
	} else {
		GDir *d = g_dir_open(top, 0, NULL);
		const char *n;
		while (d && (n = g_dir_read_name(d))) {
			g_autofree char *p = g_build_filename(top, n, NULL);
			cmd_inspect_scan(p, entries);
		}
		if (d)
			g_dir_close(d);
	}
	g_ptr_array_sort(entries, cmd_inspect_cmp);
	if (json) {
		g_autoptr(GString) out = g_string_new("[");
		for (guint i = 0; i < entries->len; i++) {
			if (i)
				g_string_append(out, ",\n ");
			cmd_inspect_json(out, entries->pdata[i], FALSE, NULL);
		}
		g_string_append(out, "]\n");
		fputs(out->str, stdout);
		return CMD_OK;
	}
	printf("%-19s %-16s %10s  %-40s %s\n", "TIME", "SESSION", "SIZE",
	       "DIRECTORY", "COMMAND");
	for (guint i = 0; i < entries->len; i++) {
		CmdInspectEntry *e = entries->pdata[i];
		g_autofree char *when = cmd_inspect_time(e->meta);
		g_autofree char *size = g_format_size(MAX(e->size, 0));
		g_autofree char *cmd = cmd_inspect_command(e->meta);
		printf("%-19s %-16s %10s  %-40s %s\n", when, e->meta->session,
		       size, e->path, cmd);
	}
	return CMD_OK;
}

/* `xckpt inspect DIR [--json]`. */
int cmd_inspect_exec(int argc, char **argv)
{
	const CmdEntry *entry = cmd_find("inspect");
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
		{ "json", 'j', 0, G_OPTION_ARG_NONE, &json,
		  "Print JSON", NULL },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) problem = NULL;
	g_autoptr(CkptMeta) checked = NULL;
	CmdInspectEntry e = { 0 };

	if (!cmd_parse(entry, entries,
		       "Prints the metadata of checkpoint directory DIR and "
		       "whether it verifies\n(owner, format, every file against "
		       "its manifest).",
		       FALSE, &argc, &argv))
		return CMD_USAGE;
	if (!cmd_one_arg(entry, argc, argv, "checkpoint DIR"))
		return CMD_USAGE;
	e.path = argv[1];
	e.meta = ckptdir_read_meta(e.path, &error);
	if (e.meta == NULL) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	e.size = ckptdir_size(e.path);
	checked = ckptdir_verify(e.path, &problem);
	if (json) {
		g_autoptr(GString) out = g_string_new(NULL);
		cmd_inspect_json(out, &e, TRUE, problem);
		g_string_append_c(out, '\n');
		fputs(out->str, stdout);
	} else {
		g_autofree char *when = cmd_inspect_time(e.meta);
		g_autofree char *size = g_format_size(MAX(e.size, 0));
		g_autofree char *cmd = cmd_inspect_command(e.meta);
		printf("checkpoint  %s\n", e.path);
		printf("session     %s\n", e.meta->session);
		printf("command     %s\n", cmd);
		printf("cwd         %s\n", e.meta->cwd ? e.meta->cwd : "");
		printf("taken       %s\n", when);
		printf("size        %s\n", size);
		printf("display     %s", e.meta->display ? e.meta->display
							: "none (no X)");
		if (e.meta->upstream)
			printf(" (proxy for %s)", e.meta->upstream);
		printf("\n");
		printf("format      %d (xckpt %s, criu %s, kernel %s)\n",
		       e.meta->format, e.meta->xckpt_version,
		       e.meta->criu_version, e.meta->kernel);
		printf("verified    %s\n", problem ? "no" : "yes");
		g_auto(GStrv) wins = cmd_inspect_windows(e.meta);
		for (guint i = 0; wins[i]; i++) {
			g_autofree char *title = g_key_file_get_string(
				e.meta->extra, wins[i], "title", NULL);
			g_autofree char *geom = g_key_file_get_string(
				e.meta->extra, wins[i], "geometry", NULL);
			g_autofree char *thumb = g_key_file_get_string(
				e.meta->extra, wins[i], "thumbnail", NULL);
			int conn = g_key_file_get_integer(e.meta->extra,
							  wins[i], "connection",
							  NULL);
			printf("%-11s %s  connection %d  \"%s\"%s%s\n",
			       i ? "" : "windows", geom ? geom : "?", conn,
			       title ? title : "", thumb ? "  " : "",
			       thumb ? thumb : "");
		}
	}
	if (problem)
		cmd_error("%s", problem->message);
	ckptdir_meta_free(e.meta);
	return problem ? CMD_FAIL : CMD_OK;
}
