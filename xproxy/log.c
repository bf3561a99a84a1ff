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

/* Prints "xproxy: " and the formatted message as one line on stderr (one
 * write, so lines of concurrent processes do not interleave). */
void log_msg(const char *fmt, ...)
{
	g_autofree char *text = NULL;
	g_autofree char *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	line = g_strdup_printf("xproxy: %s\n", text);
	fputs(line, stderr);
}
