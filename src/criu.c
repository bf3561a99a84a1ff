/*
 * criu.c: the CRIU driver: finds the working criu, runs dump and restore,
 * and turns CRIU's failures into one-line errors that name its log.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "src/criu.h"
#include "src/criurpc.h"

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

/* CRIU's log level: information (-v3: errors,
 * warnings, and CRIU's version, which the checkpoint records without
 * another run of criu) unless XCKPT_DEBUG asks for everything (-v4 logs
 * cost dump time: ~0.05 s on 200 MB here).  XCKPT_DEBUG=times keeps -v3:
 * the phase timings are then those of a normal run. */
static int criu_verbosity(void)
{
	const char *debug = g_getenv("XCKPT_DEBUG");
	gboolean all = debug && *debug && strcmp(debug, "0") != 0 &&
		       strcmp(debug, "times") != 0;

	return all ? 4 : 3;
}

/* Adds CRIU's log level (criu_verbosity()) to argument vector A. */
static void criu_add_verbosity(GPtrArray *a)
{
	g_ptr_array_add(a, g_strdup_printf("-v%d", criu_verbosity()));
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

/* Moves CRIU's log FROM (in its work directory) to TO, across file
 * systems if need be; a missing FROM is fine. */
static void criu_move_log(const char *from, const char *to)
{
	g_autofree char *text = NULL;
	gsize n;

	if (rename(from, to) == 0)
		return;
	if (g_file_get_contents(from, &text, &n, NULL))
		g_file_set_contents_full(to, text, n,
					 G_FILE_SET_CONTENTS_NONE, 0600, NULL);
	g_unlink(from);
}

/* Sends message MSG to criu on socket SK.  Returns TRUE or FALSE with
 * ERROR. */
static gboolean criu_rpc_send(int sk, GBytes *msg, GError **error)
{
	gsize n;
	const void *p = g_bytes_get_data(msg, &n);

	while (send(sk, p, n, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "cannot talk to criu: %s", g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* One restore by `criu swrk` (see criu_restore()), its work files and log
 * (LOG_NAME) in directory WORK.  Returns the restored root's pid; else -1
 * with ERROR, and *GATE_FAILED set when the gate refused (CRIU then killed
 * the tree), or *CRIU_FAILED when CRIU reported a failure (see its log). */
static pid_t criu_restore_once(const CriuRestore *opts, const char *work,
			       const char *log_name, gboolean *gate_failed,
			       gboolean *criu_failed, GError **error)
{
	g_autoptr(GPtrArray) a = criu_argv(error);
	g_autoptr(GBytes) req = NULL;
	g_autofree int *src = NULL;
	const char *const external[] = { "mnt[]", NULL };
	CriurpcRestore r = { .log_file = log_name,
			     .log_level = criu_verbosity(), .root = "/",
			     .external = external,
			     .inherit_fds = opts->inherit_fds,
			     .inherit_keys = opts->inherit_keys,
			     .n_inherit = opts->n_inherit,
			     .file_locks = TRUE, .tcp_close = TRUE,
			     .rst_sibling = TRUE, .notify_scripts = TRUE };
	int sk[2] = { -1, -1 }, status;
	GPid pid = 0;
	pid_t root = -1;
	gboolean done = FALSE;

	*gate_failed = *criu_failed = FALSE;
	if (!a)
		return -1;
	/* CRIU opens these through /proc/OUR_PID/fd/N: they need not be
	 * inherited. */
	r.images_dir_fd = open(opts->images, O_RDONLY | O_DIRECTORY |
			       O_CLOEXEC);
	r.work_dir_fd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r.images_dir_fd < 0 || r.work_dir_fd < 0) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "cannot open %s: %s", r.images_dir_fd < 0 ?
			    opts->images : work, g_strerror(errno));
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "socketpair: %s", g_strerror(errno));
		goto out;
	}
	/* criu gets its end of the socket and the fds the tree inherits,
	 * each at its own number. */
	src = g_new(int, opts->n_inherit + 1);
	memcpy(src, opts->inherit_fds, opts->n_inherit * sizeof(int));
	src[opts->n_inherit] = sk[1];
	g_ptr_array_add(a, g_strdup("swrk"));
	g_ptr_array_add(a, g_strdup_printf("%d", sk[1]));
	g_ptr_array_add(a, NULL);
	if (!g_spawn_async_with_pipes_and_fds(NULL,
			(const char *const *)a->pdata, NULL,
			G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
			G_SPAWN_STDERR_TO_DEV_NULL, criu_child_setup, NULL,
			-1, -1, -1, src, src, opts->n_inherit + 1, &pid, NULL,
			NULL, NULL, error))
		goto out;
	close(sk[1]);
	sk[1] = -1;
	req = criurpc_restore_request(&r);
	if (!criu_rpc_send(sk[0], req, error))
		goto out;
	while (!done) {
		guint8 buf[4096];
		g_auto(CriurpcResp) resp = { 0 };
		g_autoptr(GBytes) reply = NULL;
		ssize_t n = recv(sk[0], buf, sizeof(buf), MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* criu ended without a response */
			*criu_failed = TRUE;
			g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
				    "criu ended without answering");
			goto out;
		}
		if ((gsize)n > sizeof(buf) ||
		    !criurpc_parse_response(buf, n, &resp, error))
			goto bad;
		if (resp.type == CRIURPC_NOTIFY) {
			/* Every action point is reported; the gate is at
			 * "post-restore": every process restored, none
			 * running yet, and a refusal kills the tree. */
			gboolean ok = TRUE;
			if (opts->gate &&
			    g_strcmp0(resp.script, "post-restore") == 0 &&
			    !opts->gate(opts->gate_ud, error)) {
				ok = FALSE;
				*gate_failed = TRUE;
			}
			reply = criurpc_notify_reply(ok);
			if (!criu_rpc_send(sk[0], reply, ok ? error : NULL) &&
			    ok)
				goto out;
			continue;
		}
		if (resp.type != CRIURPC_RESTORE)
			goto bad;
		if (*gate_failed)
			goto out;
		if (!resp.success || resp.pid <= 0) {
			*criu_failed = TRUE;
			g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
				    "criu restore failed");
			goto out;
		}
		root = resp.pid;
		done = TRUE;
	}
	goto out;
bad:
	g_clear_error(error);
	*criu_failed = TRUE;
	g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
		    "criu answered with a malformed message");
out:
	if (sk[0] >= 0)
		close(sk[0]);
	if (sk[1] >= 0)
		close(sk[1]);
	if (r.images_dir_fd >= 0)
		close(r.images_dir_fd);
	if (r.work_dir_fd >= 0)
		close(r.work_dir_fd);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return root;
}

pid_t criu_restore(const CriuRestore *opts, GError **error)
{
	/* CRIU's work files (stats) go aside, next to the log (the same file
	 * system, for the log's rename): the checkpoint directory is never
	 * written. */
	g_autofree char *parent = g_path_get_dirname(opts->log);
	g_autofree char *work = g_build_filename(parent, ".criu-XXXXXX", NULL);
	g_autofree char *log = NULL;
	gint64 deadline = g_get_monotonic_time() + CRIU_PID_WAIT_MS * 1000;
	pid_t root = -1;

	if (!g_mkdtemp_full(work, 0700)) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "cannot make a directory in %s: %s", parent,
			    g_strerror(errno));
		return -1;
	}
	log = g_build_filename(work, "restore.log", NULL);
	for (;;) {
		g_autofree char *comm = NULL;
		gboolean gate_failed, criu_failed;

		root = criu_restore_once(opts, work, "restore.log",
					 &gate_failed, &criu_failed, error);
		if (root > 0 || gate_failed)
			break;
		criu_move_log(log, opts->log);
		/* What the gate says comes first: a checkpoint that fails
		 * its verification explains any failure of CRIU's. */
		if (opts->gate) {
			GError *verdict = NULL;
			if (!opts->gate(opts->gate_ud, &verdict)) {
				g_clear_error(error);
				g_propagate_error(error, verdict);
				break;
			}
		}
		if (!criu_failed)
			break;
		g_clear_error(error);
		pid_t busy = criu_busy_pid(opts->log);
		if (busy > 0 && criu_pid_held(busy, &comm)) {
			g_set_error(error, CRIU_ERROR, CRIU_ERROR_PID_BUSY,
				    "pid %d of the checkpoint is held by another "
				    "process (%s); end it and try again",
				    (int)busy, comm);
			break;
		}
		if (busy > 0 && g_get_monotonic_time() < deadline) {
			/* The old tree is still being released. */
			g_usleep(100 * 1000);
			continue;
		}
		criu_fail(error, "restore", opts->log);
		break;
	}
	g_unlink(log);
	{
		g_autofree char *stats = g_build_filename(work, "stats-restore",
							  NULL);
		g_unlink(stats);
	}
	g_rmdir(work);
	return root;
}
