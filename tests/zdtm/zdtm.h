/*
 * zdtm.h: the protocol every zdtm-style test program of xckpt follows, in
 * the manner of CRIU's zdtm suite (one small program per feature, which sets
 * itself up, is checkpointed and restored by the harness, then verifies
 * itself).  Plain C and libc only; everything here is static.
 *
 *   PROG STATEDIR
 *
 * - The program sets itself up, then writes STATEDIR/ready holding its pid.
 * - On SIGUSR1 it checks its state and writes STATEDIR/result: "PASS" or
 *   "FAIL: reason".  It then waits again, so it can be checked after every
 *   checkpoint/restart cycle.
 * - SIGTERM ends it.
 *
 * ready, result and value are written to a temporary name, closed, then renamed
 * into place: a reader never sees half a file, and the program holds no file
 * open that grows (CRIU refuses to restore a file whose size changed).
 */
#pragma once

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set by the signal handler: a check was asked for / the program must end. */
static volatile sig_atomic_t zdtm_usr1, zdtm_term;
/* The absolute state directory (argv[1]). */
static char zdtm_dir[PATH_MAX];

/* The handler of SIGUSR1 and SIGTERM: only records the signal. */
static void zdtm_on_signal(int sig)
{
	if (sig == SIGUSR1)
		zdtm_usr1 = 1;
	else
		zdtm_term = 1;
}

/* Prints a fatal set-up error and exits 1. */
static void zdtm_die(const char *what)
{
	fprintf(stderr, "zdtm: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Reads the arguments (STATEDIR, made absolute) and installs the handlers
 * (without SA_RESTART, so that a blocking call returns EINTR). */
static void zdtm_init(int argc, char **argv)
{
	struct sigaction sa;

	if (argc != 2) {
		fprintf(stderr, "usage: %s STATEDIR\n", argv[0]);
		exit(2);
	}
	if (!realpath(argv[1], zdtm_dir))
		zdtm_die(argv[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = zdtm_on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		zdtm_die("sigaction");
}

/* Writes STATEDIR/NAME (printf-style contents) through a temporary file and
 * a rename.  Returns 0, or -1 on failure. */
static int zdtm_put(const char *name, const char *fmt, ...)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	va_list ap;
	FILE *f;
	int bad;

	snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", zdtm_dir, name, (int)getpid());
	snprintf(path, sizeof(path), "%s/%s", zdtm_dir, name);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	va_start(ap, fmt);
	bad = vfprintf(f, fmt, ap) < 0;
	va_end(ap);
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Announces that set-up is done: STATEDIR/ready holds the pid. */
static void zdtm_ready(void)
{
	if (zdtm_put("ready", "%d\n", (int)getpid()) < 0)
		zdtm_die("write ready");
}

/* Writes the result of a check: PASS when FAIL is NULL, else "FAIL: FAIL". */
static void zdtm_result(const char *fail)
{
	if (fail)
		zdtm_put("result", "FAIL: %s\n", fail);
	else
		zdtm_put("result", "PASS\n");
}

/* Sleeps MS milliseconds, less when a signal arrives. */
static void zdtm_sleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The main loop of a program: calls CHECK (which returns NULL for a pass or
 * the reason of a failure) on every SIGUSR1 and TICK (may be NULL) every 10
 * ms, until SIGTERM. */
static void zdtm_loop(const char *(*check)(void), void (*tick)(void))
{
	while (!zdtm_term) {
		if (tick)
			tick();
		if (zdtm_usr1) {
			zdtm_usr1 = 0;
			zdtm_result(check());
		}
		zdtm_sleep(10);
	}
}
