/*
 * log.h: one-line log messages of xproxy/, prefixed "xproxy: ".
 *
 * log_msg() always logs (GLib log domain "xproxy", level MESSAGE: the
 * hosting program's log writer decides where it goes); log_debug() only when the
 * environment variable XCKPT_DEBUG is set to a non-empty value other than 0.
 */
#pragma once

#include <glib.h>

/* Whether debug messages are printed (set by log_init()). */
extern gboolean log_debug_on;

/* Reads XCKPT_DEBUG once; later calls do nothing. */
void log_init(void);

/* Logs one line "xproxy: MESSAGE". */
void log_msg(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Prints like log_msg() when debugging is on; costs one branch otherwise. */
#define log_debug(...)					\
	do {						\
		if (G_UNLIKELY(log_debug_on))		\
			log_msg(__VA_ARGS__);		\
	} while (0)
