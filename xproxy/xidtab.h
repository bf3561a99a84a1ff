/*
 * xidtab.h: a flat hash table from 32-bit IDs to pointers, for the record's
 * entries (record.c).
 *
 * Why not GHashTable: a client that creates and destroys windows by the
 * dozen (x11perf -create, a menu opening) made the record's GHashTable
 * grow and shrink, and reallocate and rehash, on every cycle, and each of
 * its lookups went through function pointers.  This table is one array of
 * (key, value) slots with linear probing: a lookup is a multiply, a shift
 * and usually one slot; removal shifts the following slots back (no
 * tombstones); it grows at 3/4 full and never shrinks, so its memory is
 * that of the client's peak (16 bytes a slot).  No allocation but growth.
 */
#pragma once

#include <glib.h>

/* One slot: VAL is NULL when the slot is empty (values are never NULL). */
typedef struct {
	guint32 key;		/* the ID */
	gpointer val;		/* its value (not owned), NULL: empty */
} XidTabSlot;

/* A table (embedded in its owner; xidtab_init() before use). */
typedef struct {
	XidTabSlot *slots;	/* CAP slots (owned) */
	guint32 cap;		/* a power of 2 */
	guint32 n;		/* slots in use */
} XidTab;

/* The home slot of KEY in a table of CAP slots (Fibonacci hashing: IDs
 * handed out in sequence spread over the whole table). */
static inline guint32 xidtab_home(guint32 key, guint32 cap)
{
	return (guint32)(key * 0x9E3779B1u) >> (32 - __builtin_ctz(cap));
}

/* Makes T an empty table. */
void xidtab_init(XidTab *t);

/* Frees T's slots (not the values) and leaves it empty and unusable until
 * xidtab_init(). */
void xidtab_clear(XidTab *t);

/* The value of KEY, or NULL. */
static inline gpointer xidtab_lookup(const XidTab *t, guint32 key)
{
	guint32 mask = t->cap - 1;

	for (guint32 i = xidtab_home(key, t->cap);; i = (i + 1) & mask) {
		const XidTabSlot *s = &t->slots[i];
		if (!s->val)
			return NULL;
		if (s->key == key)
			return s->val;
	}
}

/* Sets the value of KEY to VAL (not NULL), replacing any. */
void xidtab_insert(XidTab *t, guint32 key, gpointer val);

/* Removes KEY.  Returns its value, or NULL when it was not there. */
gpointer xidtab_remove(XidTab *t, guint32 key);

/* How many keys T holds. */
static inline guint xidtab_size(const XidTab *t)
{
	return t->n;
}

/* Iteration: the next value from slot *POS on (start with *POS = 0), or
 * NULL at the end.  T must not change during an iteration. */
gpointer xidtab_next(const XidTab *t, guint *pos);
