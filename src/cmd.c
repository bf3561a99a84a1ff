/*
 * cmd.c: what the commands of `xckpt` share (see cmd.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "src/cmd.h"

/* Prints "xckpt: MESSAGE" as one line on stderr. */
void cmd_error(const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* One line, whatever the message holds. */
	g_strdelimit(msg, "\n", ' ');
	fprintf(stderr, "xckpt: %s\n", msg);
}

/* Prints a one-line usage error for ENTRY; returns CMD_USAGE. */
int cmd_usage_error(const CmdEntry *entry, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_strdelimit(msg, "\n", ' ');
	fprintf(stderr, "xckpt %s: %s (see 'xckpt %s --help')\n", entry->name,
		msg, entry->name);
	return CMD_USAGE;
}

/* Parses ENTRY's options; FALSE after a one-line error. */
gboolean cmd_parse(const CmdEntry *entry, const GOptionEntry *entries,
		   const char *description, gboolean strict_posix,
		   int *argc, char ***argv)
{
	g_autofree char *prgname = g_strdup_printf("xckpt %s", entry->name);
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;

	/* --help then says "Usage: xckpt NAME [OPTION…] USAGE". */
	g_set_prgname(prgname);
	ctx = g_option_context_new(entry->usage);

	g_option_context_set_summary(ctx, entry->summary);
	if (description != NULL)
		g_option_context_set_description(ctx, description);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_strict_posix(ctx, strict_posix);
	if (!g_option_context_parse(ctx, argc, argv, &error)) {
		cmd_usage_error(entry, "%s", error->message);
		return FALSE;
	}
	return TRUE;
}
