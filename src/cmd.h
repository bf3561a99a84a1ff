/*
 * cmd.h: the commands of `xckpt` and what they share.
 *
 * Each command lives in its own file (src/cmd-NAME.c, functions cmd_NAME_*)
 * and is reached through the command table in src/xckpt.c.  A command
 * function takes the arguments after `xckpt` (argv[0] is the command name)
 * and returns the exit status:
 *
 *   0  success
 *   1  failure (one line on stderr: "xckpt: ...")
 *   2  usage error (one line on stderr naming the bad option or argument)
 *
 * Commands that a command function cannot return from (run in the
 * foreground) exit with the app's status instead.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "src/sessinfo.h"

/* Exit statuses. */
#define CMD_OK 0
#define CMD_FAIL 1
#define CMD_USAGE 2

/* One command of the table (src/xckpt.c). */
typedef struct {
	const char *name;	/* the command word */
	const char *usage;	/* its arguments, for the usage line */
	const char *summary;	/* one line for `xckpt --help` */
	int (*exec)(int argc, char **argv);	/* runs it */
} CmdEntry;

/* With XCKPT_DEBUG set (not empty, not "0"), prints on stderr how long
 * phase WHAT of command CMD took since *T, and restarts *T, so that the
 * cost of each step can be measured. */
void cmd_phase(gint64 *t, const char *cmd, const char *what);

/* Prints "xckpt: MESSAGE" (printf-style) as one line on stderr. */
G_GNUC_PRINTF(1, 2)
void cmd_error(const char *fmt, ...);

/* Parses the options of command ENTRY from ARGC and ARGV with ENTRIES
 * (NULL-terminated GOption table), DESCRIPTION for --help's tail.
 * STRICT_POSIX stops at the first non-option (for run's COMMAND).  --help
 * prints the help and exits 0.  Returns FALSE after printing a one-line
 * error (the caller returns CMD_USAGE). */
gboolean cmd_parse(const CmdEntry *entry, const GOptionEntry *entries,
		   const char *description, gboolean strict_posix,
		   int *argc, char ***argv);

/* Prints a one-line usage error for command ENTRY: "xckpt NAME: MESSAGE
 * (see 'xckpt NAME --help')".  Returns CMD_USAGE. */
G_GNUC_PRINTF(2, 3)
int cmd_usage_error(const CmdEntry *entry, const char *fmt, ...);

/* Sets the command table (TABLE, ending with a NULL name, stays owned by
 * the caller: main() in src/xckpt.c). */
void cmd_set_table(const CmdEntry *table);

/* The command table's entry for NAME, or NULL. */
const CmdEntry *cmd_find(const char *name);

/* Runs the foreground client on FD (HELLO with CONTROL_HELLO_OUTPUT sent,
 * its answer not yet read) of session NAME in state directory DIR, whose
 * daemon DAEMON is our child, until the app exits; reconnects across a
 * checkpoint.  Returns our exit status: the app's, 128+N when it was killed
 * by signal N (cmd-run.c). */
int cmd_run_foreground(int fd, pid_t daemon, const char *dir,
		       const char *name);

/* Connects to the daemon of live session NAME and says HELLO with FLAGS.
 * Returns the connection, the state directory in *DIR and the session's
 * metadata in *INFO (caller frees both), or -1 with a one-line ERROR ("no
 * session named 'NAME'" when there is none; a stale entry is removed). */
int cmd_session_open(const char *name, guint32 flags, char **dir,
		     SessInfo **info, GError **error);

/* Tells the daemon of session NAME (state directory DIR) that a checkpoint
 * is over (cmd-checkpoint.c): FLAGS are CONTROL_RESUME_*, DISPLAY (or NULL)
 * is the X display to come back on, NEWNAME (or NULL) renames the session.
 * FALSE with ERROR. */
gboolean cmd_checkpoint_resume(const char *dir, const char *name,
			       guint32 flags, const char *display,
			       const char *newname, GError **error);

/* The default parent directory of session NAME's checkpoints (caller
 * frees). */
char *cmd_checkpoint_default_parent(const char *name);

/* Lists the checkpoints of session NAME (all when NULL) under the default
 * location, oldest first, as a table or as JSON (cmd-inspect.c).  Returns
 * the exit status. */
int cmd_inspect_list(const char *name, gboolean json);

/* Appends S to OUT as a quoted, escaped JSON string (cmd-inspect.c). */
void cmd_json_string(GString *out, const char *s);

/* Appends the string vector V (NULL: empty) to OUT as a JSON array
 * (cmd-inspect.c). */
void cmd_json_strv(GString *out, char **v);

/* Reads a start-up report from pipe FD: one byte 'o' (it runs), or 'e' and a
 * one-line message.  TRUE when it runs; FALSE with the message in ERROR
 * (cmd-run.c). */
gboolean cmd_run_wait_ready(int fd, GError **error);

/* Checks that ARGC/ARGV (after option parsing) hold exactly one argument,
 * WHAT (e.g. "session NAME") when missing.  Returns TRUE, or prints a usage
 * error and returns FALSE (the caller returns CMD_USAGE). */
gboolean cmd_one_arg(const CmdEntry *entry, int argc, char **argv,
		     const char *what);

/* Becomes the keeper of CHILD, a detached session daemon: closes every
 * fd, becomes a child subreaper, reaps CHILD and the orphans of its tree
 * (SIGKILL to those left when CHILD has died), and exits when no child is
 * left.  A detached daemon needs a parent that
 * reaps it at once: this machine's pid 1 reaps orphans late, and a restart
 * right after `checkpoint --kill` needs the old pids free.  The keeper is
 * outside the checkpointed tree (which is rooted at the daemon).  Never
 * returns. */
G_GNUC_NORETURN void cmd_keep(pid_t child);

/* How a client's try at coming back after a checkpoint's PAUSE went. */
typedef enum {
	CMD_COME_BACK_OK,	/* reconnected: *FD said HELLO with output */
	CMD_COME_BACK_WAIT,	/* the checkpoint is still being taken */
	CMD_COME_BACK_ENDED,	/* the session is gone (checkpoint --kill) */
} CmdComeBack;

/* How many times the session whose metadata is INFO_PATH has been
 * restored (SessInfo.restores; 0 when it cannot be read).  A client reads
 * it when PAUSE comes, for cmd_come_back(). */
guint cmd_session_restores(const char *info_path);

/* One try at coming back to the session whose control socket is SOCK_PATH
 * and metadata INFO_PATH after PAUSE: once its state is no longer
 * "checkpointing", connects and says HELLO with CONTROL_HELLO_OUTPUT
 * (the blocking fd in *FD, caller closes), and tells when the session has
 * gone.  RESTORES is what cmd_session_restores() said at PAUSE: a session
 * restored since (checkpoint --kill, then a restart under the same name
 * before this client noticed) is another one, and counts as gone: coming
 * back to it would take it from the terminal of its restart.  Shared by
 * `xckpt run` in the foreground and the attach client. */
CmdComeBack cmd_come_back(const char *sock_path, const char *info_path,
			  guint restores, int *fd);

/* The commands (src/cmd-NAME.c). */
int cmd_run_exec(int argc, char **argv);
int cmd_list_exec(int argc, char **argv);
int cmd_kill_exec(int argc, char **argv);
int cmd_checkpoint_exec(int argc, char **argv);
int cmd_restart_exec(int argc, char **argv);
int cmd_inspect_exec(int argc, char **argv);
int cmd_attach_exec(int argc, char **argv);

/* The attach client (src/attach.c): connects the user's terminal to the
 * pty of a session (control.h, ATTACH...).  Used by `xckpt attach NAME`, and
 * by `xckpt run` and `xckpt restart` started from a terminal.
 *
 * The detach key leaves the session running.  It is, in this order: the
 * caller's (AttachOptions.detach_key, e.g. from an option), the
 * XCKPT_DETACH_KEY environment variable, Ctrl-\ (as in dtach).  A key is
 * written "^X" for Ctrl-X ("^\", "^]", "^?"...; not "^@"), as one ASCII
 * character, or "none" (no detach key: detach with SIGTERM or SIGHUP to the
 * client).  A bad XCKPT_DETACH_KEY is reported and the default used.
 * The key is not passed on to the app.
 *
 * Standard input and output must be terminals: otherwise attaching fails
 * with "standard input is not a terminal: cannot attach (run from a
 * terminal, or use --detach)". */

/* The default detach key: Ctrl-\. */
#define ATTACH_DEFAULT_KEY 0x1c

/* How an attach ended. */
typedef enum {
	ATTACH_EXITED,		/* the app exited (EXIT came): the session is
				 * over */
	ATTACH_DETACHED,	/* the detach key, a signal, the terminal going
				 * away, or another attach taking over: the
				 * session runs on */
	ATTACH_ENDED,		/* the session was checkpointed with --kill
				 * (or could not be reached again after a
				 * checkpoint) */
	ATTACH_FAILED,		/* refused (no terminal in the session) or
				 * the daemon was lost */
} AttachEnd;

/* How attach_run() behaves (all the caller's). */
typedef struct {
	const char *name;	/* the session's name, for messages */
	const char *sock_path;	/* its control socket, to attach again after
				 * a checkpoint that leaves it running; NULL:
				 * end at a checkpoint */
	const char *info_path;	/* its metadata file (sessinfo.h), whose
				 * state says when the checkpoint is over */
	int detach_key;		/* the detach key's byte; 0: XCKPT_DETACH_KEY
				 * or Ctrl-\; -1: none (attach_parse_key()) */
	gboolean hello_pending;	/* HELLO was sent on the fd but its answer
				 * not read yet (`xckpt run`'s socketpair) */
} AttachOptions;

/* Parses detach key SPEC ("^\", "^A", "x", "none"; NULL or "": the
 * default) into *KEY (a byte, or -1 for none).  FALSE with a one-line
 * ERROR. */
gboolean attach_parse_key(const char *spec, int *key, GError **error);

/* Whether stdin and stdout are terminals; FALSE with the one-line ERROR
 * above.  For callers that choose between attaching and a detached start. */
gboolean attach_check_terminal(GError **error);

/* Attaches the terminal on stdin/stdout to the session at FD, a connection
 * that said HELLO with CONTROL_HELLO_OUTPUT (its answer read, unless
 * OPTIONS->hello_pending).  Takes FD over (closes it).  Sends ATTACH with
 * the window size, writes REDRAW and OUTPUT to stdout, sends keys as INPUT
 * and sizes as RESIZE, until the app exits, the user detaches, or the
 * session goes; reattaches across a checkpoint that leaves the session
 * running (when OPTIONS says where).  The terminal's settings are put back
 * in every case.  Stores how it ended in *HOW (may be NULL) and returns the
 * exit status: the app's (128+N when killed by signal N) for
 * ATTACH_EXITED, 0 for ATTACH_DETACHED and ATTACH_ENDED (a line
 * "[detached from session NAME ...]" or "[the session was checkpointed and
 * ended]" on stderr), 1 after a one-line error for ATTACH_FAILED. */
int attach_run(int fd, const AttachOptions *options, AttachEnd *how);
