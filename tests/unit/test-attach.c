/*
 * test-attach.c: the attach client's detach key (src/attach.c).
 */
#include <glib.h>

#include "src/cmd.h"
#include "tests/unit/unit.h"

/* The spellings of a detach key. */
static void test_parse_key(void)
{
	static const struct {
		const char *spec;	/* what the user wrote */
		int key;		/* the byte, -1 none, -2 an error */
	} cases[] = {
		{ NULL, ATTACH_DEFAULT_KEY }, { "", ATTACH_DEFAULT_KEY },
		{ "^\\", 0x1c }, { "^]", 0x1d }, { "^a", 0x01 },
		{ "^A", 0x01 }, { "^?", 0x7f }, { "^_", 0x1f },
		{ "x", 'x' }, { "none", -1 }, { "NONE", -1 },
		{ "^@", -2 }, { "^", '^' }, { "^ab", -2 }, { "ab", -2 },
		{ "\xc3\xa9", -2 }, { "^1", -2 },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		int key = -3;
		gboolean ok = attach_parse_key(cases[i].spec, &key, &error);

		if (cases[i].key == -2) {
			CU_ASSERT_FALSE(ok);
			CU_ASSERT_PTR_NOT_NULL(error);
		} else {
			CU_ASSERT_TRUE(ok);
			CU_ASSERT_EQUAL(key, cases[i].key);
		}
	}
}

static CU_TestInfo tests[] = {
	{ "detach key", test_parse_key },
	CU_TEST_INFO_NULL
};

UNIT_SUITE("attach", tests)
