/*
 * xproxy-standalone.c: runs one X proxy (xproxy/) outside any session, for
 * tests, benchmarks and debugging.
 *
 *   xproxy-standalone [UPSTREAM [DISPLAY]]
 *
 * Proxies UPSTREAM (default $DISPLAY) as display number DISPLAY (default:
 * the first free one from 100).  Prints "DISPLAY XAUTHORITY" (e.g.
 * ":101 /tmp/xckpt-xauth-AbC123") on one line once it listens, then serves
 * until SIGINT or SIGTERM, or until the upstream server is lost (exit 3).
 * Exits 1 with a one-line message when the proxy cannot start.
 */
#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>

#include "xproxy/xproxy.h"

/* How the main loop ended. */
static int standalone_status;

/* SIGINT/SIGTERM: quits the loop (UD is the loop). */
static gboolean standalone_quit(gpointer ud)
{
	g_main_loop_quit(ud);
	return G_SOURCE_CONTINUE;
}

/* The upstream server is gone: prints why and quits with status 3. */
static void standalone_lost(gpointer ud, const char *message)
{
	fprintf(stderr, "xproxy-standalone: upstream lost: %s\n", message);
	standalone_status = 3;
	g_main_loop_quit(ud);
}

/* Starts the proxy as the arguments say and serves until told to stop. */
int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	XProxyConfig config = {
		.upstream = argc > 1 ? argv[1] : NULL,
		.display = argc > 2 ? atoi(argv[2]) : -1,
	};
	g_autoptr(XProxy) proxy = xproxy_new(&config, &error);

	if (!proxy) {
		fprintf(stderr, "xproxy-standalone: %s\n", error->message);
		return 1;
	}
	xproxy_set_lost_fn(proxy, standalone_lost, loop);
	g_unix_signal_add(SIGINT, standalone_quit, loop);
	g_unix_signal_add(SIGTERM, standalone_quit, loop);
	printf("%s %s\n", xproxy_display_name(proxy), xproxy_xauthority(proxy));
	fflush(stdout);
	g_main_loop_run(loop);
	return standalone_status;
}
