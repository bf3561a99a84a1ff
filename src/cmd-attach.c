/*
 * cmd-attach.c: `xckpt attach [--detach-key KEY] NAME`: attaches this
 * terminal to the terminal of session NAME (attach.c does the work).
 *
 * A second attach while one is attached takes over: the first client is
 * detached with a message ("attached elsewhere"), as `tmux attach -d` and
 * `screen -d -r` do; two terminals never share, and so never garble, one
 * pty.
 */
#include <unistd.h>

#include <glib.h>

#include "src/cmd.h"
#include "src/control.h"
#include "src/statedir.h"

/* `xckpt attach [--detach-key KEY] NAME`. */
int cmd_attach_exec(int argc, char **argv)
{
	const CmdEntry *entry = cmd_find("attach");
	g_autofree char *key_spec = NULL;
	const GOptionEntry entries[] = {
		{ "detach-key", 'e', 0, G_OPTION_ARG_STRING, &key_spec,
		  "Detach with KEY (^X for Ctrl-X, 'none'; default ^\\ or "
		  "$XCKPT_DETACH_KEY)", "KEY" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *sock = NULL;
	g_autofree char *info_path = NULL;
	g_autoptr(SessInfo) info = NULL;
	int key = 0, fd;

	if (!cmd_parse(entry, entries,
		       "Attaches this terminal to session NAME's terminal: the "
		       "screen and the modes\ncome back as the app left them, "
		       "and the app gets the terminal's size.  The\ndetach key "
		       "leaves the session running.  An attach takes over from "
		       "a client\nattached elsewhere.",
		       FALSE, &argc, &argv))
		return CMD_USAGE;
	if (!cmd_one_arg(entry, argc, argv, "session NAME"))
		return CMD_USAGE;
	if (!attach_parse_key(key_spec, &key, &error))
		return cmd_usage_error(entry, "%s", error->message);
	if (!attach_check_terminal(&error)) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	fd = cmd_session_open(argv[1], CONTROL_HELLO_OUTPUT, &dir, &info,
			      &error);
	if (fd < 0) {
		cmd_error("%s", error->message);
		return CMD_FAIL;
	}
	if (!info->terminal) {
		close(fd);
		cmd_error("session %s has no terminal (it was not started from "
			  "one)", argv[1]);
		return CMD_FAIL;
	}
	sock = statedir_file(dir, argv[1], "sock");
	info_path = statedir_file(dir, argv[1], "session");
	AttachOptions ao = { .name = argv[1], .sock_path = sock,
			     .info_path = info_path, .detach_key = key };
	return attach_run(fd, &ao, NULL);
}
