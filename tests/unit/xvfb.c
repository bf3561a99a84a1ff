/*
 * xvfb.c: private Xvfb servers for the live unit tests (see unit.h).
 */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <xcb/xcb.h>

#include "tests/unit/unit.h"

/* Reads XCKPT_TEST_DISPLAYS (see unit.h). */
gboolean unit_display_range(int *first, int *last)
{
	const char *range = g_getenv("XCKPT_TEST_DISPLAYS");

	if (range && sscanf(range, "%d-%d", first, last) != 2) {
		fprintf(stderr, "XCKPT_TEST_DISPLAYS=%s is not FIRST-LAST\n",
			range);
		return FALSE;
	}
	return TRUE;
}

/* Child set-up: the server dies with the test binary. */
static void unit_xvfb_child_setup(gpointer ud)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Whether display D takes a connection now. */
static gboolean unit_xvfb_answers(int d)
{
	g_autofree char *disp = g_strdup_printf(":%d", d);
	xcb_connection_t *c = xcb_connect(disp, NULL);
	gboolean ok = !xcb_connection_has_error(c);

	xcb_disconnect(c);
	return ok;
}

/* Starts a private Xvfb (see unit.h). */
gboolean unit_xvfb_start(UnitXvfb *x, int *next, int last)
{
	for (int d = *next; d <= last; d++) {
		g_autofree char *lock = g_strdup_printf("/tmp/.X%d-lock", d);
		g_autofree char *disp = g_strdup_printf(":%d", d);
		g_autofree char *sock = g_strdup_printf("/tmp/.X11-unix/X%d",
							d);
		char *argv[] = { "Xvfb", disp, "-screen", "0", "640x480x24",
				 "-nolisten", "tcp", "-noreset", NULL };
		int status;

		if (g_file_test(lock, G_FILE_TEST_EXISTS) ||
		    g_file_test(sock, G_FILE_TEST_EXISTS))
			continue;
		if (!g_spawn_async(NULL, argv, NULL,
				   G_SPAWN_SEARCH_PATH |
				   G_SPAWN_DO_NOT_REAP_CHILD |
				   G_SPAWN_STDOUT_TO_DEV_NULL |
				   G_SPAWN_STDERR_TO_DEV_NULL,
				   unit_xvfb_child_setup, NULL, &x->pid, NULL))
			return FALSE;
		for (int i = 0; i < 200; i++) {
			if (waitpid(x->pid, &status, WNOHANG) == x->pid) {
				x->pid = 0;
				break;	/* display taken meanwhile */
			}
			if (g_file_test(sock, G_FILE_TEST_EXISTS) &&
			    unit_xvfb_answers(d)) {
				x->display = d;
				*next = d + 1;
				return TRUE;
			}
			g_usleep(50000);
		}
		unit_xvfb_stop(x);
	}
	return FALSE;
}

/* Stops a private Xvfb (see unit.h). */
void unit_xvfb_stop(UnitXvfb *x)
{
	if (x->pid > 0) {
		kill(x->pid, SIGTERM);
		waitpid(x->pid, NULL, 0);
		x->pid = 0;
	}
}
