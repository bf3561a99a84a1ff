/*
 * cmd-restart.c: `xckpt restart DIR [--name NAME] [--display DISPLAY]
 * [--detach]`: brings a session back from a checkpoint directory.
 *
 * 1. The directory is verified (owner, format version, manifest) before
 *    CRIU sees it; nothing in it is ever written.
 * 2. CRIU restores the tree as a child of this process (waiting for the pids
 *    of a tree that was just killed; naming the process that holds one).
 * 3. RESUME tells the restored daemon it is back (and its new name); it
 *    lists itself again.
 * 4. In the foreground, like `xckpt run`, the app's output is passed through
 *    and the app's status becomes ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "src/ckptdir.h"
#include "src/cmd.h"
#include "src/control.h"
#include "src/criu.h"
#include "src/sessinfo.h"
#include "src/statedir.h"

/* Fails with a one-line error when session name NAME (in state directory
 * DIR) belongs to a live session.  ORIGINAL says NAME is the checkpoint's
 * own session (whose processes hold the pids a restore needs), else NAME is
 * the name asked for with --name. */
static gboolean cmd_restart_name_free(const char *dir, const char *name,
				      gboolean original, GError **error)
{
	g_autofree char *sock = statedir_file(dir, name, "sock");
	g_autofree char *info_path = statedir_file(dir, name, "session");
	g_autoptr(SessInfo) info = NULL;
	g_autoptr(GError) e = NULL;
	int fd = control_connect(sock, &e);

	if (fd < 0)
		return TRUE;
	close(fd);
	info = sessinfo_load(info_path, NULL);
	if (original)
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IN_USE,
			    "session '%s' of this checkpoint still runs (daemon "
			    "pid %d) and holds its pids; end it first (xckpt "
			    "kill %s)", name, info ? (int)info->pid : 0, name);
	else
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IN_USE,
			    "session name '%s' is in use (daemon pid %d); "
			    "choose another --name", name,
			    info ? (int)info->pid : 0);
	return FALSE;
}

/* Restores the tree of checkpoint META (IMAGES) as a child of this
 * process, CRIU logging to LOG, and RESUMEs its daemon as session NAME (in
 * state directory DIR).  Returns the daemon's pid, or -1 with ERROR. */
static pid_t cmd_restart_restore(const char *dir, const char *name,
				 const CkptMeta *meta, const char *images,
				 const char *log, GError **error)
{
	CriuRestore r = { .images = images, .log = log };
	pid_t root = criu_restore(&r, error);

	if (root < 0) {
		/* What CRIU may have bound before failing goes; its log
		 * (named in the error) stays.  The name was free. */
		statedir_remove(dir, meta->session);
		statedir_remove(dir, name);
		/* A busy pid's message says it all; other failures name
		 * the log. */
		if (g_error_matches(*error, CRIU_ERROR, CRIU_ERROR_PID_BUSY))
			g_unlink(log);
		return -1;
	}
	if (!cmd_checkpoint_resume(dir, meta->session, CONTROL_RESUME_RESTORED,
				   strcmp(name, meta->session) ? name : NULL,
				   error)) {
		g_prefix_error(error, "session %s restored (pid %d), but: ",
			       name, (int)root);
		return -1;
	}
	g_unlink(log);
	return root;
}

/* Stays in the foreground with restored session NAME (state directory
 * DIR, keeper KEEPER): attaches this terminal when the session has one and
 * we are on one, else passes its output through like `xckpt run`.  Returns
 * the exit status. */
static int cmd_restart_foreground(const char *dir, const char *name,
				  pid_t keeper)
{
	g_autofree char *sock = statedir_file(dir, name, "sock");
	g_autofree char *info_path = statedir_file(dir, name, "session");
	g_autoptr(SessInfo) info = sessinfo_load(info_path, NULL);
	g_autoptr(GError) error = NULL;
	guint32 hello[2] = { GUINT32_TO_LE(CONTROL_VERSION),
			     GUINT32_TO_LE(CONTROL_HELLO_OUTPUT) };
	int fd = control_connect(sock, &error);

	if (fd < 0 || !control_send(fd, CONTROL_HELLO, hello, sizeof(hello),
				    &error)) {
		cmd_error("session %s: %s", name, error->message);
		return CMD_FAIL;
	}
	if (info != NULL && info->terminal && attach_check_terminal(NULL)) {
		AttachOptions ao = { .name = name, .sock_path = sock,
				     .info_path = info_path,
				     .hello_pending = TRUE };
		return attach_run(fd, &ao, NULL);
	}
	return cmd_run_foreground(fd, keeper, dir, name);
}

/* `xckpt restart DIR [--name NAME] [--display DISPLAY] [--detach]`. */
int cmd_restart_exec(int argc, char **argv)
{
	const CmdEntry *entry = cmd_find("restart");
	g_autofree char *name = NULL;
	g_autofree char *display = NULL;
	gboolean detach = FALSE;
	const GOptionEntry entries[] = {
		{ "name", 'n', 0, G_OPTION_ARG_STRING, &name,
		  "Name the restored session NAME (default: its old name)",
		  "NAME" },
		{ "display", 'd', 0, G_OPTION_ARG_STRING, &display,
		  "Show the session's X apps on DISPLAY (default: $DISPLAY)",
		  "DISPLAY" },
		{ "detach", 'D', 0, G_OPTION_ARG_NONE, &detach,
		  "Return once the session runs; print its name as the last "
		  "line", NULL },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(CkptMeta) meta = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *images = NULL;
	g_autofree char *log = NULL;
	const char *ckpt;
	pid_t root, keeper;
	int report[2];

	if (!cmd_parse(entry, entries,
		       "Restores the session of checkpoint directory DIR with "
		       "CRIU: every process\ncomes back as it was.  The "
		       "directory is verified first and never changed.\n"
		       "Without --detach, xckpt stays in the foreground like "
		       "'xckpt run'.",
		       FALSE, &argc, &argv))
		return CMD_USAGE;
	if (!cmd_one_arg(entry, argc, argv, "checkpoint DIR"))
		return CMD_USAGE;
	ckpt = argv[1];
	if (name != NULL && !statedir_name_valid(name, &error))
		return cmd_usage_error(entry, "%s", error->message);
	meta = ckptdir_verify(ckpt, &error);
	if (meta == NULL) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	if (meta->display != NULL) {
		cmd_error("%s: restarting X sessions is not supported yet", ckpt);
		return CMD_FAIL;
	}
	if (name == NULL)
		name = g_strdup(meta->session);
	dir = statedir_ensure(&error);
	if (dir == NULL ||
	    !cmd_restart_name_free(dir, meta->session, TRUE, &error) ||
	    (strcmp(name, meta->session) != 0 &&
	     !cmd_restart_name_free(dir, name, FALSE, &error))) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	images = g_build_filename(ckpt, "images", NULL);
	log = statedir_file(dir, name, "restore.log");
	/* The restored daemon becomes the child of whoever runs CRIU: a
	 * keeper child (cmd_keep()) that reaps it and its orphans, whether we
	 * stay in the foreground or not (the user may detach). */
	if (!g_unix_open_pipe(report, FD_CLOEXEC, &error)) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	fflush(stdout);
	fflush(stderr);
	keeper = fork();
	if (keeper < 0) {
		cmd_error("fork: %s", g_strerror(errno));
		return CMD_FAIL;
	}
	if (keeper == 0) {
		close(report[0]);
		root = cmd_restart_restore(dir, name, meta, images, log, &error);
		if (root < 0) {
			g_autofree char *m = g_strdup_printf("e%s",
							     error->message);
			if (write(report[1], m, strlen(m)) < 0)
				_exit(1);
			_exit(1);
		}
		if (write(report[1], "o", 1) < 0)
			_exit(1);
		cmd_keep(root);
	}
	close(report[1]);
	if (!cmd_run_wait_ready(report[0], &error)) {
		close(report[0]);
		cmd_error("%s", error->message);
		waitpid(keeper, NULL, 0);
		return CMD_FAIL;
	}
	close(report[0]);
	if (detach) {
		printf("%s\n", name);
		return CMD_OK;
	}
	return cmd_restart_foreground(dir, name, keeper);
}
