/*
 * log.c: one-line log messages of xproxy/ (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xproxy/log.h"

gboolean log_debug_on;

/* Reads XCKPT_DEBUG once: any value but "" and "0" turns debugging on. */
void log_init(void)
{
	static gboolean done;
	const char *v;

	if (done)
		return;
	done = TRUE;
	v = getenv("XCKPT_DEBUG");
	log_debug_on = v && *v && strcmp(v, "0") != 0;
}

/* Logs the formatted message through GLib's log writer with the domain
 * "xproxy" and level MESSAGE, so that the program hosting the proxy decides
 * where it goes (the session daemon writes "xckpt[PID]: xproxy: ..." lines
 * into the session log; GLib's default writer prints to stderr). */
void log_msg(const char *fmt, ...)
{
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_log("xproxy", G_LOG_LEVEL_MESSAGE, "%s", text);
}
