/*
 * pipe: data in flight in a pipe between two children survives.
 *
 * The parent forks a writer and a reader connected by a data pipe.  The
 * writer puts a known 40 KiB pattern into it (it fits the default 64 KiB
 * pipe buffer) and the reader does not read until a check: the data stays
 * in flight across the checkpoint.  On SIGUSR1 the parent tells the reader
 * (over a control pipe) to check: exactly 40 KiB queued (FIONREAD), every
 * byte as written, nothing after.  Then the parent has the writer refill
 * the pipe with the next generation's pattern, so that the next cycle
 * checks again.  Each child ends when its control pipe reaches EOF.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#define SIZE (40 * 1024)

/* The byte at offset I of generation GEN. */
static unsigned char pattern(int gen, long i)
{
	return (unsigned char)(i * 7 + gen * 13 + i / 251);
}

/* Reads one command byte from FD; exits the child on EOF or SIGTERM. */
static int command(int fd)
{
	unsigned char c;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR && !zdtm_term)
		;
	if (n != 1)
		_exit(0);
	return c;
}

/* The writer: on each command GEN, fills DATA with generation GEN and
 * answers on REPLY. */
static void writer(int ctl, int data, int reply)
{
	static unsigned char buf[SIZE];
	for (;;) {
		int gen = command(ctl);
		long i;

		for (i = 0; i < SIZE; i++)
			buf[i] = pattern(gen, i);
		char ok = write(data, buf, SIZE) == SIZE ? 'y' : 'n';
		if (write(reply, &ok, 1) != 1)
			_exit(1);
	}
}

/* The reader: on each command GEN, reads and checks all of DATA; answers
 * "PASS" or the failure on REPLY. */
static void reader(int ctl, int data, int reply)
{
	static unsigned char buf[SIZE];
	char msg[200];
	for (;;) {
		int gen = command(ctl), queued = -1, left = -1;
		long i, got = 0;
		ssize_t n;

		snprintf(msg, sizeof(msg), "PASS");
		if (ioctl(data, FIONREAD, &queued) < 0 || queued != SIZE)
			snprintf(msg, sizeof(msg), "%d bytes queued in the pipe, expected %d",
				 queued, SIZE);
		while (got < SIZE && (n = read(data, buf + got, SIZE - got)) > 0)
			got += n;	/* non-blocking: stops at what is there */
		for (i = 0; i < got && !strcmp(msg, "PASS"); i++)
			if (buf[i] != pattern(gen, i))
				snprintf(msg, sizeof(msg), "byte %ld of generation %d is wrong",
					 i, gen);
		if (ioctl(data, FIONREAD, &left) < 0 || left != 0)
			snprintf(msg, sizeof(msg), "%d bytes left in the pipe", left);
		if (write(reply, msg, strlen(msg)) < 0)
			_exit(1);
	}
}

/* The parent's ends of the children's control and reply pipes (-1: none
 * yet), and the generation of the data in flight. */
static int wctl = -1, wrep = -1, rctl = -1, rrep = -1, gen;

/* Forks a child running FN(ctl, data, reply); returns the parent's ends
 * (*CTL to write commands, *REPLY to read answers). */
static pid_t spawn(void (*fn)(int, int, int), int data, int other, int *ctl, int *reply)
{
	int c[2], r[2];
	pid_t pid;

	if (pipe(c) < 0 || pipe(r) < 0)
		zdtm_die("pipe");
	pid = fork();
	if (pid < 0)
		zdtm_die("fork");
	if (pid == 0) {
		close(c[1]);
		close(r[0]);
		close(other);
		if (wctl >= 0) {	/* the reader must not hold the writer's */
			close(wctl);
			close(wrep);
		}
		fn(c[0], data, r[1]);
		_exit(0);
	}
	close(c[0]);
	close(r[1]);
	*ctl = c[1];
	*reply = r[0];
	return pid;
}

/* The last answer of a child. */
static char answer[201];

/* Sends GEN to child CTL and waits up to 10 s for its answer (in answer). */
static int ask(int ctl, int rep)
{
	unsigned char g = (unsigned char)gen;
	struct pollfd p = { rep, POLLIN, 0 };
	ssize_t n;

	answer[0] = 0;
	if (write(ctl, &g, 1) != 1)
		return -1;
	while ((n = poll(&p, 1, 10000)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return -1;
	n = read(rep, answer, sizeof(answer) - 1);
	if (n <= 0)
		return -1;
	answer[n] = 0;
	return 0;
}

/* Has the reader check the data, then the writer refill the pipe. */
static const char *check(void)
{
	static char why[260];

	if (ask(rctl, rrep) < 0)
		return "the reader did not answer";
	if (strcmp(answer, "PASS")) {
		snprintf(why, sizeof(why), "reader: %s", answer);
		return why;
	}
	gen++;
	if (ask(wctl, wrep) < 0 || answer[0] != 'y')
		return "the writer could not refill the pipe";
	return NULL;
}

/* Starts both children, fills the pipe, waits for checks; ends them. */
int main(int argc, char **argv)
{
	int d[2];
	pid_t w, r;

	zdtm_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(d) < 0)
		zdtm_die("pipe");
	w = spawn(writer, d[1], d[0], &wctl, &wrep);
	fcntl(d[0], F_SETFL, O_NONBLOCK);	/* the reader never blocks */
	r = spawn(reader, d[0], d[1], &rctl, &rrep);
	close(d[0]);
	close(d[1]);
	if (ask(wctl, wrep) < 0 || answer[0] != 'y')
		zdtm_die("first fill");
	zdtm_ready();
	zdtm_loop(check, NULL);
	close(wctl);
	close(rctl);
	waitpid(w, NULL, 0);
	waitpid(r, NULL, 0);
	return 0;
}
