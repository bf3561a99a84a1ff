/*
 * criu.c: the CRIU driver: finds the working criu, runs dump and restore,
 * and turns CRIU's failures into one-line errors that name its log.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "src/criu.h"

/* How long a restore waits for the pids of a tree that was just killed to be
 * released (DESIGN-NOTES: "Can't fork for N: File exists" right after a
 * dump that killed the tree). */
#define CRIU_PID_WAIT_MS 5000

G_DEFINE_QUARK(xckpt-criu-error-quark, criu_error)

char **criu_command(GError **error)
{
	const char *env = g_getenv("XCKPT_CRIU");
	g_autofree char *recorded = NULL;
	g_autofree char *path = NULL;

	if (env && *env)
		return g_strsplit(env, " ", -1);
#ifdef XCKPT_CRIU_PATH_FILE
	if (g_file_get_contents(XCKPT_CRIU_PATH_FILE, &recorded, NULL, NULL)) {
		g_strstrip(recorded);
		if (*recorded && g_file_test(recorded, G_FILE_TEST_IS_EXECUTABLE))
			return g_strsplit(recorded, " ", -1);
	}
#endif
	path = g_find_program_in_path("criu");
	if (path) {
		char **v = g_new0(char *, 2);
		v[0] = g_steal_pointer(&path);
		return v;
	}
	g_set_error(error, CRIU_ERROR, CRIU_ERROR_NOT_FOUND,
		    "no working criu: run 'make deps', or set XCKPT_CRIU");
	return NULL;
}

/* Builds the argv of a criu run: the criu command, then the NULL-terminated
 * ARGS.  Returns it (caller frees with g_ptr_array_unref) or NULL + ERROR. */
static GPtrArray *criu_argv(GError **error)
{
	g_auto(GStrv) cmd = criu_command(error);
	if (!cmd)
		return NULL;
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; cmd[i]; i++)
		g_ptr_array_add(a, g_strdup(cmd[i]));
	return a;
}

char *criu_version(GError **error)
{
	g_autoptr(GPtrArray) a = criu_argv(error);
	g_autofree char *out = NULL;
	int status;

	if (!a)
		return NULL;
	g_ptr_array_add(a, g_strdup("--version"));
	g_ptr_array_add(a, NULL);
	if (!g_spawn_sync(NULL, (char **)a->pdata, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
			  NULL, NULL, &out, NULL, &status, error))
		return NULL;
	/* "Version: 4.1.1" (and maybe a GitID line). */
	char *v = out ? strstr(out, "Version:") : NULL;
	if (!v || !g_spawn_check_wait_status(status, NULL)) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_NOT_FOUND,
			    "cannot tell the version of criu");
		return NULL;
	}
	v += strlen("Version:");
	return g_strstrip(g_strndup(v, strcspn(v, "\n")));
}

/* Adds CRIU's log level to argument vector A: information (-v3: errors,
 * warnings, and CRIU's version, which the checkpoint records without
 * another run of criu) unless XCKPT_DEBUG asks for everything (-v4 logs
 * cost dump time: ~0.05 s on 200 MB here).  XCKPT_DEBUG=times keeps -v3:
 * the phase timings are then those of a normal run. */
static void criu_add_verbosity(GPtrArray *a)
{
	const char *debug = g_getenv("XCKPT_DEBUG");
	gboolean all = debug && *debug && strcmp(debug, "0") != 0 &&
		       strcmp(debug, "times") != 0;

	g_ptr_array_add(a, g_strdup(all ? "-v4" : "-v3"));
}

char *criu_log_version(const char *log_text)
{
	const char *v = log_text ? strstr(log_text, "Version: ") : NULL;

	if (v == NULL) {
		char *asked = criu_version(NULL);
		return asked ? asked : g_strdup("unknown");
	}
	v += strlen("Version: ");
	return g_strndup(v, strcspn(v, " \n"));
}

/* The first "Error (...)" line of CRIU's log LOG that is not the harmless
 * RLIMIT_NOFILE one, without its prefix (caller frees), or NULL. */
static char *criu_first_error(const char *log)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(log, &text, NULL, NULL))
		return NULL;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		const char *e = strstr(lines[i], "Error (");
		if (!e || strstr(e, "RLIMIT_NOFILE"))
			continue;
		const char *msg = strstr(e, "): ");
		return g_strstrip(g_strdup(msg ? msg + 3 : e));
	}
	return NULL;
}

/* Runs in criu's process before exec: its own process group, so that a
 * Ctrl-C on the terminal reaches xckpt (which finishes or undoes the work
 * cleanly) and never kills CRIU halfway through freezing the tree. */
static void criu_child_setup(gpointer ud)
{
	setpgid(0, 0);
}

/* Runs the criu command line ARGV with the caller's fds FDS (N of them)
 * kept open at the same numbers, and waits for it, calling PROGRESS(UD)
 * every CRIU_PROGRESS_MS meanwhile (when not NULL).  Returns its wait
 * status, or -1 with ERROR set when it could not be started. */
static int criu_run(GPtrArray *argv, const int *fds, guint n,
		    void (*progress)(gpointer), gpointer ud, GError **error)
{
	GPid pid;
	int status, pidfd;

	g_ptr_array_add(argv, NULL);
	if (!g_spawn_async_with_pipes_and_fds(NULL,
			(const char *const *)argv->pdata, NULL,
			G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
			G_SPAWN_STDERR_TO_DEV_NULL, criu_child_setup, NULL,
			-1, -1, -1, fds, fds, n, &pid, NULL, NULL, NULL, error))
		return -1;
	/* A pidfd wakes us the moment criu exits: no polling delay adds to
	 * the dump time. */
	pidfd = progress ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	while (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int r = poll(&p, 1, CRIU_PROGRESS_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0)
			break;
		progress(ud);
	}
	if (pidfd >= 0)
		close(pidfd);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
				    "cannot wait for criu: %s",
				    g_strerror(errno));
			return -1;
		}
	}
	return status;
}

/* Sets ERROR for a failed criu VERB: CRIU's first error and its LOG. */
static void criu_fail(GError **error, const char *verb, const char *log)
{
	g_autofree char *first = criu_first_error(log);
	g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
		    "criu %s failed: %s (log: %s)", verb,
		    first ? first : "no error in its log", log);
}

gboolean criu_dump(const CriuDump *opts, GError **error)
{
	g_autoptr(GPtrArray) a = criu_argv(error);
	int status;

	if (!a)
		return FALSE;
	g_ptr_array_add(a, g_strdup("dump"));
	g_ptr_array_add(a, g_strdup("-t"));
	g_ptr_array_add(a, g_strdup_printf("%d", (int)opts->pid));
	g_ptr_array_add(a, g_strdup("-D"));
	g_ptr_array_add(a, g_strdup(opts->images));
	g_ptr_array_add(a, g_strdup("-o"));
	g_ptr_array_add(a, g_strdup(opts->log));
	criu_add_verbosity(a);
	if (opts->leave_running)
		g_ptr_array_add(a, g_strdup("--leave-running"));
	/* Apps hold file locks (sqlite databases, mail folders): without
	 * this CRIU refuses the whole tree. */
	g_ptr_array_add(a, g_strdup("--file-locks"));
	/* An app's TCP connections (a mail server, a remote X display's
	 * upstream) come back closed, as after a network outage, and it
	 * connects again: a connection's state cannot outlive the peer's
	 * patience anyway, and without this CRIU refuses the whole tree. */
	g_ptr_array_add(a, g_strdup("--tcp-close"));
	/* The session's mount namespace is a copy of the host's: CRIU need
	 * not save what the host's mounts hold (tmpfs contents by tar); at
	 * restore they are bound from the host again.  Only the session's own
	 * mounts (its devpts) are CRIU's.  FUSE mounts are not in the copy
	 * at all (session.c detaches them): one the host has since lost
	 * could be neither bound nor dumped. */
	g_ptr_array_add(a, g_strdup("--external"));
	g_ptr_array_add(a, g_strdup("mnt[]"));
	for (guint i = 0; opts->external && opts->external[i]; i++) {
		g_ptr_array_add(a, g_strdup("--external"));
		g_ptr_array_add(a, g_strdup(opts->external[i]));
	}
	status = criu_run(a, NULL, 0, opts->progress, opts->progress_ud, error);
	if (status < 0)
		return FALSE;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		criu_fail(error, "dump", opts->log);
		return FALSE;
	}
	return TRUE;
}

/* Looks in restore log LOG for a pid CRIU could not take.  Returns it, or 0
 * when the failure was something else. */
static pid_t criu_busy_pid(const char *log)
{
	g_autofree char *text = NULL;
	const char *p;

	if (!g_file_get_contents(log, &text, NULL, NULL))
		return 0;
	p = strstr(text, "Can't fork for ");
	if (!p || !strstr(p, "File exists"))
		return 0;
	return (pid_t)strtol(p + strlen("Can't fork for "), NULL, 10);
}

/* Returns whether PID is held by a live (not zombie) process, and then its
 * command name in *COMM (caller frees). */
static gboolean criu_pid_held(pid_t pid, char **comm)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
	g_autofree char *stat = NULL;

	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return FALSE;
	char *open = strchr(stat, '('), *close = strrchr(stat, ')');
	if (!open || !close || close < open)
		return FALSE;
	if (close[1] && close[2] == 'Z')
		return FALSE;
	*comm = g_strndup(open + 1, close - open - 1);
	return TRUE;
}

pid_t criu_restore(const CriuRestore *opts, GError **error)
{
	g_autofree char *tmp = g_dir_make_tmp("xckpt-restore-XXXXXX", error);
	g_autofree char *pidfile = NULL;
	g_autofree char *text = NULL;
	gint64 deadline = g_get_monotonic_time() + CRIU_PID_WAIT_MS * 1000;
	pid_t root = -1;

	if (!tmp)
		return -1;
	pidfile = g_build_filename(tmp, "pid", NULL);
	for (;;) {
		g_autoptr(GPtrArray) a = criu_argv(error);
		g_autofree char *comm = NULL;
		if (!a)
			goto out;
		g_ptr_array_add(a, g_strdup("restore"));
		g_ptr_array_add(a, g_strdup("-D"));
		g_ptr_array_add(a, g_strdup(opts->images));
		g_ptr_array_add(a, g_strdup("-o"));
		g_ptr_array_add(a, g_strdup(opts->log));
		criu_add_verbosity(a);
		/* CRIU's work files (stats) go aside: the checkpoint
		 * directory is never written. */
		g_ptr_array_add(a, g_strdup("-W"));
		g_ptr_array_add(a, g_strdup(tmp));
		/* The session's mount namespace is restored over the
		 * host's root. */
		g_ptr_array_add(a, g_strdup("--root"));
		g_ptr_array_add(a, g_strdup("/"));
		g_ptr_array_add(a, g_strdup("--external"));
		g_ptr_array_add(a, g_strdup("mnt[]"));
		g_ptr_array_add(a, g_strdup("--restore-detached"));
		g_ptr_array_add(a, g_strdup("--restore-sibling"));
		g_ptr_array_add(a, g_strdup("--file-locks"));
		g_ptr_array_add(a, g_strdup("--tcp-close"));
		g_ptr_array_add(a, g_strdup("--pidfile"));
		g_ptr_array_add(a, g_strdup(pidfile));
		for (guint i = 0; i < opts->n_inherit; i++) {
			g_ptr_array_add(a, g_strdup("--inherit-fd"));
			g_ptr_array_add(a, g_strdup_printf("fd[%d]:%s",
					opts->inherit_fds[i],
					opts->inherit_keys[i]));
		}
		int status = criu_run(a, opts->inherit_fds, opts->n_inherit,
				      NULL, NULL, error);
		if (status < 0)
			goto out;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			break;
		pid_t busy = criu_busy_pid(opts->log);
		if (busy > 0 && criu_pid_held(busy, &comm)) {
			g_set_error(error, CRIU_ERROR, CRIU_ERROR_PID_BUSY,
				    "pid %d of the checkpoint is held by another "
				    "process (%s); end it and try again",
				    (int)busy, comm);
			goto out;
		}
		if (busy > 0 && g_get_monotonic_time() < deadline) {
			/* The old tree is still being released. */
			g_usleep(100 * 1000);
			continue;
		}
		criu_fail(error, "restore", opts->log);
		goto out;
	}
	if (!g_file_get_contents(pidfile, &text, NULL, error))
		goto out;
	root = (pid_t)strtol(text, NULL, 10);
	if (root <= 0) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "criu restore wrote no pid (log: %s)", opts->log);
		root = -1;
	}
out:
	g_unlink(pidfile);
	{
		g_autofree char *stats = g_build_filename(tmp, "stats-restore",
							  NULL);
		g_unlink(stats);
	}
	g_rmdir(tmp);
	return root;
}
