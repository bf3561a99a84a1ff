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

/* Sets ERROR for a failed criu VERB: CRIU's first error and its LOG. */
static void criu_fail(GError **error, const char *verb, const char *log)
{
	g_autofree char *first = criu_first_error(log);
	g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
		    "criu %s failed: %s (log: %s)", verb,
		    first ? first : "no error in its log", log);
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

/* A `criu swrk`: CRIU waiting for its request on a socket. */
struct CriuWorker {
	GPid pid;		/* the criu process, or 0 once reaped */
	int sk;			/* our end of its socket, or -1 */
	char *work;		/* its work directory (log, stats), next to
				 * the log, removed at the end (owned) */
	char *log;		/* where its log goes at the end (owned) */
};

CriuWorker *criu_worker_start(const char *log, const int *fds, guint n,
			      GError **error)
{
	g_autoptr(GPtrArray) a = criu_argv(error);
	g_autofree char *parent = g_path_get_dirname(log);
	g_autofree int *src = NULL;
	CriuWorker *w;
	int sk[2];

	if (!a)
		return NULL;
	w = g_new0(CriuWorker, 1);
	w->sk = -1;
	w->log = g_strdup(log);
	/* CRIU's work files (its log, stats) go aside, next to the log (the
	 * same file system, for the log's rename): the checkpoint directory
	 * holds nothing else, and a restore never writes there. */
	w->work = g_build_filename(parent, ".criu-XXXXXX", NULL);
	if (!g_mkdtemp_full(w->work, 0700)) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "cannot make a directory in %s: %s", parent,
			    g_strerror(errno));
		g_clear_pointer(&w->work, g_free);
		criu_worker_free(w);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "socketpair: %s", g_strerror(errno));
		criu_worker_free(w);
		return NULL;
	}
	w->sk = sk[0];
	/* criu gets its end of the socket and the fds FDS, each at its own
	 * number. */
	src = g_new(int, n + 1);
	if (n)
		memcpy(src, fds, n * sizeof(int));
	src[n] = sk[1];
	g_ptr_array_add(a, g_strdup("swrk"));
	g_ptr_array_add(a, g_strdup_printf("%d", sk[1]));
	g_ptr_array_add(a, NULL);
	if (!g_spawn_async_with_pipes_and_fds(NULL,
			(const char *const *)a->pdata, NULL,
			G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
			G_SPAWN_STDERR_TO_DEV_NULL, criu_child_setup, NULL,
			-1, -1, -1, src, src, n + 1, &w->pid, NULL, NULL, NULL,
			error)) {
		w->pid = 0;
		close(sk[1]);
		criu_worker_free(w);
		return NULL;
	}
	close(sk[1]);
	return w;
}

/* Hangs up on W's criu (which then exits, if it has not) and reaps it. */
static void criu_worker_reap(CriuWorker *w)
{
	int status;

	if (w->sk >= 0)
		close(w->sk);
	w->sk = -1;
	while (w->pid > 0 && waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
}

void criu_worker_free(CriuWorker *w)
{
	if (w == NULL)
		return;
	criu_worker_reap(w);
	if (w->work) {
		/* Whatever CRIU left there (stats, its log on a path that
		 * did not serve): the directory is ours. */
		GDir *d = g_dir_open(w->work, 0, NULL);
		const char *n;

		while (d && (n = g_dir_read_name(d))) {
			g_autofree char *p = g_build_filename(w->work, n, NULL);
			g_unlink(p);
		}
		if (d)
			g_dir_close(d);
		g_rmdir(w->work);
	}
	g_free(w->work);
	g_free(w->log);
	g_free(w);
}

/* What the code serving CRIU's notifications does (criu_worker_serve()). */
typedef struct {
	/* At action point SCRIPT ("post-dump", "post-restore", ...): FALSE,
	 * with ERROR, refuses it and makes CRIU fail.  May be NULL. */
	gboolean (*notify)(const char *script, gpointer ud, GError **error);
	void (*progress)(gpointer ud);	/* every CRIU_PROGRESS_MS; may be
					 * NULL */
	gpointer ud;			/* their argument */
} CriuServe;

/* Sends W's criu request TYPE with options O, answers its notifications as
 * SERVE says until its response, then reaps it and moves its log into
 * place.  Returns TRUE with *RESP (clear it) when CRIU answered, succeeded
 * or not; *REFUSED then says whether SERVE refused a notification, and
 * ERROR is the refusal's.  Returns FALSE with ERROR when CRIU ended
 * without answering or answered nonsense. */
static gboolean criu_worker_serve(CriuWorker *w, CriurpcType type,
				  CriurpcOpts *o, const CriuServe *serve,
				  CriurpcResp *resp, gboolean *refused_out,
				  GError **error)
{
	g_autoptr(GBytes) req = NULL;
	gboolean refused = FALSE;
	gboolean answered = FALSE;

	memset(resp, 0, sizeof(*resp));
	/* CRIU opens the images and work directories through
	 * /proc/OUR_PID/fd/N: they need not be inherited. */
	o->work_dir_fd = open(w->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	o->log_file = "criu.log";
	o->log_level = criu_verbosity();
	o->notify_scripts = TRUE;
	req = criurpc_request(type, o);
	if (o->work_dir_fd < 0) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "cannot open %s: %s", w->work, g_strerror(errno));
		goto out;
	}
	if (!criu_rpc_send(w->sk, req, error))
		goto out;
	for (;;) {
		guint8 buf[4096];
		g_autoptr(GBytes) reply = NULL;
		struct pollfd p = { .fd = w->sk, .events = POLLIN };
		ssize_t n;
		int r = poll(&p, 1, serve->progress ? CRIU_PROGRESS_MS : -1);

		if (r < 0 && errno != EINTR) {
			g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
				    "poll: %s", g_strerror(errno));
			goto out;
		}
		if (r <= 0) {
			if (r == 0)
				serve->progress(serve->ud);
			continue;
		}
		n = recv(w->sk, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!refused)
				g_set_error(error, CRIU_ERROR,
					    CRIU_ERROR_FAILED,
					    "criu ended without answering");
			goto out;
		}
		criurpc_resp_clear(resp);
		if ((gsize)n > sizeof(buf) ||
		    !criurpc_parse_response(buf, n, resp, NULL))
			goto bad;
		if (resp->type != CRIURPC_NOTIFY) {
			/* The answer; one of another type (EMPTY: CRIU
			 * refused the request itself) is a failure. */
			if (resp->type != type)
				resp->success = FALSE;
			answered = TRUE;
			goto out;
		}
		/* Once refused, CRIU is failing: every later point is
		 * refused too. */
		if (!refused && serve->notify && resp->script &&
		    !serve->notify(resp->script, serve->ud, error))
			refused = TRUE;
		reply = criurpc_notify_reply(!refused);
		if (!criu_rpc_send(w->sk, reply, refused ? NULL : error) &&
		    !refused)
			goto out;
	}
bad:
	criurpc_resp_clear(resp);
	if (!refused)
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "criu answered with a malformed message");
out:
	if (o->work_dir_fd >= 0)
		close(o->work_dir_fd);
	criu_worker_reap(w);
	{
		g_autofree char *log = g_build_filename(w->work, "criu.log",
							NULL);
		criu_move_log(log, w->log);
	}
	if (refused) {
		/* the refusal is the answer */
		answered = TRUE;
		resp->success = FALSE;
	}
	*refused_out = refused;
	return answered;
}

/* The notification hook of a dump: calls the CriuDump's dumped() at
 * "post-dump". */
static gboolean criu_dump_notify(const char *script, gpointer ud,
				 GError **error)
{
	const CriuDump *opts = ud;

	if (opts->dumped && strcmp(script, "post-dump") == 0)
		opts->dumped(opts->progress_ud);
	return TRUE;
}

/* The progress hook of a dump: the CriuDump's progress(). */
static void criu_dump_progress(gpointer ud)
{
	const CriuDump *opts = ud;

	opts->progress(opts->progress_ud);
}

gboolean criu_dump(CriuWorker *w, const CriuDump *opts, GError **error)
{
	g_autoptr(GPtrArray) external = g_ptr_array_new();
	g_auto(CriurpcResp) resp = { 0 };
	CriurpcOpts o = { .pid = opts->pid,
			  .leave_running = opts->leave_running,
			  /* Apps hold file locks (sqlite databases, mail
			   * folders): without this CRIU refuses the whole
			   * tree. */
			  .file_locks = TRUE,
			  /* An app's TCP connections (a mail server, a
			   * remote X display's upstream) come back closed,
			   * as after a network outage, and it connects
			   * again: a connection's state cannot outlive the
			   * peer's patience anyway, and without this CRIU
			   * refuses the whole tree. */
			  .tcp_close = TRUE };
	CriuServe serve = { .notify = criu_dump_notify,
			    .progress = opts->progress ? criu_dump_progress
						       : NULL,
			    .ud = (gpointer)opts };
	int fd = open(opts->images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	gboolean refused;

	if (fd < 0) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "cannot open %s: %s", opts->images,
			    g_strerror(errno));
		criu_worker_reap(w);
		return FALSE;
	}
	/* The session's mount namespace is a copy of the host's: CRIU need
	 * not save what the host's mounts hold (tmpfs contents by tar); at
	 * restore they are bound from the host again.  Only the session's own
	 * mounts (its devpts) are CRIU's.  FUSE mounts are not in the copy
	 * at all (session.c detaches them): one the host has since lost
	 * could be neither bound nor dumped. */
	g_ptr_array_add(external, "mnt[]");
	for (guint i = 0; opts->external && opts->external[i]; i++)
		g_ptr_array_add(external, (gpointer)opts->external[i]);
	g_ptr_array_add(external, NULL);
	o.external = (const char *const *)external->pdata;
	o.images_dir_fd = fd;
	if (!criu_worker_serve(w, CRIURPC_DUMP, &o, &serve, &resp, &refused,
			       error) || !resp.success) {
		close(fd);
		g_clear_error(error);
		criu_fail(error, "dump", w->log);
		return FALSE;
	}
	close(fd);
	return TRUE;
}

/* The notification hook of a restore: the CriuRestore's gate at
 * "post-restore" (every process restored, none running yet; a refusal
 * makes CRIU kill the tree). */
static gboolean criu_restore_notify(const char *script, gpointer ud,
				    GError **error)
{
	const CriuRestore *opts = ud;

	if (opts->gate && strcmp(script, "post-restore") == 0)
		return opts->gate(opts->gate_ud, error);
	return TRUE;
}

/* One restore by a new `criu swrk` (see criu_restore()).  Returns the
 * restored root's pid; else -1 with ERROR, and *CRIU_FAILED set when CRIU
 * itself failed (see its log), not the gate. */
static pid_t criu_restore_once(const CriuRestore *opts, int images,
			       gboolean *criu_failed, GError **error)
{
	const char *const external[] = { "mnt[]", NULL };
	CriurpcOpts o = { .images_dir_fd = images,
			  /* The session's mount namespace is restored over
			   * the host's root. */
			  .root = "/", .external = external,
			  .inherit_fds = opts->inherit_fds,
			  .inherit_keys = opts->inherit_keys,
			  .n_inherit = opts->n_inherit,
			  .file_locks = TRUE, .tcp_close = TRUE,
			  .rst_sibling = TRUE };
	CriuServe serve = { .notify = criu_restore_notify,
			    .ud = (gpointer)opts };
	g_auto(CriurpcResp) resp = { 0 };
	g_autoptr(CriuWorker) w = criu_worker_start(opts->log,
						     opts->inherit_fds,
						     opts->n_inherit, error);

	gboolean refused;

	*criu_failed = FALSE;
	if (w == NULL)
		return -1;
	if (!criu_worker_serve(w, CRIURPC_RESTORE, &o, &serve, &resp, &refused,
			       error)) {
		*criu_failed = TRUE;
		return -1;
	}
	if (refused)	/* the gate's error */
		return -1;
	if (!resp.success || resp.pid <= 0) {
		*criu_failed = TRUE;
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "criu restore failed");
		return -1;
	}
	return resp.pid;
}

pid_t criu_restore(const CriuRestore *opts, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + CRIU_PID_WAIT_MS * 1000;
	int images = open(opts->images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pid_t root = -1;

	if (images < 0) {
		g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "cannot open %s: %s", opts->images,
			    g_strerror(errno));
		return -1;
	}
	for (;;) {
		g_autofree char *comm = NULL;
		gboolean criu_failed;

		root = criu_restore_once(opts, images, &criu_failed, error);
		if (root > 0 || !criu_failed)
			break;
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
	close(images);
	return root;
}
