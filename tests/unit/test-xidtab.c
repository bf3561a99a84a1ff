/*
 * test-xidtab.c: the record's flat ID table (xproxy/xidtab.c) against a
 * GHashTable doing the same random inserts, replacements and removals, with
 * keys that crowd a few home slots (so probe runs wrap around the end of
 * the table and removals shift them back) and keys spread by the client ID
 * pattern (base | n), through growth.
 */
#include "tests/unit/unit.h"
#include "xproxy/xidtab.h"

/* Checks that T holds exactly what REF holds. */
static void txt_same(const XidTab *t, GHashTable *ref)
{
	GHashTableIter it;
	gpointer k, v;
	guint pos = 0, n = 0;

	CU_ASSERT_EQUAL_FATAL(xidtab_size(t), g_hash_table_size(ref));
	g_hash_table_iter_init(&it, ref);
	while (g_hash_table_iter_next(&it, &k, &v))
		CU_ASSERT_PTR_EQUAL_FATAL(xidtab_lookup(t, GPOINTER_TO_UINT(k)),
					  v);
	while ((v = xidtab_next(t, &pos)))
		n++;
	CU_ASSERT_EQUAL_FATAL(n, g_hash_table_size(ref));
}

/* Random operations on keys drawn by KEY_FN from a small range. */
static void txt_random(guint32 (*key_fn)(GRand *r))
{
	g_autoptr(GHashTable) ref = g_hash_table_new(NULL, NULL);
	g_autoptr(GRand) r = g_rand_new_with_seed(42);
	XidTab t;

	xidtab_init(&t);
	for (guint i = 0; i < 20000; i++) {
		guint32 k = key_fn(r);
		gpointer v = GUINT_TO_POINTER(g_rand_int_range(r, 1, 1000));

		if (g_rand_int_range(r, 0, 3)) {
			xidtab_insert(&t, k, v);
			g_hash_table_insert(ref, GUINT_TO_POINTER(k), v);
		} else {
			CU_ASSERT_PTR_EQUAL(xidtab_remove(&t, k),
					    g_hash_table_lookup(
						    ref, GUINT_TO_POINTER(k)));
			g_hash_table_remove(ref, GUINT_TO_POINTER(k));
		}
		if (i % 97 == 0)
			txt_same(&t, ref);
	}
	txt_same(&t, ref);
	xidtab_clear(&t);
}

/* Client-style IDs: a base and a small counter, 0 included. */
static guint32 txt_client_key(GRand *r)
{
	return 0x00600000u | (guint32)g_rand_int_range(r, 0, 300);
}

/* Any 32-bit value from a small set, 0 and 0xffffffff included. */
static guint32 txt_wild_key(GRand *r)
{
	static const guint32 keys[] = { 0, 1, 0xffffffffu, 0x80000000u,
					0x00400001u, 0x1fffffffu, 7, 64 };

	return keys[g_rand_int_range(r, 0, G_N_ELEMENTS(keys))] ^
	       ((guint32)g_rand_int_range(r, 0, 4) << 8);
}

/* Keys whose home is one of the last two slots of a new table (64
 * slots), so that their probe runs wrap around its end. */
static guint32 txt_crowd_key(GRand *r)
{
	static guint32 keys[24];
	static guint n;

	for (guint32 k = 1; n < G_N_ELEMENTS(keys); k++)
		if (xidtab_home(k, 64) >= 62)
			keys[n++] = k;
	return keys[g_rand_int_range(r, 0, G_N_ELEMENTS(keys))];
}

/* Random operations, client IDs. */
static void test_xidtab_client(void)
{
	txt_random(txt_client_key);
}

/* Random operations, odd keys. */
static void test_xidtab_wild(void)
{
	txt_random(txt_wild_key);
}

/* Random operations, probe runs that wrap around. */
static void test_xidtab_crowd(void)
{
	txt_random(txt_crowd_key);
}

static CU_TestInfo txt_tests[] = {
	{ "random operations, client IDs", test_xidtab_client },
	{ "random operations, odd keys", test_xidtab_wild },
	{ "random operations, wrapping probe runs", test_xidtab_crowd },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("xidtab", txt_tests)
