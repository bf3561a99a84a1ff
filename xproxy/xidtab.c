/*
 * xidtab.c: a flat hash table from 32-bit IDs to pointers (see xidtab.h).
 */
#include "xproxy/xidtab.h"

/* The size of a new table. */
#define XIDTAB_MIN_CAP 64

/* Makes T empty with CAP slots. */
static void xidtab_alloc(XidTab *t, guint32 cap)
{
	t->slots = g_new0(XidTabSlot, cap);
	t->cap = cap;
	t->n = 0;
}

/* An empty table. */
void xidtab_init(XidTab *t)
{
	xidtab_alloc(t, XIDTAB_MIN_CAP);
}

/* Frees the slots. */
void xidtab_clear(XidTab *t)
{
	g_clear_pointer(&t->slots, g_free);
	t->cap = t->n = 0;
}

/* Puts KEY/VAL into its first free slot; the key is not there yet and a
 * free slot exists. */
static void xidtab_place(XidTab *t, guint32 key, gpointer val)
{
	guint32 mask = t->cap - 1, i = xidtab_home(key, t->cap);

	while (t->slots[i].val)
		i = (i + 1) & mask;
	t->slots[i].key = key;
	t->slots[i].val = val;
	t->n++;
}

/* Sets KEY's value; grows the table (doubling) at 3/4 full. */
void xidtab_insert(XidTab *t, guint32 key, gpointer val)
{
	guint32 mask = t->cap - 1;

	for (guint32 i = xidtab_home(key, t->cap); t->slots[i].val;
	     i = (i + 1) & mask)
		if (t->slots[i].key == key) {
			t->slots[i].val = val;
			return;
		}
	if ((t->n + 1) * 4 > t->cap * 3) {
		XidTabSlot *old = t->slots;
		guint32 ocap = t->cap;

		xidtab_alloc(t, ocap * 2);
		for (guint32 i = 0; i < ocap; i++)
			if (old[i].val)
				xidtab_place(t, old[i].key, old[i].val);
		g_free(old);
	}
	xidtab_place(t, key, val);
}

/* Removes KEY, shifting back the slots of its probe run that may move
 * into the hole (backward-shift deletion keeps every key reachable from
 * its home slot without tombstones). */
gpointer xidtab_remove(XidTab *t, guint32 key)
{
	guint32 mask = t->cap - 1, i = xidtab_home(key, t->cap), j;
	gpointer val;

	while (t->slots[i].val && t->slots[i].key != key)
		i = (i + 1) & mask;
	val = t->slots[i].val;
	if (!val)
		return NULL;
	for (j = i;;) {
		guint32 home;

		j = (j + 1) & mask;
		if (!t->slots[j].val)
			break;
		home = xidtab_home(t->slots[j].key, t->cap);
		/* slot j stays when its home lies cyclically in (i, j] */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i].val = NULL;
	t->slots[i].key = 0;
	t->n--;
	return val;
}

/* The next value from *POS on. */
gpointer xidtab_next(const XidTab *t, guint *pos)
{
	while (*pos < t->cap) {
		gpointer v = t->slots[(*pos)++].val;
		if (v)
			return v;
	}
	return NULL;
}
