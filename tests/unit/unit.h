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
