/*
 * cmd-list.c: `xckpt list`: the live sessions, one line each.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "src/cmd.h"
#include "src/control.h"
#include "src/sessinfo.h"
#include "src/statedir.h"

/* Whether process PID exists and is not a zombie. */
static gboolean cmd_list_pid_alive(pid_t pid)
{
	char path[64];
	g_autofree char *data = NULL;
	const char *p;

	if (pid <= 0)
		return FALSE;
	g_snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!g_file_get_contents(path, &data, NULL, NULL))
		return FALSE;
	p = strrchr(data, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Loads session NAME of DIR if it is live.  A stale one (no daemon listens
 * on its socket and its pid is gone) is removed.  Returns the metadata
 * (caller frees) or NULL. */
static SessInfo *cmd_list_load(const char *dir, const char *name)
{
	g_autofree char *info_path = statedir_file(dir, name, "session");
	g_autofree char *sock = statedir_file(dir, name, "sock");
	g_autoptr(SessInfo) info = sessinfo_load(info_path, NULL);
	g_autoptr(GError) error = NULL;
	int fd;

	/* Without waiting: a daemon that CRIU holds frozen for a checkpoint
	 * accepts nothing, and once its backlog is full (other commands
	 * connected meanwhile) a connect would wait for the end of the
	 * dump.  It is live. */
	fd = control_connect_nowait(sock, &error);
	if (fd >= 0 || g_error_matches(error, CONTROL_ERROR_DOMAIN,
				       CONTROL_ERROR_BUSY)) {
		if (fd >= 0)
			close(fd);
		return g_steal_pointer(&info);
	}
	if (g_error_matches(error, CONTROL_ERROR_DOMAIN,
			    CONTROL_ERROR_NO_DAEMON) &&
	    (info == NULL || !cmd_list_pid_alive(info->pid))) {
		/* Under the lock, no starter is taking the name meanwhile. */
		int lock = control_lock_dir(sock, NULL);

		if (lock >= 0 && control_stale(sock))
			statedir_remove(dir, name);
		if (lock >= 0)
			close(lock);
	}
	return NULL;
}

/* Returns the live sessions of the state directory, sorted by name, and
 * removes the stale ones (caller frees the array and its SessInfo). */
GPtrArray *cmd_list_sessions(void)
{
	g_autofree char *dir = statedir_path();
	g_auto(GStrv) names = statedir_names(dir);
	GPtrArray *out = g_ptr_array_new_with_free_func(
		(GDestroyNotify)sessinfo_free);

	for (int i = 0; names[i] != NULL; i++) {
		SessInfo *info = cmd_list_load(dir, names[i]);
		if (info != NULL)
			g_ptr_array_add(out, info);
	}
	return out;
}

/* `xckpt list`. */
int cmd_list_exec(int argc, char **argv)
{
	const CmdEntry *entry = cmd_find("list");
	gboolean checkpoints = FALSE, json = FALSE;
	const GOptionEntry entries[] = {
		{ "checkpoints", 'c', 0, G_OPTION_ARG_NONE, &checkpoints,
		  "List checkpoint directories (of session NAME only, when "
		  "given) instead", NULL },
		{ "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print JSON",
		  NULL },
		{ NULL }
	};
	g_autoptr(GPtrArray) sessions = NULL;

	if (!cmd_parse(entry, entries,
		       "Lists the live sessions: a header line, then one line per "
		       "session with its\nname, the session daemon's pid, the "
		       "proxy's display, the upstream X display,\nits state "
		       "(running, checkpointing, ending) and the command.  "
		       "Entries whose\ndaemon has died are removed.\n\n"
		       "With --checkpoints [NAME]: the checkpoint directories "
		       "under\n$XDG_DATA_HOME/xckpt, oldest first, with time, "
		       "session, size and command.",
		       FALSE, &argc, &argv))
		return CMD_USAGE;
	if (argc > (checkpoints ? 2 : 1))
		return cmd_usage_error(entry, "unexpected argument '%s'",
				       argv[checkpoints ? 2 : 1]);
	if (checkpoints)
		return cmd_inspect_list(argc > 1 ? argv[1] : NULL, json);
	sessions = cmd_list_sessions();
	if (json) {
		g_autoptr(GString) out = g_string_new("[");
		for (guint i = 0; i < sessions->len; i++) {
			SessInfo *info = g_ptr_array_index(sessions, i);
			g_string_append(out, i ? ",\n {\"name\": " : "{\"name\": ");
			cmd_json_string(out, info->name);
			g_string_append_printf(out, ", \"pid\": %d, \"display\": ",
					       (int)info->pid);
			cmd_json_string(out, info->display);
			g_string_append(out, ", \"upstream\": ");
			cmd_json_string(out, info->upstream);
			g_string_append(out, ", \"state\": ");
			cmd_json_string(out, info->state);
			g_string_append(out, ", \"argv\": ");
			cmd_json_strv(out, info->argv);
			g_string_append_c(out, '}');
		}
		g_string_append(out, "]\n");
		fputs(out->str, stdout);
		return CMD_OK;
	}
	printf("%-24s %8s %-8s %-12s %-13s %s\n", "NAME", "PID", "DISPLAY",
	       "UPSTREAM", "STATE", "COMMAND");
	for (guint i = 0; i < sessions->len; i++) {
		SessInfo *info = g_ptr_array_index(sessions, i);
		g_autofree char *cmdline = sessinfo_command_line(info);

		printf("%-24s %8d %-8s %-12s %-13s %s\n", info->name,
		       (int)info->pid, info->display ? info->display : "-",
		       info->upstream ? info->upstream : "-",
		       info->state ? info->state : "running", cmdline);
	}
	return CMD_OK;
}
