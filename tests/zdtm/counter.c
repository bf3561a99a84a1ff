/*
 * counter: a counter in memory must continue where it was.
 *
 * The counter is incremented every 10 ms, in the data segment and, as a
 * second copy, in an anonymous mmap'ed page (so that two kinds of memory
 * region are restored).  On SIGUSR1 the program checks that both copies
 * agree, that the counter advanced since the previous check (it never went
 * back, e.g. reset by a restart from scratch), and that it was not reset
 * below the value of the previous check, which is also kept in both
 * regions.  It writes the counter to STATEDIR/value, for the harness to
 * compare with the value at the checkpoint.  With ZDTM_MEM_MB=N in its
 * environment it also keeps N MB resident (every page written), for a
 * checkpoint that takes a while.
 */
#include "zdtm.h"

#include <sys/mman.h>

/* The counter and the value it had at the last check (data segment). */
static long counter, last_check = -1;
/* The same two, in an anonymous private mapping: [0] counter, [1] last. */
static long *copy;
/* The reason of the last failure (static, for zdtm_loop). */
static char why[256];

/* Advances both copies of the counter. */
static void tick(void)
{
	counter++;
	copy[0]++;
}

/* Checks the counter; writes its value.  Returns NULL or the failure. */
static const char *check(void)
{
	long now = counter;

	zdtm_put("value", "%ld\n", now);
	if (copy[0] != now) {
		snprintf(why, sizeof(why), "counter %ld but its mmap copy %ld", now, copy[0]);
		return why;
	}
	if (copy[1] != last_check) {
		snprintf(why, sizeof(why), "last check %ld but its mmap copy %ld",
			 last_check, copy[1]);
		return why;
	}
	if (now <= last_check) {
		snprintf(why, sizeof(why), "counter %ld did not advance past %ld", now,
			 last_check);
		return why;
	}
	last_check = now;
	copy[1] = now;
	return NULL;
}

/* Maps the second copy, announces readiness and counts until SIGTERM. */
int main(int argc, char **argv)
{
	zdtm_init(argc, argv);
	copy = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy == MAP_FAILED)
		zdtm_die("mmap");
	copy[0] = counter;
	copy[1] = last_check;
	if (getenv("ZDTM_MEM_MB")) {
		size_t i, size = (size_t)atol(getenv("ZDTM_MEM_MB")) << 20;
		char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (mem == MAP_FAILED)
			zdtm_die("mmap ZDTM_MEM_MB");
		for (i = 0; i < size; i += 512)
			mem[i] = (char)(i / 512 + 1);
	}
	zdtm_ready();
	zdtm_loop(check, tick);
	return 0;
}
