/*
 * cmd-kill.c: `xckpt kill NAME`: ends a session and everything in it.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "src/cmd.h"
#include "src/control.h"
#include "src/reaper.h"
#include "src/session.h"
#include "src/statedir.h"

/* How much longer than the grace period kill waits for the daemon's DONE,
 * in seconds. */
#define CMD_KILL_SLACK 10

/* How long kill waits for the daemon itself to exit after DONE, in ms. */
#define CMD_KILL_EXIT_MS 5000

/* `xckpt kill [--grace SECONDS] NAME`. */
int cmd_kill_exec(int argc, char **argv)
{
	const CmdEntry *entry = cmd_find("kill");
	double grace = SESSION_GRACE_MS / 1000.0;
	const GOptionEntry entries[] = {
		{ "grace", 'g', 0, G_OPTION_ARG_DOUBLE, &grace,
		  "Seconds between SIGTERM and SIGKILL (default 2)", "SECONDS" },
		{ NULL }
	};
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *sock = NULL;
	g_autoptr(GBytes) body = NULL;
	struct timeval tv;
	guint32 type, ms;
	pid_t daemon = 0;
	int fd;

	if (!cmd_parse(entry, entries,
		       "Ends session NAME: the session daemon sends SIGTERM to "
		       "every process of the\nsession, SIGKILL to what is left "
		       "after the grace period, and exits.  kill\nreturns once "
		       "every process has ended.",
		       FALSE, &argc, &argv))
		return CMD_USAGE;
	if (!cmd_one_arg(entry, argc, argv, "session NAME"))
		return CMD_USAGE;
	if (grace < 0 || grace > 3600)
		return cmd_usage_error(entry, "--grace must be 0 to 3600");
	if (!statedir_name_valid(argv[1], NULL)) {
		cmd_error("no session named '%s'", argv[1]);
		return CMD_FAIL;
	}
	dir = statedir_path();
	sock = statedir_file(dir, argv[1], "sock");
	fd = control_connect(sock, &error);
	if (fd >= 0 && !control_hello(fd, 0, &daemon, &error)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		if (g_error_matches(error, CONTROL_ERROR_DOMAIN,
				    CONTROL_ERROR_NO_DAEMON)) {
			/* A stale entry goes away with the error. */
			g_autofree char *info = statedir_file(dir, argv[1],
							      "session");
			int lock = control_lock_dir(sock, NULL);

			if (lock >= 0 && g_file_test(info, G_FILE_TEST_EXISTS) &&
			    control_stale(sock))
				statedir_remove(dir, argv[1]);
			if (lock >= 0)
				close(lock);
			cmd_error("no session named '%s'", argv[1]);
		} else {
			cmd_error("%s", error->message);
		}
		return CMD_FAIL;
	}
	ms = grace > 0 ? (guint32)(grace * 1000) : 1;
	ms = GUINT32_TO_LE(ms);
	tv.tv_sec = (time_t)grace + CMD_KILL_SLACK;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!control_send(fd, CONTROL_KILL, &ms, sizeof(ms), &error))
		goto fail;
	for (;;) {
		g_clear_pointer(&body, g_bytes_unref);
		if (!control_recv(fd, &type, &body, &error))
			goto fail;
		if (type == CONTROL_DONE)
			break;
		if (type == CONTROL_ERROR) {
			gsize len;
			const char *text = g_bytes_get_data(body, &len);
			cmd_error("session %s: %.*s", argv[1], (int)len, text);
			close(fd);
			return CMD_FAIL;
		}
	}
	close(fd);
	/* DONE comes once every other process of the session has ended; the
	 * daemon exits right after it.  Wait for that too. */
	for (int i = 0; i < CMD_KILL_EXIT_MS / 10 && reaper_alive(daemon); i++)
		g_usleep(10000);
	if (reaper_alive(daemon)) {
		cmd_error("kill %s: the session daemon %d does not exit", argv[1],
			  (int)daemon);
		return CMD_FAIL;
	}
	return CMD_OK;
fail:
	cmd_error("kill %s: %s", argv[1], error->message);
	close(fd);
	return CMD_FAIL;
}
