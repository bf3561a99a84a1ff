/*
 * ckptmem: the process that bench/ckpt.sh checkpoints: MB megabytes of
 * anonymous memory, every page written with non-zero data so that it is
 * resident, then it writes its pid to READY (temporary file and rename) and
 * sleeps until SIGTERM.  It holds no file open.
 *
 *   ckptmem MB READY
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Set by SIGTERM. */
static volatile sig_atomic_t done;

/* The SIGTERM handler: ends the sleep loop. */
static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

/* Maps and touches the memory, announces readiness, sleeps. */
int main(int argc, char **argv)
{
	size_t size, i, page = (size_t)sysconf(_SC_PAGESIZE);
	char tmp[4096];
	unsigned char *mem;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: ckptmem MB READY\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	size = (size_t)atol(argv[1]) << 20;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("ckptmem: mmap");
		return 1;
	}
	for (i = 0; i < size; i += 64)	/* every cache line of every page */
		mem[i] = (unsigned char)(i / page * 7 + i / 64 + 1);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[2]) < 0) {
		perror("ckptmem: ready");
		return 1;
	}
	while (!done)
		pause();
	return 0;
}
