/*
 * xckpt.c: main() of the `xckpt` command, and its command table.
 *
 *   xckpt [--help | --version]
 *   xckpt COMMAND [OPTION...] [ARG...]
 *
 * Each command parses its own options (GOption) and has its own --help.
 */
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "src/cmd.h"
#include "src/session.h"
#include "src/version.h"

/* The commands, in the order --help lists them. */
static const CmdEntry xckpt_commands[] = {
	{ "run", "[--] COMMAND [ARG…]",
	  "Start a session: an X11 proxy and COMMAND running through it",
	  cmd_run_exec },
	{ "list", "", "List the live sessions", cmd_list_exec },
	{ "kill", "NAME", "End session NAME and every process in it",
	  cmd_kill_exec },
	{ "checkpoint", "NAME",
	  "Dump session NAME to a checkpoint directory (it runs on)",
	  cmd_checkpoint_exec },
	{ "restart", "DIR", "Bring a session back from checkpoint DIR",
	  cmd_restart_exec },
	{ "inspect", "DIR", "Show what checkpoint DIR holds",
	  cmd_inspect_exec },
	{ "attach", "NAME", "Attach this terminal to session NAME",
	  cmd_attach_exec },
	{ NULL }
};

/* Prints the top-level help to OUT. */
static void xckpt_help(FILE *out)
{
	fprintf(out,
		"Usage:\n"
		"  xckpt COMMAND [OPTION…] [ARG…]\n"
		"\n"
		"Checkpoint and restart X11 desktop apps and terminal sessions.\n"
		"\n"
		"Commands:\n");
	for (const CmdEntry *c = xckpt_commands; c->name != NULL; c++)
		fprintf(out, "  %-11s %s\n", c->name, c->summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  -h, --help     Show this help\n"
		"  --version      Show the version\n"
		"\n"
		"'xckpt COMMAND --help' describes a command.  Sessions are kept in\n"
		"$XDG_RUNTIME_DIR/xckpt (or /tmp/xckpt-UID), mode 0700.\n"
		"\n"
		"Examples:\n"
		"  xckpt run -- gedit notes.txt      run gedit in a session, in the foreground\n"
		"  xckpt run --detach --name ed -- gedit\n"
		"  xckpt list\n"
		"  xckpt kill ed\n"
		"\n"
		"Exit status: 0 on success, 1 on failure, 2 on a usage error;\n"
		"'xckpt run' in the foreground exits with the app's status.\n");
}

/* Opens /dev/null on whichever of fds 0, 1 and 2 is closed, so that no
 * socket or pipe opened later takes a standard fd's number. */
static void xckpt_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			_exit(CMD_FAIL);
}

/* Runs the command named by argv[1]; returns its exit status (cmd.h). */
int main(int argc, char **argv)
{
	const CmdEntry *cmd;

	xckpt_std_fds();
	setlocale(LC_ALL, "");
	g_set_prgname("xckpt");
	cmd_set_table(xckpt_commands);
	if (argc < 2) {
		fprintf(stderr, "xckpt: no command given (see 'xckpt --help')\n");
		return CMD_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0 &&
		    cmd_find(argv[2]) != NULL) {
			char *sub[] = { argv[2], "--help", NULL };
			return cmd_find(argv[2])->exec(2, sub);
		}
		xckpt_help(stdout);
		return CMD_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("xckpt %s\n", XCKPT_VERSION);
		return CMD_OK;
	}
	if (strcmp(argv[1], SESSION_DAEMON_COMMAND) == 0)
		return session_daemon_exec();
	if (argv[1][0] == '-') {
		fprintf(stderr, "xckpt: unknown option '%s' (see 'xckpt --help')\n",
			argv[1]);
		return CMD_USAGE;
	}
	cmd = cmd_find(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "xckpt: unknown command '%s' (see 'xckpt --help')\n",
			argv[1]);
		return CMD_USAGE;
	}
	return cmd->exec(argc - 1, argv + 1);
}
