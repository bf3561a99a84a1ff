/*
 * envcwd: the working directory and the environment survive.
 *
 * At start the program creates "STATEDIR/cwd dir/sub" and chdir()s into it,
 * setenv()s variables whose values hold spaces, '=' and nothing at all,
 * unsetenv()s one, and remembers ZDTM_OUTER as it was given at start (the
 * harness passes one through xckpt run, when it wants).  On SIGUSR1 it
 * checks getcwd(), stat(".") against the directory's device and inode,
 * every getenv(), and that the removed variable is still absent.
 */
#include "zdtm.h"

#include <sys/stat.h>

/* The variables set at start. */
static const char *const vars[][2] = {
	{ "ZDTM_SPACES", "a value with  spaces " },
	{ "ZDTM_EQUALS", "k=v=w; x == y" },
	{ "ZDTM_EMPTY", "" },
	{ "ZDTM_QUOTES", "\"double\" 'single' \\ $HOME" },
};
/* The expected working directory and its identity. */
static char cwd[PATH_MAX];
static struct stat cwd_st;
/* ZDTM_OUTER at start (its presence and value). */
static char outer[1024];
static int has_outer;
/* The reason of the last failure. */
static char why[2 * PATH_MAX + 64];

/* Checks cwd and environment.  Returns NULL or the failure. */
static const char *check(void)
{
	char now[PATH_MAX];
	struct stat st;
	const char *v;
	size_t i;

	if (!getcwd(now, sizeof(now)))
		return "getcwd failed";
	if (strcmp(now, cwd)) {
		snprintf(why, sizeof(why), "cwd is '%s', expected '%s'", now, cwd);
		return why;
	}
	if (stat(".", &st) < 0 || st.st_dev != cwd_st.st_dev || st.st_ino != cwd_st.st_ino)
		return "'.' is not the directory it was";
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		v = getenv(vars[i][0]);
		if (!v || strcmp(v, vars[i][1])) {
			snprintf(why, sizeof(why), "%s is '%s', expected '%s'", vars[i][0],
				 v ? v : "(unset)", vars[i][1]);
			return why;
		}
	}
	if (getenv("ZDTM_REMOVED"))
		return "ZDTM_REMOVED is set again";
	v = getenv("ZDTM_OUTER");
	if (has_outer != !!v || (v && strcmp(v, outer))) {
		snprintf(why, sizeof(why), "ZDTM_OUTER is '%s', expected '%s'",
			 v ? v : "(unset)", has_outer ? outer : "(unset)");
		return why;
	}
	return NULL;
}

/* Moves into its directory, sets the environment, waits for checks. */
int main(int argc, char **argv)
{
	char dir[PATH_MAX + 32];
	const char *o;
	size_t i;

	zdtm_init(argc, argv);
	snprintf(dir, sizeof(dir), "%s/cwd dir", zdtm_dir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/cwd dir/sub", zdtm_dir);
	mkdir(dir, 0700);
	if (chdir(dir) < 0 || !getcwd(cwd, sizeof(cwd)) || stat(".", &cwd_st) < 0)
		zdtm_die(dir);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (setenv(vars[i][0], vars[i][1], 1) < 0)
			zdtm_die("setenv");
	setenv("ZDTM_REMOVED", "soon gone", 1);
	unsetenv("ZDTM_REMOVED");
	o = getenv("ZDTM_OUTER");
	if (o) {
		has_outer = 1;
		snprintf(outer, sizeof(outer), "%s", o);
	}
	zdtm_ready();
	zdtm_loop(check, NULL);
	return 0;
}
