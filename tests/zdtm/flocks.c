/*
 * flocks: file locks held across a checkpoint.
 *
 * The program takes a whole-file flock(2) write lock on STATEDIR/flocked and
 * a POSIX (fcntl) write lock on bytes 0-99 of STATEDIR/posix, and holds
 * them.  On SIGUSR1 it checks, in /proc/self/fdinfo, that each descriptor
 * still carries its lock, of the right kind, owned by itself (a restart
 * without the locks, or with someone else's, fails).  Apps hold such locks
 * (sqlite databases, mail folders); without them dumped, CRIU refuses the
 * whole tree.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <sys/file.h>

/* The two locked files' descriptors. */
static int flocked = -1, posix = -1;
/* The reason of the last failure (static, for zdtm_loop). */
static char why[256];

/* Whether descriptor FD has a lock line of KIND ("FLOCK", "POSIX") for a
 * write lock owned by this process, per /proc/self/fdinfo. */
static int has_lock(int fd, const char *kind)
{
	char path[64], line[512];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char k[16], adv[16], mode[16];
		int n, pid;

		if (sscanf(line, "lock: %d: %15s %15s %15s %d", &n, k, adv,
			   mode, &pid) == 5 && strcmp(k, kind) == 0 &&
		    strcmp(mode, "WRITE") == 0 && pid == (int)getpid())
			found = 1;
	}
	fclose(f);
	return found;
}

/* Checks both locks.  Returns NULL or the failure. */
static const char *check(void)
{
	if (!has_lock(flocked, "FLOCK")) {
		snprintf(why, sizeof(why), "the flock on fd %d is gone", flocked);
		return why;
	}
	if (!has_lock(posix, "POSIX")) {
		snprintf(why, sizeof(why), "the POSIX lock on fd %d is gone", posix);
		return why;
	}
	return NULL;
}

/* Opens STATEDIR/NAME for writing; exits on failure. */
static int open_in_dir(const char *name)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", zdtm_dir, name);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		zdtm_die(path);
	return fd;
}

/* Takes the locks, announces readiness and waits for checks. */
int main(int argc, char **argv)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 100 };

	zdtm_init(argc, argv);
	flocked = open_in_dir("flocked");
	posix = open_in_dir("posix");
	if (flock(flocked, LOCK_EX | LOCK_NB) < 0)
		zdtm_die("flock");
	if (fcntl(posix, F_SETLK, &fl) < 0)
		zdtm_die("fcntl F_SETLK");
	zdtm_ready();
	zdtm_loop(check, NULL);
	return 0;
}
