/*
 * main.c: the unit-test runner.  Runs every registered suite (see unit.h),
 * or only those named on the command line, and exits non-zero on a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "tests/unit/unit.h"

#define UNIT_MAX_SUITES 64

/* Suites queued by the test files' constructors. */
static const UnitSuite *unit_suites[UNIT_MAX_SUITES];
/* How many are queued. */
static unsigned unit_n_suites;

/* Queues SUITE; aborts on overflow (a bug: raise UNIT_MAX_SUITES). */
void unit_add(const UnitSuite *suite)
{
	if (unit_n_suites == UNIT_MAX_SUITES)
		abort();
	unit_suites[unit_n_suites++] = suite;
}

/* Returns whether suite NAME was asked for in ARGV (all when ARGC < 2). */
static int unit_wanted(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (unsigned i = 0; i < unit_n_suites; i++) {
		const UnitSuite *s = unit_suites[i];
		if (!unit_wanted(s->name, argc, argv))
			continue;
		CU_SuiteInfo info[] = { { s->name, NULL, NULL, NULL, NULL,
					  s->tests }, CU_SUITE_INFO_NULL };
		if (CU_register_suites(info) != CUE_SUCCESS) {
			fprintf(stderr, "test-unit: cannot register %s: %s\n",
				s->name, CU_get_error_msg());
			return 2;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() +
			  CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
