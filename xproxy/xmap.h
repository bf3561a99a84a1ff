/*
 * xmap.h: the translation maps of one client connection, between the
 * client's view (what the client was told, possibly by an earlier server)
 * and the server's (the server the connection talks to now).
 *
 *  - Resource IDs: the client's own range (resource-id-base/mask from its
 *    setup reply) maps onto the server connection's range by keeping the low
 *    bits; any other ID (the root window, other clients' windows) goes
 *    through a table, and is left alone when the table does not know it.
 *  - Atoms: predefined atoms (1..68) never change; others go through a table.
 *  - Server IDs (visuals, picture formats, RANDR objects): a table.
 *  - Timestamps: an offset (server = client + offset); CurrentTime (0) stays.
 *  - Extensions: major opcode, first event and first error on each side.
 *
 * On one live server every map is the identity; a restart on another server
 * installs other maps (issue 4).  Lookups never allocate.
 */
#pragma once

#include <glib.h>

#include "xproxy/proto.h"

/* The last predefined atom (XA_WM_TRANSIENT_FOR). */
#define XMAP_LAST_PREDEFINED_ATOM 68

/* One connection's maps (opaque). */
typedef struct XpMap XpMap;

/* New identity maps; free with xmap_free(). */
XpMap *xmap_new(void);

/* Frees MAP. */
void xmap_free(XpMap *map);

/* Sets the client's resource-ID range (CBASE/CMASK) and the server
 * connection's (SBASE/SMASK). */
void xmap_set_xid_range(XpMap *map, guint32 cbase, guint32 cmask,
			guint32 sbase, guint32 smask);

/* The client's resource-ID base and mask. */
guint32 xmap_client_base(const XpMap *map);
guint32 xmap_client_mask(const XpMap *map);

/* Maps CLIENT (client's view) to SERVER for class CLS (XID, ATOM or
 * SERVER_ID), both ways; replaces an older pair for either value. */
void xmap_add(XpMap *map, ProtoClass cls, guint32 client, guint32 server);

/* Forgets the pair whose client value is CLIENT. */
void xmap_remove(XpMap *map, ProtoClass cls, guint32 client);

/* Sets the timestamp offset: server time = client time + OFFSET. */
void xmap_set_time_offset(XpMap *map, guint32 offset);

/* The timestamp offset. */
guint32 xmap_time_offset(const XpMap *map);

/* Test mode (XCKPT_XPROXY_REMAP=1): every non-predefined atom that the
 * table does not know is MASK XOR its value on the other side (a bijection,
 * so a live server's atoms can look different to the client). */
void xmap_set_atom_xor(XpMap *map, guint32 mask);

/* Translates V of class CLS to the server's view / to the client's. */
guint32 xmap_to_server(const XpMap *map, ProtoClass cls, guint32 v);
guint32 xmap_to_client(const XpMap *map, ProtoClass cls, guint32 v);

/* Whether every map is the identity (then translation changes nothing). */
gboolean xmap_is_identity(const XpMap *map);

/* Notes that client atom ATOM is called NAME. */
void xmap_note_atom_name(XpMap *map, guint32 atom, const char *name);

/* The name of client atom ATOM (owned by MAP), or NULL if not known. */
const char *xmap_atom_name(const XpMap *map, guint32 atom);

/* A client atom value that no known atom uses: above every client atom
 * the tables and the names know (for an atom new to the client after a
 * restart whose server value the client already uses for another). */
guint32 xmap_atom_fresh(const XpMap *map);

/* The client atom called NAME, or 0 if not known. */
guint32 xmap_atom_by_name(const XpMap *map, const char *name);

/* Registers extension EXT: its major opcode, first event and first error as
 * the client sees them (C*) and as the server has them (S*). */
void xmap_add_ext(XpMap *map, const ProtoExt *ext, guint8 cmajor,
		  guint8 cevent, guint8 cerror, guint8 smajor, guint8 sevent,
		  guint8 serror);

/* The number of registered extensions, and the I-th one's tables with its
 * client codes in *CMAJOR, *CEVENT and *CERROR (for a reconnection, which
 * keeps the client's codes and asks the new server for its own). */
guint xmap_n_exts(const XpMap *map);
const ProtoExt *xmap_ext_nth(const XpMap *map, guint i, guint8 *cmajor,
			     guint8 *cevent, guint8 *cerror);

/* The extension whose client major opcode is CMAJOR, with its server major
 * in *SMAJOR; NULL when the client has no such extension. */
const ProtoExt *xmap_ext_by_client_major(const XpMap *map, guint8 cmajor,
					 guint8 *smajor);

/* The extension whose server major opcode is SMAJOR, with its client major
 * in *CMAJOR; NULL (and *CMAJOR = SMAJOR) when not registered. */
const ProtoExt *xmap_ext_by_server_major(const XpMap *map, guint8 smajor,
					 guint8 *cmajor);

/* An event code (without the SendEvent bit) seen from one side: returns its
 * tables (proto_core() for core events 2..63) and sets *NUM to the event
 * number within them and *OTHER to the code on the other side.  NULL (and
 * *OTHER = CODE) when the code belongs to no registered extension. */
const ProtoExt *xmap_event_from_server(const XpMap *map, guint8 code,
				       guint *num, guint8 *other);
const ProtoExt *xmap_event_from_client(const XpMap *map, guint8 code,
				       guint *num, guint8 *other);

/* An error code from the server: like xmap_event_from_server(), with core
 * errors below 128. */
const ProtoExt *xmap_error_from_server(const XpMap *map, guint8 code,
				       guint *num, guint8 *other);
