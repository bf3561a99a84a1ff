/*
 * unit.h: how a unit-test file registers its CUnit suite.
 *
 * Every .c file of tests/unit/ is linked into one binary (build/test-unit).  A
 * file declares its tests in a table and registers it with UNIT_SUITE(); the
 * registration runs before main() (a constructor), so adding a test file
 * needs no edit anywhere else.
 */
#pragma once

#include <CUnit/CUnit.h>
#include <glib.h>

/* One suite, as a test file declares it. */
typedef struct {
	const char *name;	/* suite name */
	CU_TestInfo *tests;	/* tests, ending with CU_TEST_INFO_NULL */
} UnitSuite;

/* Queues SUITE for registration by main(); called from constructors. */
void unit_add(const UnitSuite *suite);

/* Declares the suite NAME made of the CU_TestInfo array TESTS. */
#define UNIT_SUITE(NAME, TESTS)						\
	static const UnitSuite unit_suite_ = { NAME, TESTS };		\
	__attribute__((constructor)) static void unit_register_(void)	\
	{								\
		unit_add(&unit_suite_);					\
	}

/* A private Xvfb of a live test (xvfb.c). */
typedef struct {
	GPid pid;		/* Xvfb's pid (0: none) */
	int display;		/* its display number */
} UnitXvfb;

/* Reads XCKPT_TEST_DISPLAYS ("FIRST-LAST") into *FIRST and *LAST, which
 * keep the caller's defaults when it is unset.  FALSE (with a message)
 * when it is malformed. */
gboolean unit_display_range(int *first, int *last);

/* Starts Xvfb (640x480x24) on the first free display from *NEXT to LAST,
 * and waits until it takes connections; fills X and sets *NEXT to the
 * display after it.  The server dies with the test binary.  FALSE when no
 * display could be started. */
gboolean unit_xvfb_start(UnitXvfb *x, int *next, int last);

/* Stops X's server, if it runs. */
void unit_xvfb_stop(UnitXvfb *x);
