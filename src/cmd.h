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

/* The command table's entry for NAME, or NULL. */
const CmdEntry *cmd_find(const char *name);

/* The commands (src/cmd-NAME.c). */
int cmd_run_exec(int argc, char **argv);
int cmd_list_exec(int argc, char **argv);
int cmd_kill_exec(int argc, char **argv);
