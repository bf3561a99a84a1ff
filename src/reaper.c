/*
 * reaper.c: SIGCHLD as an fd, and the session's descendants from /proc (see
 * reaper.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "src/reaper.h"

/* The write end of the SIGCHLD pipe (used by the signal handler only). */
static int reaper_wfd = -1;

/* The SIGCHLD handler: wakes the main loop. */
static void reaper_handler(int sig)
{
	int saved = errno;
	ssize_t n = write(reaper_wfd, "c", 1);

	(void)n;
	errno = saved;
}

/* Installs the SIGCHLD handler; returns the pipe's read end or -1. */
int reaper_init(GError **error)
{
	int fds[2];
	struct sigaction sa;

	if (!g_unix_open_pipe(fds, FD_CLOEXEC, error))
		return -1;
	if (!g_unix_set_fd_nonblocking(fds[0], TRUE, error) ||
	    !g_unix_set_fd_nonblocking(fds[1], TRUE, error)) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	reaper_wfd = fds[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = reaper_handler;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) < 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "sigaction(SIGCHLD): %s", g_strerror(e));
		return -1;
	}
	return fds[0];
}

/* Empties the SIGCHLD pipe FD. */
void reaper_ack(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Reads the parent pid and state of PID from /proc; FALSE if it is gone. */
static gboolean reaper_stat(pid_t pid, pid_t *ppid, char *state)
{
	char path[64];
	g_autofree char *data = NULL;
	const char *p;

	g_snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!g_file_get_contents(path, &data, NULL, NULL))
		return FALSE;
	/* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
	p = strrchr(data, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return FALSE;
	*state = p[2];
	*ppid = (pid_t)strtol(p + 3, NULL, 10);
	return TRUE;
}

/* Whether PID exists and is not a zombie. */
gboolean reaper_alive(pid_t pid)
{
	pid_t ppid;
	char state;

	return pid > 0 && reaper_stat(pid, &ppid, &state) && state != 'Z' &&
	       state != 'X';
}

/* Returns the live descendants of ROOT, parents first (caller frees). */
GArray *reaper_descendants(pid_t root)
{
	g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	g_autoptr(GArray) ppids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	GArray *out = g_array_new(FALSE, FALSE, sizeof(pid_t));
	g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
	const char *entry;

	if (d == NULL)
		return out;
	while ((entry = g_dir_read_name(d)) != NULL) {
		pid_t pid, ppid;
		char state;

		if (!g_ascii_isdigit(entry[0]))
			continue;
		pid = (pid_t)strtol(entry, NULL, 10);
		if (!reaper_stat(pid, &ppid, &state) || state == 'Z' ||
		    state == 'X')
			continue;
		g_array_append_val(pids, pid);
		g_array_append_val(ppids, ppid);
	}
	/* Breadth-first from ROOT: OUT grows while we walk it. */
	g_array_append_val(out, root);
	for (guint i = 0; i < out->len; i++) {
		pid_t parent = g_array_index(out, pid_t, i);

		for (guint j = 0; j < pids->len; j++)
			if (g_array_index(ppids, pid_t, j) == parent)
				g_array_append_val(out,
					g_array_index(pids, pid_t, j));
	}
	g_array_remove_index(out, 0);
	return out;
}

/* Sends SIG to every descendant of ROOT; returns how many. */
guint reaper_signal_descendants(pid_t root, int sig)
{
	g_autoptr(GArray) pids = reaper_descendants(root);
	guint n = 0;

	for (guint i = 0; i < pids->len; i++)
		if (kill(g_array_index(pids, pid_t, i), sig) == 0)
			n++;
	return n;
}
