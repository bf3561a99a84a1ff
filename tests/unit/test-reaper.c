/*
 * test-reaper.c: the session daemon's view of its process tree: finding
 * every descendant (grandchildren included), signalling them, zombies not
 * counted as alive, and SIGCHLD as a readable fd.  Signals go only to the
 * test's own children (other suites may share the process).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "src/reaper.h"
#include "tests/unit/unit.h"

/* Whether PIDS holds PID. */
static gboolean trp_has(GArray *pids, pid_t pid)
{
	for (guint i = 0; i < pids->len; i++)
		if (g_array_index(pids, pid_t, i) == pid)
			return TRUE;
	return FALSE;
}

/* A child and its grandchild are both found, parent first; SIGKILL to the
 * child's descendants ends the grandchild; SIGCHLD wakes the pipe; a zombie
 * is not alive. */
static void test_tree(void)
{
	g_autoptr(GError) e = NULL;
	int sigfd = reaper_init(&e);
	int ready[2];
	pid_t child, grandchild = 0;
	struct pollfd pfd;

	CU_ASSERT_TRUE_FATAL(sigfd >= 0);
	CU_ASSERT_EQUAL_FATAL(pipe(ready), 0);
	child = fork();
	CU_ASSERT_TRUE_FATAL(child >= 0);
	if (child == 0) {
		pid_t g = fork();
		if (g == 0) {
			for (;;)
				pause();
		}
		if (write(ready[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	CU_ASSERT_EQUAL(read(ready[0], &grandchild, sizeof(grandchild)),
			sizeof(grandchild));
	close(ready[0]);

	g_autoptr(GArray) pids = reaper_descendants(getpid());
	CU_ASSERT_TRUE(trp_has(pids, child));
	CU_ASSERT_TRUE(trp_has(pids, grandchild));
	CU_ASSERT_FALSE(trp_has(pids, getpid()));
	/* Parents before their children. */
	guint ci = 0, gi = 0;
	for (guint i = 0; i < pids->len; i++) {
		if (g_array_index(pids, pid_t, i) == child)
			ci = i;
		if (g_array_index(pids, pid_t, i) == grandchild)
			gi = i;
	}
	CU_ASSERT_TRUE(ci < gi);
	CU_ASSERT_TRUE(reaper_alive(child));
	CU_ASSERT_TRUE(reaper_alive(grandchild));

	/* The child's descendants: the grandchild only, which then is a
	 * zombie of the child's, not alive. */
	CU_ASSERT_EQUAL(reaper_signal_descendants(child, SIGKILL), 1);
	for (int i = 0; i < 500 && reaper_alive(grandchild); i++)
		g_usleep(2000);
	CU_ASSERT_FALSE(reaper_alive(grandchild));
	CU_ASSERT_TRUE(reaper_alive(child));

	CU_ASSERT_EQUAL(kill(child, SIGKILL), 0);
	pfd.fd = sigfd;
	pfd.events = POLLIN;
	/* (The SIGCHLD may come while poll() waits: EINTR, not a timeout;
	 * SA_RESTART does not restart poll().) */
	int pr;
	do
		pr = poll(&pfd, 1, 5000);
	while (pr < 0 && errno == EINTR);
	CU_ASSERT_EQUAL(pr, 1);
	reaper_ack(sigfd);
	CU_ASSERT_EQUAL(waitpid(child, NULL, 0), child);
	CU_ASSERT_FALSE(reaper_alive(child));
	signal(SIGCHLD, SIG_DFL);
	close(sigfd);
}

/* Nonsense pids are not alive. */
static void test_alive_bounds(void)
{
	CU_ASSERT_FALSE(reaper_alive(0));
	CU_ASSERT_FALSE(reaper_alive(-1));
	CU_ASSERT_TRUE(reaper_alive(getpid()));
}

static CU_TestInfo trp_tests[] = {
	{ "descendants, signals, SIGCHLD fd", test_tree },
	{ "alive bounds", test_alive_bounds },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("reaper", trp_tests)
