/*
 * fileoffset: the offsets and access modes of open regular files survive.
 *
 * At start the program creates STATEDIR/fileoffset.ro (fixed content),
 * opens it read-only and reads to an odd offset; and creates
 * STATEDIR/fileoffset.rw, opened O_RDWR, writes a fixed amount into it (the
 * file never grows afterwards: CRIU refuses a file whose size changed) and
 * seeks to another odd offset.  On SIGUSR1 it checks, for both files, that
 * lseek(fd, 0, SEEK_CUR) is the remembered offset, that the access mode is
 * unchanged and that the next bytes read are the expected ones; then it
 * seeks back so that the next cycle checks the same.
 */
#include "zdtm.h"

#include <fcntl.h>

#define RO_SIZE 10007	/* bytes in the read-only file */
#define RO_OFF 4093	/* its offset (odd) */
#define RW_SIZE 6007	/* bytes written into the read-write file */
#define RW_OFF 1001	/* its offset (odd) */
#define PEEK 64		/* bytes compared at the offset */

/* One open file: its descriptor, offset, access mode and content seed. */
struct ofile {
	int fd;
	off_t off;
	int mode;
	int seed;
	const char *name;
};
static struct ofile files[2];
/* The reason of the last failure. */
static char why[256];

/* The byte at offset I of the file with SEED. */
static unsigned char pattern(int seed, long i)
{
	return (unsigned char)(i * 131 + seed + (i >> 8));
}

/* Creates STATEDIR/NAME with SIZE pattern bytes, opens it with FLAGS and
 * moves to OFF (the read-only file by reading, the other by lseek). */
static void setup(struct ofile *of, const char *name, int flags, long size, off_t off,
		  int seed)
{
	char path[PATH_MAX + 32], buf[RO_SIZE];
	long i;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", zdtm_dir, name);
	for (i = 0; i < size; i++)
		buf[i] = (char)pattern(seed, i);
	of->name = name;
	of->seed = seed;
	of->off = off;
	of->mode = flags & O_ACCMODE;
	if (flags == O_RDONLY) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, buf, size) != size || close(fd) < 0)
			zdtm_die(path);
		of->fd = open(path, O_RDONLY);
		if (of->fd < 0 || read(of->fd, buf, off) != off)
			zdtm_die(path);
	} else {
		of->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (of->fd < 0 || write(of->fd, buf, size) != size ||
		    lseek(of->fd, off, SEEK_SET) != off)
			zdtm_die(path);
	}
}

/* Checks one file's offset, mode and next bytes; seeks back.  Returns NULL
 * or the failure. */
static const char *check_one(struct ofile *of)
{
	unsigned char buf[PEEK];
	off_t pos = lseek(of->fd, 0, SEEK_CUR);
	int fl = fcntl(of->fd, F_GETFL), i;
	ssize_t n;

	if (pos != of->off) {
		snprintf(why, sizeof(why), "%s: offset %ld, expected %ld", of->name,
			 (long)pos, (long)of->off);
		return why;
	}
	if (fl < 0 || (fl & O_ACCMODE) != of->mode) {
		snprintf(why, sizeof(why), "%s: flags %#x, expected mode %#x", of->name,
			 fl, of->mode);
		return why;
	}
	n = read(of->fd, buf, PEEK);
	if (lseek(of->fd, of->off, SEEK_SET) != of->off) {
		snprintf(why, sizeof(why), "%s: cannot seek back: %s", of->name,
			 strerror(errno));
		return why;
	}
	if (n != PEEK) {
		snprintf(why, sizeof(why), "%s: read %zd bytes at %ld, expected %d",
			 of->name, n, (long)of->off, PEEK);
		return why;
	}
	for (i = 0; i < PEEK; i++)
		if (buf[i] != pattern(of->seed, of->off + i)) {
			snprintf(why, sizeof(why), "%s: wrong byte at %ld", of->name,
				 (long)of->off + i);
			return why;
		}
	return NULL;
}

/* Checks both files. */
static const char *check(void)
{
	const char *r = check_one(&files[0]);

	return r ? r : check_one(&files[1]);
}

/* Sets up both files, announces readiness, waits for checks. */
int main(int argc, char **argv)
{
	zdtm_init(argc, argv);
	setup(&files[0], "fileoffset.ro", O_RDONLY, RO_SIZE, RO_OFF, 7);
	setup(&files[1], "fileoffset.rw", O_RDWR, RW_SIZE, RW_OFF, 91);
	zdtm_ready();
	zdtm_loop(check, NULL);
	return 0;
}
