/*
 * cmd-checkpoint.c: `xckpt checkpoint NAME [--dir DIR] [--kill]`: dumps a
 * whole session to disk with CRIU.
 *
 * 1. CHECKPOINT to the daemon: it quiesces the session, answers with the
 *    facts to record, and hangs up on every client (a dumped tree may hold
 *    no connection to the outside).
 * 2. criu dump of the daemon's tree into a new checkpoint directory
 *    (ckptdir.h: written aside, fsync'd, renamed), leaving it running
 *    (default) or not (--kill).
 * 3. RESUME to the daemon (when it runs on), then the directory is
 *    committed and its path printed as the last line of stdout.
 * A failure anywhere leaves the previous checkpoints untouched and no
 * partial directory.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "src/ckptdir.h"
#include "src/cmd.h"
#include "src/control.h"
#include "src/criu.h"
#include "src/sessinfo.h"
#include "src/statedir.h"
#include "src/version.h"
#include "src/xwindows.h"

/* A checkpoint under way. */
typedef struct {
	const char *name;	/* the session */
	const char *images;	/* where CRIU writes */
	gint64 start;		/* monotonic start time, us */
	gboolean tty;		/* stderr is a terminal: show progress */
	gboolean shown;		/* a progress line is on the terminal */
	gint64 shown_at;	/* when it was last updated, us */
	const char *dir;	/* the state directory of the session */
	gboolean resume_early;	/* the session runs on: RESUME it the moment
				 * the images are complete */
	int resume_fd;		/* the connection a RESUME was sent on at
				 * that moment, awaiting the answer, or -1 */
} CmdCheckpoint;

/* Set by SIGINT, SIGTERM or SIGHUP during a checkpoint: once CRIU is done,
 * the checkpoint is undone (the session runs on, no directory is left). */
static volatile sig_atomic_t cmd_checkpoint_interrupted;

/* The handler of those signals. */
static void cmd_checkpoint_on_signal(int sig)
{
	cmd_checkpoint_interrupted = sig;
}

/* How often the progress line is updated, in us. */
#define CMD_CHECKPOINT_SHOW_US 250000

/* The default parent directory of NAME's checkpoints:
 * $XDG_DATA_HOME/xckpt/NAME (caller frees). */
char *cmd_checkpoint_default_parent(const char *name)
{
	return g_build_filename(g_get_user_data_dir(), "xckpt", name, NULL);
}

/* The size in bytes of the files below PATH. */
static guint64 cmd_checkpoint_du(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *n;
	guint64 total = 0;

	while (d && (n = g_dir_read_name(d))) {
		g_autofree char *full = g_build_filename(path, n, NULL);
		GStatBuf st;
		if (g_lstat(full, &st) == 0)
			total += S_ISDIR(st.st_mode) ? cmd_checkpoint_du(full)
						     : (guint64)st.st_size;
	}
	if (d)
		g_dir_close(d);
	return total;
}

/* CRIU's progress callback: shows how far the dump is on a terminal.
 * (The images are summed and pushed toward the disk as they grow by the
 * checkpoint writer's follower: ckptdir_follow().) */
static void cmd_checkpoint_progress(gpointer ud)
{
	CmdCheckpoint *ck = ud;
	gint64 now = g_get_monotonic_time();

	if (!ck->tty || now - ck->shown_at < CMD_CHECKPOINT_SHOW_US)
		return;
	fprintf(stderr, "\rxckpt: checkpointing %s: %.1f s, %.1f MB written ",
		ck->name, (now - ck->start) / 1e6,
		cmd_checkpoint_du(ck->images) / 1e6);
	ck->shown = TRUE;
	ck->shown_at = now;
}

/* Asks the daemon behind FD for a checkpoint; returns the facts it answers
 * with (caller frees) once it has hung up, or NULL with ERROR. */
static GKeyFile *cmd_checkpoint_prepare(int fd, GError **error)
{
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;
	guint32 type;
	gsize len;
	const char *data;

	if (!control_send(fd, CONTROL_CHECKPOINT, NULL, 0, error) ||
	    !control_recv(fd, &type, &body, error))
		return NULL;
	data = g_bytes_get_data(body, &len);
	if (type == CONTROL_ERROR) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_REFUSED,
			    "%.*s", (int)len, data);
		return NULL;
	}
	if (type != CONTROL_CHECKPOINT ||
	    !g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, NULL)) {
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_PROTOCOL,
			    "unexpected answer %s to CHECKPOINT",
			    control_type_name(type));
		return NULL;
	}
	/* The daemon hangs up once it has closed every connection. */
	g_clear_pointer(&body, g_bytes_unref);
	while (control_recv(fd, &type, &body, &local))
		g_clear_pointer(&body, g_bytes_unref);
	if (!g_error_matches(local, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_CLOSED)) {
		g_propagate_error(error, g_steal_pointer(&local));
		return NULL;
	}
	return g_steal_pointer(&kf);
}

static int cmd_checkpoint_resume_send(const char *dir, const char *name,
				      guint32 flags, const char *display,
				      const char *newname, GError **error);
static int cmd_checkpoint_resume_send_on(int fd, guint32 flags,
					 const char *display,
					 const char *newname, GError **error);
static gboolean cmd_checkpoint_resume_finish(int fd, GError **error);

/* CRIU's hook once the images are complete (CriuDump.dumped), the tree
 * still frozen: when the session runs on, its RESUME is sent now, and the
 * daemon reads it the moment CRIU lets it run, while CRIU finishes (~1 ms
 * earlier than after CRIU has exited).  The images being complete, what
 * the RESUME puts into the daemon's sockets is in none of them.  Nothing
 * here may wait for the daemon, which cannot answer before CRIU goes on,
 * which waits for us: when its backlog is full (other commands, `xckpt
 * list` in a loop, connected meanwhile), the RESUME waits until CRIU is
 * done, as it did before. */
static void cmd_checkpoint_dumped(gpointer ud)
{
	CmdCheckpoint *ck = ud;
	g_autofree char *sock = NULL;
	int fd;

	if (!ck->resume_early || ck->resume_fd >= 0)
		return;
	sock = statedir_file(ck->dir, ck->name, "sock");
	fd = control_connect_nowait(sock, NULL);
	if (fd >= 0)
		ck->resume_fd = cmd_checkpoint_resume_send_on(fd, 0, NULL,
							      NULL, NULL);
}

/* Tells the daemon of session NAME (in DIR) that the checkpoint is over.
 * FLAGS are CONTROL_RESUME_*; DISPLAY (or NULL) is the X display to come
 * back on; NEWNAME (or NULL) renames the session.  Returns FALSE with
 * ERROR. */
gboolean cmd_checkpoint_resume(const char *dir, const char *name,
			       guint32 flags, const char *display,
			       const char *newname, GError **error)
{
	int fd = cmd_checkpoint_resume_send(dir, name, flags, display, newname,
					    error);

	return fd >= 0 && cmd_checkpoint_resume_finish(fd, error);
}

/* Sends the RESUME of cmd_checkpoint_resume() without waiting for the
 * answer.  Returns the connection (for cmd_checkpoint_resume_finish()), or
 * -1 with ERROR. */
static int cmd_checkpoint_resume_send(const char *dir, const char *name,
				      guint32 flags, const char *display,
				      const char *newname, GError **error)
{
	g_autofree char *sock = statedir_file(dir, name, "sock");
	int fd = -1;

	/* A restored daemon may take a moment to listen again. */
	for (int i = 0; i < 100 && fd < 0; i++) {
		g_clear_error(error);
		fd = control_connect(sock, error);
		if (fd < 0)
			g_usleep(20000);
	}
	if (fd < 0)
		return -1;
	return cmd_checkpoint_resume_send_on(fd, flags, display, newname,
					     error);
}

/* Sends HELLO and the RESUME of cmd_checkpoint_resume() on FD, a
 * connection to the daemon, without waiting for the answers.  Returns FD,
 * or -1 with ERROR (FD closed). */
static int cmd_checkpoint_resume_send_on(int fd, guint32 flags,
					 const char *display,
					 const char *newname, GError **error)
{
	g_autoptr(GByteArray) body = g_byte_array_new();
	const guint32 hello[2] = { GUINT32_TO_LE(CONTROL_VERSION), 0 };
	guint32 le;

	if (display)
		flags |= CONTROL_RESUME_DISPLAY;
	le = GUINT32_TO_LE(flags);
	g_byte_array_append(body, (guint8 *)&le, 4);
	if (display)
		g_byte_array_append(body, (const guint8 *)display,
				    strlen(display) + 1);
	if (newname)
		g_byte_array_append(body, (const guint8 *)newname,
				    strlen(newname));
	/* HELLO and RESUME go together, and the answers are read after
	 * (cmd_checkpoint_resume_finish()): the daemon may be frozen by CRIU
	 * when they are sent (cmd_checkpoint_dumped()). */
	if (!control_send(fd, CONTROL_HELLO, hello, sizeof(hello), error) ||
	    !control_send(fd, CONTROL_RESUME, body->data, body->len, error)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits for the daemon's answer to the RESUME sent on FD, which it closes.
 * Returns TRUE, or FALSE with ERROR. */
static gboolean cmd_checkpoint_resume_finish(int fd, GError **error)
{
	g_autoptr(GBytes) reply = NULL;
	guint32 type;

	if (!control_hello_reply(fd, NULL, error) ||
	    !control_recv(fd, &type, &reply, error)) {
		close(fd);
		return FALSE;
	}
	close(fd);
	if (type != CONTROL_DONE) {
		gsize len;
		const char *text = g_bytes_get_data(reply, &len);
		g_set_error(error, CONTROL_ERROR_DOMAIN, CONTROL_ERROR_REFUSED,
			    "%.*s", (int)len, type == CONTROL_ERROR ? text : "");
		return FALSE;
	}
	return TRUE;
}

/* For a session with a display (FACTS), lists the top-level windows that
 * the session daemon DAEMON's connections have on the upstream display and
 * saves their thumbnails into the checkpoint WRITER is writing; the list
 * goes into WINDOWS.  A failure only costs the thumbnails (a log line with
 * XCKPT_DEBUG). */
static void cmd_checkpoint_windows(GKeyFile *facts, pid_t daemon,
				   CkptWriter *writer, GKeyFile *windows)
{
	g_autofree char *upstream = g_key_file_get_string(facts, "checkpoint",
							  "upstream", NULL);
	g_autoptr(GError) error = NULL;

	if (upstream == NULL)
		return;
	if (xwindows_snapshot(upstream, daemon, ckptdir_path(writer), windows,
			      &error) < 0 && g_getenv("XCKPT_DEBUG"))
		fprintf(stderr, "xckpt: no window thumbnails: %s\n",
			error->message);
}

/* Thumbnails taken on a thread of their own (cmd_checkpoint_windows()). */
typedef struct {
	GKeyFile *facts;	/* the daemon's facts (the caller's) */
	pid_t daemon;		/* the session daemon's pid */
	CkptWriter *writer;	/* the checkpoint being written (the
				 * caller's) */
	GKeyFile *windows;	/* where the windows go (the caller's) */
} CmdCheckpointShots;

/* The thread that takes the thumbnails that the CmdCheckpointShots UD
 * describes.  Returns NULL. */
static gpointer cmd_checkpoint_shots_thread(gpointer ud)
{
	CmdCheckpointShots *sh = ud;

	cmd_checkpoint_windows(sh->facts, sh->daemon, sh->writer, sh->windows);
	return NULL;
}

/* Waits for the thumbnail thread *SHOTS, if any, and clears it. */
static void cmd_checkpoint_shots_join(GThread **shots)
{
	if (*shots != NULL)
		g_thread_join(g_steal_pointer(shots));
}

/* Fills a checkpoint's metadata from the daemon's FACTS (caller frees). */
static CkptMeta *cmd_checkpoint_meta(GKeyFile *facts, const char *criu)
{
	CkptMeta *m = g_new0(CkptMeta, 1);
	const char *g = "checkpoint";
	struct utsname u;

	m->format = CKPTDIR_FORMAT_VERSION;
	m->session = g_key_file_get_string(facts, g, "session", NULL);
	m->argv = g_key_file_get_string_list(facts, g, "argv", NULL, NULL);
	m->cwd = g_key_file_get_string(facts, g, "cwd", NULL);
	m->env = g_key_file_get_string_list(facts, g, "env", NULL, NULL);
	m->display = g_key_file_get_string(facts, g, "display", NULL);
	m->upstream = g_key_file_get_string(facts, g, "upstream", NULL);
	m->time = g_get_real_time() / G_USEC_PER_SEC;
	m->xckpt_version = g_strdup(XCKPT_VERSION);
	m->criu_version = g_strdup(criu);
	m->kernel = g_strdup(uname(&u) == 0 ? u.release : "");
	if (g_key_file_has_group(facts, "x11")) {
		/* what a restart checks and needs: the proxy's server
		 * connections (CRIU externals), the extensions the clients
		 * use, their first set-up reply (depths, visuals) */
		g_auto(GStrv) keys = g_key_file_get_keys(facts, "x11", NULL,
							 NULL);
		m->extra = g_key_file_new();
		for (guint i = 0; keys && keys[i]; i++) {
			g_autofree char *v = g_key_file_get_value(
				facts, "x11", keys[i], NULL);
			g_key_file_set_value(m->extra, "x11", keys[i], v);
		}
	}
	return m;
}

/* `xckpt checkpoint NAME [--dir DIR] [--kill]`. */
int cmd_checkpoint_exec(int argc, char **argv)
{
	const CmdEntry *entry = cmd_find("checkpoint");
	g_autofree char *parent = NULL;
	gboolean kill_it = FALSE;
	gboolean no_sync = FALSE;
	const GOptionEntry entries[] = {
		{ "dir", 'd', 0, G_OPTION_ARG_FILENAME, &parent,
		  "Put the checkpoint in DIR/TIMESTAMP (default: "
		  "$XDG_DATA_HOME/xckpt/NAME)", "DIR" },
		{ "kill", 'k', 0, G_OPTION_ARG_NONE, &kill_it,
		  "End the session once it is dumped (default: it runs on)",
		  NULL },
		{ "no-sync", 0, 0, G_OPTION_ARG_NONE, &no_sync,
		  "Do not wait until the checkpoint is on the disk (the "
		  "kernel writes it out within seconds)", NULL },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) criu_error = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *criu = NULL;
	g_autofree char *log = NULL;
	g_autofree char *stamp = NULL;
	g_autofree char *base = NULL;
	g_autofree char *final = NULL;
	g_autoptr(GKeyFile) facts = NULL;
	g_autoptr(GKeyFile) windows = g_key_file_new();
	g_autoptr(SessInfo) info = NULL;
	g_autoptr(CkptMeta) meta = NULL;
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_auto(GStrv) external = NULL;
	CkptWriter *writer = NULL;
	g_autoptr(CriuWorker) worker = NULL;
	GThread *shots = NULL;
	CmdCheckpointShots sh = { 0 };
	CmdCheckpoint ck = { 0 };
	const char *name;
	gboolean dumped;
	gint64 t = g_get_monotonic_time();
	int fd;

	if (!cmd_parse(entry, entries,
		       "Dumps session NAME, every process of it, to a new "
		       "checkpoint directory with\nCRIU, and prints the "
		       "directory as the last line.  The session runs on\n"
		       "unless --kill is given; X apps keep their windows.  "
		       "The directory (0700,\nfiles 0600: it holds process "
		       "memory) appears whole or not at all.",
		       FALSE, &argc, &argv))
		return CMD_USAGE;
	if (!cmd_one_arg(entry, argc, argv, "session NAME"))
		return CMD_USAGE;
	name = argv[1];
	/* CRIU loads (a few ms here, longer than the quiesce) while the
	 * session is found and quiesced.  Its failure is reported once the
	 * session is found: a missing session is the more useful error (and
	 * without one there is no state directory for CRIU's work files). */
	{
		g_autofree char *sd = statedir_path();
		log = statedir_file(sd, name, "dump.log");
	}
	if (statedir_name_valid(name, NULL))
		worker = criu_worker_start(log, NULL, 0, &criu_error);
	fd = cmd_session_open(name, 0, &dir, &info, &error);
	if (fd < 0) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	{
		struct sigaction sa = { .sa_handler = cmd_checkpoint_on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	if (parent == NULL)
		parent = cmd_checkpoint_default_parent(name);
	base = g_date_time_format(now, "%Y%m%d-%H%M%S");
	stamp = g_strdup(base);
	for (int i = 2; ; i++) {
		g_autofree char *p = g_build_filename(parent, stamp, NULL);
		if (!g_file_test(p, G_FILE_TEST_EXISTS))
			break;
		g_free(stamp);
		stamp = g_strdup_printf("%s-%d", base, i);
	}
	if (worker == NULL) {
		close(fd);
		cmd_error("%s", criu_error ? criu_error->message :
			  "cannot start criu");
		return CMD_FAIL;
	}
	writer = ckptdir_begin(parent, stamp, &error);
	if (writer == NULL) {
		close(fd);
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	facts = cmd_checkpoint_prepare(fd, &error);
	close(fd);
	cmd_phase(&t, "checkpoint", "quiesce");
	if (facts == NULL) {
		ckptdir_abort(writer);
		cmd_error("session %s: %s", name, error->message);
		return CMD_FAIL;
	}
	external = g_key_file_get_string_list(facts, "checkpoint", "external",
					      NULL, NULL);
	ck.name = name;
	ck.images = ckptdir_images(writer);
	ck.start = g_get_monotonic_time();
	ck.tty = isatty(2);
	ck.dir = dir;
	ck.resume_early = !kill_it;
	ck.resume_fd = -1;
	CriuDump d = {
		.pid = info->pid,
		.images = ckptdir_images(writer),
		.leave_running = !kill_it,
		.dumped = cmd_checkpoint_dumped,
		.external = (const char *const *)external,
		.progress = cmd_checkpoint_progress,
		.progress_ud = &ck,
	};
	/* The windows go with --kill: their thumbnails are taken first.
	 * Left running, they are taken while CRIU dumps, beside it: the X
	 * server draws them, not the frozen app, so they stay as they are
	 * until the resume; neither the app nor the commit waits for them
	 * (~5 ms for gedit's window: PNG encoding). */
	sh = (CmdCheckpointShots){ .facts = facts, .daemon = info->pid,
				   .writer = writer, .windows = windows };
	if (kill_it)
		cmd_checkpoint_windows(facts, info->pid, writer, windows);
	else if (g_key_file_has_key(facts, "checkpoint", "upstream", NULL))
		shots = g_thread_new("xckpt-windows",
				     cmd_checkpoint_shots_thread, &sh);
	ckptdir_set_durable(writer, !no_sync);
	ckptdir_follow(writer);
	dumped = criu_dump(worker, &d, &error);
	if (ck.shown)
		fputc('\n', stderr);
	if (dumped && cmd_checkpoint_interrupted && kill_it) {
		/* Too late: the tree is on disk and gone; finish. */
		cmd_checkpoint_interrupted = 0;
	} else if (dumped && cmd_checkpoint_interrupted) {
		dumped = FALSE;
		g_set_error(&error, CRIU_ERROR, CRIU_ERROR_FAILED,
			    "checkpoint of %s interrupted by signal %d; the "
			    "session runs on", name,
			    (int)cmd_checkpoint_interrupted);
	}
	cmd_phase(&t, "checkpoint", "criu dump");
	if (!dumped || !kill_it) {
		/* The tree runs on (CRIU thaws it on failure too).  (Sent on
		 * a thread beside the commit, the RESUME saved nothing: the
		 * resumed app then competes with the commit for the CPU.) */
		g_autoptr(GError) e = NULL;
		gboolean resumed = ck.resume_fd >= 0 ?
			cmd_checkpoint_resume_finish(ck.resume_fd, &e) :
			cmd_checkpoint_resume(dir, name, 0, NULL, NULL, &e);
		if (!resumed && dumped) {
			cmd_checkpoint_shots_join(&shots);
			ckptdir_abort(writer);
			cmd_error("session %s: cannot resume after the dump: %s",
				  name, e->message);
			return CMD_FAIL;
		}
	}
	cmd_phase(&t, "checkpoint", "resume");
	cmd_checkpoint_shots_join(&shots);
	if (!dumped) {
		ckptdir_abort(writer);
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	cmd_phase(&t, "checkpoint", "windows");
	/* Keep CRIU's log with the images. */
	g_autofree char *keep = g_build_filename(ckptdir_path(writer),
						 "criu-dump.log", NULL);
	g_autofree char *text = NULL;
	gsize len;
	if (g_file_get_contents(log, &text, &len, NULL))
		g_file_set_contents_full(keep, text, len,
					 G_FILE_SET_CONTENTS_NONE, 0600, NULL);
	g_unlink(log);
	if (kill_it)
		statedir_remove(dir, name);
	criu = criu_log_version(text);
	meta = cmd_checkpoint_meta(facts, criu);
	g_auto(GStrv) groups = g_key_file_get_groups(windows, NULL);
	if (groups[0] != NULL) {
		if (meta->extra == NULL)
			meta->extra = g_key_file_new();
		for (guint i = 0; groups[i]; i++) {
			g_auto(GStrv) keys = g_key_file_get_keys(windows,
					groups[i], NULL, NULL);
			for (guint k = 0; keys && keys[k]; k++) {
				g_autofree char *v = g_key_file_get_value(
					windows, groups[i], keys[k], NULL);
				g_key_file_set_value(meta->extra, groups[i],
						     keys[k], v);
			}
		}
	}
	final = ckptdir_commit(writer, meta, &error);
	cmd_phase(&t, "checkpoint", "commit (checksums, fsync, rename)");
	if (final == NULL) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	printf("%s\n", final);
	return CMD_OK;
}
