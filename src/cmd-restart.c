/*
 * cmd-restart.c: `xckpt restart DIR [--name NAME] [--display DISPLAY]
 * [--detach]`: brings a session back from a checkpoint directory.
 *
 * 1. The directory is verified (owner, format version, manifest, every
 *    file CRIU parses) before CRIU sees it; nothing in it is ever written.
 * 2. CRIU restores the tree as a child of this process (waiting for the pids
 *    of a tree that was just killed; naming the process that holds one),
 *    while a thread sums the page images; the tree runs only if they match
 *    (cmd_restart_gate()).
 * 3. RESUME tells the restored daemon it is back (and its new name); it
 *    lists itself again.
 * 4. In the foreground, like `xckpt run`, the app's output is passed through
 *    and the app's status becomes ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/un.h>
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
#include "src/reaper.h"
#include "src/sessinfo.h"
#include "src/statedir.h"
#include "xproxy/xproxy.h"

/* The X side of a restart: where the session's X apps come back. */
typedef struct {
	const char *display;	/* the X display to come back on, or NULL
				 * for a session without one (not owned) */
	int *fds;		/* CRIU's placeholders for the proxy's old
				 * server connections (owned, closed after
				 * RESUME) */
	int *peers;		/* the other ends (owned, closed likewise) */
	char **keys;		/* their keys, "socket:[INODE]" (owned) */
	guint n;		/* how many */
} CmdRestartX;

/* Checks, before CRIU runs, that checkpoint META's X apps can come back on
 * display X->display (its extensions, depths and visuals) and that the
 * proxy's own display number is free here; then makes a placeholder socket
 * for each of the proxy's server connections (--inherit-fd).  FALSE with a
 * one-line ERROR; the checkpoint is never touched. */
static gboolean cmd_restart_x_prepare(const CkptMeta *meta, CmdRestartX *x,
				      GError **error)
{
	g_auto(GStrv) ext = NULL, exts = NULL;
	g_autofree char *setup = NULL;
	g_autofree char *path = NULL;
	const char *num = strrchr(meta->display, ':');
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	gsize n = 0;
	gboolean taken;
	int fd;

	if (meta->extra) {
		ext = g_key_file_get_string_list(meta->extra, "x11", "external",
						 &n, NULL);
		exts = g_key_file_get_string_list(meta->extra, "x11",
						  "extensions", NULL, NULL);
		setup = g_key_file_get_string(meta->extra, "x11", "setup",
					      NULL);
	}
	if (!xproxy_check_display(x->display, setup,
				  (const char *const *)exts, error)) {
		g_prefix_error(error, "cannot restart the X apps here: ");
		return FALSE;
	}
	/* The proxy's listening sockets come back with the same names: the
	 * file and the abstract socket of the same name.  A killed
	 * session's abstract name may stay bound a moment: wait for it. */
	path = g_strdup_printf("/tmp/.X11-unix/X%s", num ? num + 1 : "");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	taken = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	for (int i = 0; !taken && i < 50; i++) {
		struct sockaddr_un aa = { .sun_family = AF_UNIX };
		gsize pl = MIN(strlen(path), sizeof(aa.sun_path) - 1);
		int r;

		memcpy(aa.sun_path + 1, path, pl);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		r = bind(fd, (struct sockaddr *)&aa,
			 offsetof(struct sockaddr_un, sun_path) + 1 + pl);
		close(fd);
		if (r == 0 || errno != EADDRINUSE)
			break;
		if (i == 49)
			taken = TRUE;
		else
			g_usleep(100000);
	}
	if (taken) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_IN_USE,
			    "display %s, the session's own, is taken on this "
			    "machine (%s or its abstract twin is bound); end "
			    "what serves it first", meta->display, path);
		return FALSE;
	}
	/* a stale socket file (the killed session's) is in CRIU's way */
	g_unlink(path);
	x->fds = g_new0(int, n + 1);
	x->peers = g_new0(int, n + 1);
	x->keys = g_new0(char *, n + 1);
	for (guint i = 0; i < n; i++) {
		guint64 inode;
		int sv[2];

		if (sscanf(ext[i], "unix[%" G_GUINT64_FORMAT "]", &inode) != 1)
			continue;
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
			g_set_error(error, CONTROL_ERROR_DOMAIN,
				    CONTROL_ERROR_IO, "socketpair: %s",
				    g_strerror(errno));
			return FALSE;
		}
		/* sv[1] stays open until RESUME: the restored proxy must not
		 * see its placeholder close before it has a new server */
		fcntl(sv[1], F_SETFD, FD_CLOEXEC);
		x->fds[x->n] = sv[0];
		x->peers[x->n] = sv[1];
		x->keys[x->n] = g_strdup_printf("socket:[%" G_GUINT64_FORMAT
						"]", inode);
		x->n++;
	}
	return TRUE;
}

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

/* Closes X's placeholder sockets (once the restored proxy has its new
 * server connections, or in the process that does not restore). */
static void cmd_restart_x_close(const CmdRestartX *x)
{
	for (guint i = 0; i < x->n; i++) {
		close(x->fds[i]);
		close(x->peers[i]);
	}
}

/* CRIU's gate (CriuRestore): the restored tree may run only once the page
 * images PENDING (a CkptVerify) match the manifest.  Why the verification
 * may overlap the restore at all: everything CRIU parses has been verified
 * before it starts (ckptdir_verify_begin()), and the page images' sizes;
 * what is left is the bytes CRIU copies into the tree's memory, which no
 * process reads before this gate opens.  A checkpoint that does not match
 * is refused with the same one-line error as before, CRIU kills the tree
 * it made, and nothing on disk changes.  (Summing the 200 MB of the
 * benchmark takes ~9 ms on two cores, 9% of the restore, before.) */
static gboolean cmd_restart_gate(gpointer ud, GError **error)
{
	return ckptdir_verify_finish(ud, error);
}

/* Restores the tree of checkpoint META (IMAGES) as a child of this
 * process, CRIU logging to LOG, with the page images PENDING summed
 * meanwhile (the tree runs only if they match), and RESUMEs its daemon as
 * session NAME (in state directory DIR).  Returns the daemon's pid, or -1
 * with ERROR. */
static pid_t cmd_restart_restore(const char *dir, const char *name,
				 const CkptMeta *meta, const char *images,
				 const char *log, const CmdRestartX *x,
				 CkptVerify *pending, GError **error)
{
	CriuRestore r = { .images = images, .log = log,
			  .inherit_fds = x->fds,
			  .inherit_keys = (const char *const *)x->keys,
			  .n_inherit = x->n,
			  .gate = cmd_restart_gate, .gate_ud = pending };
	gint64 t = g_get_monotonic_time();
	pid_t root;

	/* The page images are summed beside CRIU's restore, on one thread:
	 * CRIU's copy of them into the tree's memory takes most of one
	 * core, summing them on the other is hidden, and on two cores a
	 * second summing thread would slow CRIU more than it gains. */
	ckptdir_verify_start(pending, 1);
	root = criu_restore(&r, error);

	cmd_phase(&t, "restart", "criu restore");

	if (root < 0) {
		/* What CRIU may have bound before failing goes; its log
		 * (named in the error) stays.  The name was free. */
		statedir_remove(dir, meta->session);
		statedir_remove(dir, name);
		/* CRIU's failures name its log, which stays; a busy pid's
		 * message or the verification's (CRIU killed the tree at
		 * the gate) says it all. */
		if (!g_error_matches(*error, CRIU_ERROR, CRIU_ERROR_FAILED))
			g_unlink(log);
		if (meta->display != NULL &&
		    strstr((*error)->message, "Address already in use")) {
			/* another proxy took the session's display number
			 * between our check and CRIU's bind */
			g_prefix_error(error, "display %s, the session's own, "
				       "is taken on this machine (bound while "
				       "restoring): ", meta->display);
		}
		return -1;
	}
	if (!cmd_checkpoint_resume(dir, meta->session, CONTROL_RESUME_RESTORED,
				   x->display,
				   strcmp(name, meta->session) ? name : NULL,
				   error)) {
		g_prefix_error(error, "session %s restored (pid %d), but: ",
			       name, (int)root);
		return -1;
	}
	cmd_phase(&t, "restart", "resume");
	g_unlink(log);
	cmd_restart_x_close(x);
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
	g_autoptr(CkptVerify) pending = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *images = NULL;
	g_autofree char *log = NULL;
	const char *ckpt;
	CmdRestartX x = { 0 };
	pid_t root, keeper;
	gint64 t = g_get_monotonic_time();
	int report[2];

	if (!cmd_parse(entry, entries,
		       "Restores the session of checkpoint directory DIR with "
		       "CRIU: every process\ncomes back as it was.  The "
		       "directory is verified and never changed.\n"
		       "Without --detach, xckpt stays in the foreground like "
		       "'xckpt run'.",
		       FALSE, &argc, &argv))
		return CMD_USAGE;
	if (!cmd_one_arg(entry, argc, argv, "checkpoint DIR"))
		return CMD_USAGE;
	ckpt = argv[1];
	if (name != NULL && !statedir_name_valid(name, &error))
		return cmd_usage_error(entry, "%s", error->message);
	meta = ckptdir_verify_begin(ckpt, &pending, &error);
	cmd_phase(&t, "restart", "verify (all but the page images)");
	if (meta == NULL) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	if (meta->display != NULL) {
		x.display = display ? display : g_getenv("DISPLAY");
		if (x.display == NULL || !*x.display) {
			cmd_error("%s: an X session: no display to restart it "
				  "on (set DISPLAY or give --display)", ckpt);
			return CMD_FAIL;
		}
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
	if (meta->display != NULL && !cmd_restart_x_prepare(meta, &x, &error)) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	cmd_phase(&t, "restart", "checks");
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
		/* The orphans of a tree that CRIU killed (a checkpoint that
		 * failed its verification at the gate, a late failure of
		 * CRIU's) come here, and are gone before the failure is
		 * reported. */
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
		root = cmd_restart_restore(dir, name, meta, images, log, &x,
					   pending, &error);
		if (root < 0) {
			g_autofree char *m = g_strdup_printf("e%s",
							     error->message);
			reaper_signal_descendants(getpid(), SIGKILL);
			while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
				;
			if (write(report[1], m, strlen(m)) < 0)
				_exit(1);
			_exit(1);
		}
		if (write(report[1], "o", 1) < 0)
			_exit(1);
		cmd_keep(root);
	}
	close(report[1]);
	cmd_restart_x_close(&x);
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
