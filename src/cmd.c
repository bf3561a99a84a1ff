/*
 * cmd.c: what the commands of `xckpt` share (see cmd.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "src/cmd.h"

/* The command table (set by main(), owned by it), NULL-name terminated. */
static const CmdEntry *cmd_table;

/* Sets the command table that cmd_find() searches. */
void cmd_set_table(const CmdEntry *table)
{
	cmd_table = table;
}

/* The command table's entry for NAME, or NULL (see cmd.h). */
const CmdEntry *cmd_find(const char *name)
{
	for (const CmdEntry *c = cmd_table; c != NULL && c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}
#include "src/control.h"
#include "src/reaper.h"
#include "src/statedir.h"

/* Prints the time phase WHAT of CMD took since *T (see cmd.h). */
void cmd_phase(gint64 *t, const char *cmd, const char *what)
{
	const char *debug = g_getenv("XCKPT_DEBUG");
	gint64 now = g_get_monotonic_time();

	if (debug && *debug && strcmp(debug, "0") != 0)
		fprintf(stderr, "xckpt: %s: %s %.3f s\n", cmd, what,
			(now - *t) / 1e6);
	*t = now;
}

/* Prints "xckpt: MESSAGE" as one line on stderr. */
void cmd_error(const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* One line, whatever the message holds. */
	g_strdelimit(msg, "\n", ' ');
	fprintf(stderr, "xckpt: %s\n", msg);
}

/* Prints a one-line usage error for ENTRY; returns CMD_USAGE. */
int cmd_usage_error(const CmdEntry *entry, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_strdelimit(msg, "\n", ' ');
	fprintf(stderr, "xckpt %s: %s (see 'xckpt %s --help')\n", entry->name,
		msg, entry->name);
	return CMD_USAGE;
}

/* Parses ENTRY's options; FALSE after a one-line error. */
gboolean cmd_parse(const CmdEntry *entry, const GOptionEntry *entries,
		   const char *description, gboolean strict_posix,
		   int *argc, char ***argv)
{
	g_autofree char *prgname = g_strdup_printf("xckpt %s", entry->name);
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;

	/* --help then says "Usage: xckpt NAME [OPTION…] USAGE". */
	g_set_prgname(prgname);
	ctx = g_option_context_new(entry->usage);

	g_option_context_set_summary(ctx, entry->summary);
	if (description != NULL)
		g_option_context_set_description(ctx, description);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_strict_posix(ctx, strict_posix);
	if (!g_option_context_parse(ctx, argc, argv, &error)) {
		cmd_usage_error(entry, "%s", error->message);
		return FALSE;
	}
	return TRUE;
}

/* Connects to live session NAME's daemon (see cmd.h). */
int cmd_session_open(const char *name, guint32 flags, char **dir,
		     SessInfo **info, GError **error)
{
	g_autofree char *d = statedir_path();
	g_autofree char *sock = NULL;
	g_autofree char *info_path = NULL;
	g_autoptr(GError) e = NULL;
	g_autoptr(SessInfo) si = NULL;
	int fd;

	if (!statedir_name_valid(name, NULL)) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_NO_DAEMON,
			    "no session named '%s'", name);
		return -1;
	}
	sock = statedir_file(d, name, "sock");
	info_path = statedir_file(d, name, "session");
	fd = control_open(sock, flags, &e);
	if (fd < 0 && g_error_matches(e, CONTROL_ERROR_DOMAIN,
				      CONTROL_ERROR_NO_DAEMON)) {
		/* A stale entry goes away with the error (under the lock: no
		 * `xckpt run` is taking the name meanwhile). */
		int lock = control_lock_dir(sock, NULL);

		if (lock >= 0 && g_file_test(info_path, G_FILE_TEST_EXISTS) &&
		    control_stale(sock))
			statedir_remove(d, name);
		if (lock >= 0)
			close(lock);
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_NO_DAEMON,
			    "no session named '%s'", name);
		return -1;
	}
	if (fd < 0) {
		g_propagate_error(error, g_steal_pointer(&e));
		return -1;
	}
	si = sessinfo_load(info_path, &e);
	if (si == NULL) {
		close(fd);
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_PROTOCOL,
			    "session %s: %s", name, e->message);
		return -1;
	}
	*dir = g_steal_pointer(&d);
	*info = g_steal_pointer(&si);
	return fd;
}

/* Becomes the keeper of CHILD, a detached session daemon (see cmd.h):
 * holds no fd, reaps CHILD and every orphan of its tree, and exits when none
 * is left. */
void cmd_keep(pid_t child)
{
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* The daemon's orphans (when it dies first, e.g. killed by a dump)
	 * come here too, and are reaped at once. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	for (;;) {
		pid_t pid = waitpid(-1, NULL, 0);

		if (pid < 0 && errno == ECHILD)
			break;
		/* The daemon is gone.  It ends its session before it exits,
		 * and a dump with --kill ends the whole tree: whatever is
		 * left was orphaned by a crash, has lost its proxy, output and
		 * control, and is ended too. */
		if (pid == child)
			reaper_signal_descendants(getpid(), SIGKILL);
	}
	_exit(0);
}

/* Checks for exactly one argument after the options (see cmd.h). */
gboolean cmd_one_arg(const CmdEntry *entry, int argc, char **argv,
		     const char *what)
{
	if (argc < 2) {
		cmd_usage_error(entry, "no %s given", what);
		return FALSE;
	}
	if (argc > 2) {
		cmd_usage_error(entry, "unexpected argument '%s'", argv[2]);
		return FALSE;
	}
	return TRUE;
}

/* How many times a session was restored (see cmd.h). */
guint cmd_session_restores(const char *info_path)
{
	g_autoptr(SessInfo) info = sessinfo_load(info_path, NULL);

	return info ? info->restores : 0;
}

/* One try at coming back to a session after PAUSE (see cmd.h). */
CmdComeBack cmd_come_back(const char *sock_path, const char *info_path,
			  guint restores, int *fd)
{
	g_autoptr(SessInfo) info = sessinfo_load(info_path, NULL);
	g_autoptr(GError) error = NULL;

	*fd = -1;
	if (info == NULL)
		/* checkpoint --kill removes the session's files. */
		return g_file_test(sock_path, G_FILE_TEST_EXISTS) ?
		       CMD_COME_BACK_WAIT : CMD_COME_BACK_ENDED;
	if (kill(info->pid, 0) < 0 || info->restores != restores)
		return CMD_COME_BACK_ENDED;
	if (g_strcmp0(info->state, "checkpointing") == 0)
		return CMD_COME_BACK_WAIT;
	*fd = control_open(sock_path, CONTROL_HELLO_OUTPUT, &error);
	return *fd >= 0 ? CMD_COME_BACK_OK : CMD_COME_BACK_WAIT;
}
