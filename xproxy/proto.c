/*
 * proto.c: lookups over the generated protocol tables (proto.h).
 *
 * The data lives in build/gen/proto-tables.c, written by gen-tables.py; this
 * file only indexes it.  Every function returns static data.
 */
#include <string.h>

#include "xproxy/proto.h"
#include "proto-tables.h"

/* Kind names, indexed by ProtoKind. */
static const char *const proto_kind_names[PROTO_K_COUNT] = {
	[PROTO_K_NONE] = "NONE",
	[PROTO_K_WINDOW] = "WINDOW",
	[PROTO_K_PIXMAP] = "PIXMAP",
	[PROTO_K_DRAWABLE] = "DRAWABLE",
	[PROTO_K_GCONTEXT] = "GCONTEXT",
	[PROTO_K_FONT] = "FONT",
	[PROTO_K_FONTABLE] = "FONTABLE",
	[PROTO_K_CURSOR] = "CURSOR",
	[PROTO_K_COLORMAP] = "COLORMAP",
	[PROTO_K_PICTURE] = "PICTURE",
	[PROTO_K_GLYPHSET] = "GLYPHSET",
	[PROTO_K_REGION] = "REGION",
	[PROTO_K_FENCE] = "FENCE",
	[PROTO_K_COUNTER] = "COUNTER",
	[PROTO_K_ALARM] = "ALARM",
	[PROTO_K_DAMAGE] = "DAMAGE",
	[PROTO_K_BARRIER] = "BARRIER",
	[PROTO_K_XID] = "XID",
	[PROTO_K_ATOM] = "ATOM",
	[PROTO_K_TIMESTAMP] = "TIMESTAMP",
	[PROTO_K_VISUALID] = "VISUALID",
	[PROTO_K_PICTFORMAT] = "PICTFORMAT",
	[PROTO_K_CRTC] = "CRTC",
	[PROTO_K_OUTPUT] = "OUTPUT",
	[PROTO_K_MODE] = "MODE",
	[PROTO_K_PROVIDER] = "PROVIDER",
};

/* Returns KIND's name (static), "?" when out of range. */
const char *proto_kind_name(ProtoKind kind)
{
	if ((guint)kind >= PROTO_K_COUNT)
		return "?";
	return proto_kind_names[kind];
}

/* Returns core X11's tables (static). */
const ProtoExt *proto_core(void)
{
	return &proto_tables_core;
}

/* Returns the tables of extension XNAME (static), or NULL. */
const ProtoExt *proto_ext_lookup(const char *xname)
{
	for (guint i = 0; i < proto_tables_n_exts; i++)
		if (strcmp(proto_tables_exts[i]->xname, xname) == 0)
			return proto_tables_exts[i];
	return NULL;
}

/* Returns how many extensions have tables. */
guint proto_n_exts(void)
{
	return proto_tables_n_exts;
}

/* Returns the I-th extension's tables (static), NULL past the end. */
const ProtoExt *proto_ext_nth(guint i)
{
	if (i >= proto_tables_n_exts)
		return NULL;
	return proto_tables_exts[i];
}

/* Returns EXT's X name (static; NULL for core). */
const char *proto_ext_name(const ProtoExt *ext)
{
	return ext->xname;
}

/* Returns the number of event codes EXT uses (XKEYBOARD: 1). */
guint proto_ext_n_events(const ProtoExt *ext)
{
	return ext->n_events;
}

/* Returns the number of error codes EXT uses. */
guint proto_ext_n_errors(const ProtoExt *ext)
{
	return ext->n_errors;
}

/* Returns the description of request OP of EXT (static), or NULL. */
const ProtoMsg *proto_request(const ProtoExt *ext, guint op)
{
	return op < ext->n_requests ? ext->requests[op] : NULL;
}

/* Returns the description of request OP's reply (static), or NULL. */
const ProtoMsg *proto_reply(const ProtoExt *ext, guint op)
{
	return op < ext->n_requests ? ext->replies[op] : NULL;
}

/* Returns the description of event NUM of EXT (static), or NULL.  For
 * XKEYBOARD, number 0 is a program that dispatches on the xkbType byte. */
const ProtoMsg *proto_event(const ProtoExt *ext, guint num)
{
	return num < ext->n_events ? ext->events[num] : NULL;
}

/* Returns the description of EXT's Generic Event EVTYPE (static), or NULL. */
const ProtoMsg *proto_ge_event(const ProtoExt *ext, guint evtype)
{
	return evtype < ext->n_ge_events ? ext->ge_events[evtype] : NULL;
}

/* Returns the description of the XKB event with xkbType SUBTYPE (static),
 * or NULL when XKEYBOARD defines none. */
const ProtoMsg *proto_xkb_event(guint subtype)
{
	const ProtoExt *xkb = proto_ext_lookup("XKEYBOARD");

	if (!xkb || subtype >= xkb->n_xkb_events)
		return NULL;
	return xkb->xkb_events[subtype];
}

/* Returns the description of the connection setup reply (static). */
const ProtoMsg *proto_setup(void)
{
	return proto_tables_core.setup;
}

/* Returns MSG's name (static). */
const char *proto_msg_name(const ProtoMsg *msg)
{
	return msg->name;
}

/* Returns the size every MSG has at least: the fixed fields (requests:
 * header included, normal form), 32 for replies and events. */
gsize proto_msg_min_size(const ProtoMsg *msg)
{
	return msg->min_size;
}

/* Returns whether MSG carries file descriptors (SCM_RIGHTS) besides its
 * bytes (e.g. RANDR CreateLease's reply). */
gboolean proto_msg_has_fds(const ProtoMsg *msg)
{
	return (msg->flags & PROTO_MSG_FDS) != 0;
}

/* Returns the kind of the bad value in EXT's error NUM. */
ProtoKind proto_error_kind(const ProtoExt *ext, guint num)
{
	if (num >= ext->n_errors)
		return PROTO_K_NONE;
	return (ProtoKind)ext->error_kinds[num];
}
