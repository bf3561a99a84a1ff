/*
 * xmap.c: the translation maps of one connection (see xmap.h).
 *
 * The client's own resource IDs are translated arithmetically (base/mask), as
 * they make up nearly every ID in a request; the rest goes through hash
 * tables, one pair (client->server, server->client) per class.  An ID the
 * tables do not know is passed unchanged: on one live server that is right
 * for server-owned IDs, and after a restart issue 4 fills the tables with
 * every ID the client knows.
 */
#include <string.h>

#include "xproxy/xmap.h"

/* Most extensions one connection registers (the translated ones are 18). */
#define XMAP_MAX_EXTS 32

/* One extension on both sides. */
typedef struct {
	const ProtoExt *ext;	/* its tables */
	guint8 cmajor;		/* client's major opcode */
	guint8 smajor;		/* server's major opcode */
	guint8 cevent;		/* client's first event (0: none) */
	guint8 sevent;		/* server's first event */
	guint8 cerror;		/* client's first error (0: none) */
	guint8 serror;		/* server's first error */
} XmapExt;

/* The two tables of one class. */
typedef struct {
	GHashTable *c2s;	/* client value -> server value */
	GHashTable *s2c;	/* server value -> client value */
} XmapPair;

struct XpMap {
	guint32 cbase;		/* client's resource-id-base */
	guint32 cmask;		/* client's resource-id-mask */
	guint32 sbase;		/* server connection's resource-id-base */
	guint32 smask;		/* server connection's resource-id-mask */
	guint32 time_offset;	/* server time - client time */
	guint32 atom_xor;	/* test mode: a non-predefined atom the table
				 * does not know differs by this XOR */
	XmapPair xid;		/* other resource IDs */
	XmapPair atom;		/* non-predefined atoms */
	XmapPair sid;		/* server IDs (visuals, formats, RANDR) */
	GHashTable *atom_names;	/* client atom -> name (owned strings) */
	GHashTable *name_atoms;	/* name (borrowed from atom_names) -> atom */
	XmapExt exts[XMAP_MAX_EXTS]; /* registered extensions */
	guint n_exts;		/* how many */
	guint8 by_cmajor[128];	/* client major - 128 -> index + 1 */
	guint8 by_smajor[128];	/* server major - 128 -> index + 1 */
	guint8 by_cevent[128];	/* client event code -> index + 1 */
	guint8 by_sevent[128];	/* server event code -> index + 1 */
	guint8 by_serror[256];	/* server error code -> index + 1 */
	gboolean identity;	/* every map is the identity */
};

/* Creates both tables of a pair. */
static void xmap_pair_init(XmapPair *p)
{
	p->c2s = g_hash_table_new(g_direct_hash, g_direct_equal);
	p->s2c = g_hash_table_new(g_direct_hash, g_direct_equal);
}

/* New identity maps (resource-ID ranges equal and empty). */
XpMap *xmap_new(void)
{
	XpMap *map = g_new0(XpMap, 1);

	xmap_pair_init(&map->xid);
	xmap_pair_init(&map->atom);
	xmap_pair_init(&map->sid);
	map->atom_names = g_hash_table_new_full(g_direct_hash, g_direct_equal,
						NULL, g_free);
	map->name_atoms = g_hash_table_new(g_str_hash, g_str_equal);
	map->identity = TRUE;
	return map;
}

/* Frees MAP and its tables. */
void xmap_free(XpMap *map)
{
	if (!map)
		return;
	XmapPair *pairs[] = { &map->xid, &map->atom, &map->sid };
	for (guint i = 0; i < G_N_ELEMENTS(pairs); i++) {
		g_hash_table_destroy(pairs[i]->c2s);
		g_hash_table_destroy(pairs[i]->s2c);
	}
	g_hash_table_destroy(map->name_atoms);
	g_hash_table_destroy(map->atom_names);
	g_free(map);
}

/* Recomputes map->identity after a change. */
static void xmap_update_identity(XpMap *map)
{
	gboolean id = map->cbase == map->sbase && map->cmask == map->smask &&
		      map->time_offset == 0 && map->atom_xor == 0 &&
		      g_hash_table_size(map->xid.c2s) == 0 &&
		      g_hash_table_size(map->atom.c2s) == 0 &&
		      g_hash_table_size(map->sid.c2s) == 0;

	for (guint i = 0; id && i < map->n_exts; i++) {
		const XmapExt *e = &map->exts[i];
		id = e->cmajor == e->smajor && e->cevent == e->sevent &&
		     e->cerror == e->serror;
	}
	map->identity = id;
}

/* Sets both resource-ID ranges. */
void xmap_set_xid_range(XpMap *map, guint32 cbase, guint32 cmask,
			guint32 sbase, guint32 smask)
{
	map->cbase = cbase;
	map->cmask = cmask;
	map->sbase = sbase;
	map->smask = smask;
	xmap_update_identity(map);
}

/* The client's resource-ID base. */
guint32 xmap_client_base(const XpMap *map)
{
	return map->cbase;
}

/* The client's resource-ID mask. */
guint32 xmap_client_mask(const XpMap *map)
{
	return map->cmask;
}

/* The table pair of class CLS, or NULL for a class without tables. */
static XmapPair *xmap_pair(XpMap *map, ProtoClass cls)
{
	switch (cls) {
	case PROTO_CLASS_XID:
		return &map->xid;
	case PROTO_CLASS_ATOM:
		return &map->atom;
	case PROTO_CLASS_SERVER_ID:
		return &map->sid;
	default:
		return NULL;
	}
}

/* Adds CLIENT <-> SERVER to the tables of CLS, dropping stale pairs. */
void xmap_add(XpMap *map, ProtoClass cls, guint32 client, guint32 server)
{
	XmapPair *p = xmap_pair(map, cls);
	gpointer old;

	g_return_if_fail(p != NULL);
	if (g_hash_table_lookup_extended(p->c2s, GUINT_TO_POINTER(client),
					 NULL, &old))
		g_hash_table_remove(p->s2c, old);
	if (g_hash_table_lookup_extended(p->s2c, GUINT_TO_POINTER(server),
					 NULL, &old))
		g_hash_table_remove(p->c2s, old);
	g_hash_table_insert(p->c2s, GUINT_TO_POINTER(client),
			    GUINT_TO_POINTER(server));
	g_hash_table_insert(p->s2c, GUINT_TO_POINTER(server),
			    GUINT_TO_POINTER(client));
	xmap_update_identity(map);
}

/* Removes the pair of CLIENT from the tables of CLS. */
void xmap_remove(XpMap *map, ProtoClass cls, guint32 client)
{
	XmapPair *p = xmap_pair(map, cls);
	gpointer server;

	g_return_if_fail(p != NULL);
	if (!g_hash_table_lookup_extended(p->c2s, GUINT_TO_POINTER(client),
					  NULL, &server))
		return;
	g_hash_table_remove(p->c2s, GUINT_TO_POINTER(client));
	g_hash_table_remove(p->s2c, server);
	xmap_update_identity(map);
}

/* Sets the test-mode atom XOR. */
void xmap_set_atom_xor(XpMap *map, guint32 mask)
{
	map->atom_xor = mask;
	xmap_update_identity(map);
}

/* Sets the timestamp offset. */
void xmap_set_time_offset(XpMap *map, guint32 offset)
{
	map->time_offset = offset;
	xmap_update_identity(map);
}

/* The timestamp offset. */
guint32 xmap_time_offset(const XpMap *map)
{
	return map->time_offset;
}

/* Looks V up in TABLE; V itself when absent. */
static inline guint32 xmap_lookup(GHashTable *table, guint32 v)
{
	gpointer r;

	if (g_hash_table_size(table) == 0 ||
	    !g_hash_table_lookup_extended(table, GUINT_TO_POINTER(v), NULL, &r))
		return v;
	return GPOINTER_TO_UINT(r);
}

/* Looks atom V up in TABLE; absent: V, or V ^ atom_xor in test mode. */
static inline guint32 xmap_lookup_atom(const XpMap *map, GHashTable *table,
				       guint32 v)
{
	gpointer r;

	if (g_hash_table_size(table) &&
	    g_hash_table_lookup_extended(table, GUINT_TO_POINTER(v), NULL, &r))
		return GPOINTER_TO_UINT(r);
	return v ^ map->atom_xor;
}

/* Client view -> server view.  0 (None, AnyPropertyType, CurrentTime) is
 * never translated. */
guint32 xmap_to_server(const XpMap *map, ProtoClass cls, guint32 v)
{
	if (v == 0 || map->identity)
		return v;
	switch (cls) {
	case PROTO_CLASS_XID:
		if ((v & ~map->cmask) == map->cbase)
			return map->sbase | (v & map->cmask);
		return xmap_lookup(map->xid.c2s, v);
	case PROTO_CLASS_ATOM:
		if (v <= XMAP_LAST_PREDEFINED_ATOM)
			return v;
		return xmap_lookup_atom(map, map->atom.c2s, v);
	case PROTO_CLASS_TIME:
		return v + map->time_offset;
	case PROTO_CLASS_SERVER_ID:
		return xmap_lookup(map->sid.c2s, v);
	default:
		return v;
	}
}

/* Server view -> client view (the inverse of xmap_to_server()). */
guint32 xmap_to_client(const XpMap *map, ProtoClass cls, guint32 v)
{
	if (v == 0 || map->identity)
		return v;
	switch (cls) {
	case PROTO_CLASS_XID:
		if ((v & ~map->smask) == map->sbase)
			return map->cbase | (v & map->smask);
		return xmap_lookup(map->xid.s2c, v);
	case PROTO_CLASS_ATOM:
		if (v <= XMAP_LAST_PREDEFINED_ATOM)
			return v;
		return xmap_lookup_atom(map, map->atom.s2c, v);
	case PROTO_CLASS_TIME:
		return v - map->time_offset;
	case PROTO_CLASS_SERVER_ID:
		return xmap_lookup(map->sid.s2c, v);
	default:
		return v;
	}
}

/* Whether nothing is translated. */
gboolean xmap_is_identity(const XpMap *map)
{
	return map->identity;
}

/* Records ATOM's name (both directions). */
void xmap_note_atom_name(XpMap *map, guint32 atom, const char *name)
{
	const char *old = g_hash_table_lookup(map->atom_names,
					      GUINT_TO_POINTER(atom));
	char *copy;

	if (old && strcmp(old, name) == 0)
		return;
	if (old)
		g_hash_table_remove(map->name_atoms, old);
	copy = g_strdup(name);
	g_hash_table_insert(map->atom_names, GUINT_TO_POINTER(atom), copy);
	g_hash_table_insert(map->name_atoms, copy, GUINT_TO_POINTER(atom));
}

/* The recorded name of ATOM, or NULL. */
const char *xmap_atom_name(const XpMap *map, guint32 atom)
{
	return g_hash_table_lookup(map->atom_names, GUINT_TO_POINTER(atom));
}

/* A client atom value above every known one. */
guint32 xmap_atom_fresh(const XpMap *map)
{
	guint32 max = XMAP_LAST_PREDEFINED_ATOM;
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, map->atom.c2s);
	while (g_hash_table_iter_next(&it, &k, &v))
		max = MAX(max, MAX(GPOINTER_TO_UINT(k), GPOINTER_TO_UINT(v)));
	g_hash_table_iter_init(&it, map->atom_names);
	while (g_hash_table_iter_next(&it, &k, NULL))
		max = MAX(max, GPOINTER_TO_UINT(k));
	return max + 1;
}

/* The atom recorded for NAME, or 0. */
guint32 xmap_atom_by_name(const XpMap *map, const char *name)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(map->name_atoms, name));
}

/* Registers EXT with its codes on both sides, replacing an older entry for
 * the same tables; codes of 0 (no events, no errors) are not indexed. */
void xmap_add_ext(XpMap *map, const ProtoExt *ext, guint8 cmajor,
		  guint8 cevent, guint8 cerror, guint8 smajor, guint8 sevent,
		  guint8 serror)
{
	guint i, n;

	for (i = 0; i < map->n_exts; i++)
		if (map->exts[i].ext == ext)
			break;
	if (i == XMAP_MAX_EXTS || cmajor < 128 || smajor < 128) {
		g_warning("xmap: cannot register extension %s",
			  proto_ext_name(ext));
		return;
	}
	if (i == map->n_exts)
		map->n_exts++;
	map->exts[i] = (XmapExt){ ext, cmajor, smajor, cevent, sevent,
				  cerror, serror };
	map->by_cmajor[cmajor - 128] = i + 1;
	map->by_smajor[smajor - 128] = i + 1;
	n = proto_ext_n_events(ext);
	for (guint k = 0; cevent && sevent && k < n; k++) {
		if (cevent + k < 128)
			map->by_cevent[cevent + k] = i + 1;
		if (sevent + k < 128)
			map->by_sevent[sevent + k] = i + 1;
	}
	n = proto_ext_n_errors(ext);
	for (guint k = 0; serror && k < n && serror + k < 256; k++)
		map->by_serror[serror + k] = i + 1;
	xmap_update_identity(map);
}

/* The number of registered extensions. */
guint xmap_n_exts(const XpMap *map)
{
	return map->n_exts;
}

/* The I-th registered extension and its client codes. */
const ProtoExt *xmap_ext_nth(const XpMap *map, guint i, guint8 *cmajor,
			     guint8 *cevent, guint8 *cerror)
{
	g_return_val_if_fail(i < map->n_exts, NULL);
	*cmajor = map->exts[i].cmajor;
	*cevent = map->exts[i].cevent;
	*cerror = map->exts[i].cerror;
	return map->exts[i].ext;
}

/* The extension with client major CMAJOR. */
const ProtoExt *xmap_ext_by_client_major(const XpMap *map, guint8 cmajor,
					 guint8 *smajor)
{
	guint8 i = cmajor >= 128 ? map->by_cmajor[cmajor - 128] : 0;

	if (!i)
		return NULL;
	*smajor = map->exts[i - 1].smajor;
	return map->exts[i - 1].ext;
}

/* The extension with server major SMAJOR. */
const ProtoExt *xmap_ext_by_server_major(const XpMap *map, guint8 smajor,
					 guint8 *cmajor)
{
	guint8 i = smajor >= 128 ? map->by_smajor[smajor - 128] : 0;

	*cmajor = smajor;
	if (!i)
		return NULL;
	*cmajor = map->exts[i - 1].cmajor;
	return map->exts[i - 1].ext;
}

/* Event code CODE from the server. */
const ProtoExt *xmap_event_from_server(const XpMap *map, guint8 code,
				       guint *num, guint8 *other)
{
	guint8 i;

	*other = code;
	*num = code;
	if (code < 64)
		return proto_core();
	i = code < 128 ? map->by_sevent[code] : 0;
	if (!i)
		return NULL;
	*num = code - map->exts[i - 1].sevent;
	*other = map->exts[i - 1].cevent + *num;
	return map->exts[i - 1].ext;
}

/* Event code CODE from the client (SendEvent). */
const ProtoExt *xmap_event_from_client(const XpMap *map, guint8 code,
				       guint *num, guint8 *other)
{
	guint8 i;

	*other = code;
	*num = code;
	if (code < 64)
		return proto_core();
	i = code < 128 ? map->by_cevent[code] : 0;
	if (!i)
		return NULL;
	*num = code - map->exts[i - 1].cevent;
	*other = map->exts[i - 1].sevent + *num;
	return map->exts[i - 1].ext;
}

/* Error code CODE from the server. */
const ProtoExt *xmap_error_from_server(const XpMap *map, guint8 code,
				       guint *num, guint8 *other)
{
	guint8 i;

	*other = code;
	*num = code;
	if (code < 128)
		return proto_core();
	i = map->by_serror[code];
	if (!i)
		return NULL;
	*num = code - map->exts[i - 1].serror;
	*other = map->exts[i - 1].cerror + *num;
	return map->exts[i - 1].ext;
}
