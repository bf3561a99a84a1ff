/*
 * output: an app that writes to stdout and stderr all the time goes on
 * writing across checkpoints.
 *
 * Every 10 ms the program writes a numbered line "output N" to stdout, and
 * every 100 ms "error-output N" to stderr.  Its output must reach the
 * session through pipes (or sockets): a regular file that grows behind
 * CRIU's back cannot be restored.  On SIGUSR1 it checks that stdout and
 * stderr are not regular files and that no write has failed (SIGPIPE is
 * ignored, so a broken pipe is a failed write, not a death), and writes the
 * last N to STATEDIR/value for the harness to find in the session log.
 */
#include "zdtm.h"

#include <sys/stat.h>

/* The number of the last line, and how many writes failed (and the last
 * errno of a failure). */
static long line;
static long failed;
static int failed_errno;
/* The reason of the last failure. */
static char why[256];

/* Writes the whole of BUF to FD; counts a failure. */
static void put(int fd, const char *buf)
{
	size_t len = strlen(buf), done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			failed++;
			failed_errno = errno;
			return;
		}
		done += (size_t)n;
	}
}

/* Writes the next line (and every tenth, a line on stderr). */
static void tick(void)
{
	char buf[64];

	line++;
	snprintf(buf, sizeof(buf), "output %ld\n", line);
	put(1, buf);
	if (line % 10 == 0) {
		snprintf(buf, sizeof(buf), "error-output %ld\n", line);
		put(2, buf);
	}
}

/* Checks what stdout and stderr are and that every write went through. */
static const char *check(void)
{
	struct stat st;
	int fd;

	zdtm_put("value", "%ld\n", line);
	for (fd = 1; fd <= 2; fd++)
		if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode)) {
			snprintf(why, sizeof(why), "fd %d is a regular file (it grows)", fd);
			return why;
		}
	if (failed) {
		snprintf(why, sizeof(why), "%ld writes failed, the last with %s", failed,
			 strerror(failed_errno));
		return why;
	}
	return NULL;
}

/* Writes lines until SIGTERM. */
int main(int argc, char **argv)
{
	zdtm_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	zdtm_ready();
	zdtm_loop(check, tick);
	return 0;
}
