/*
 * xlate.c: translation of one message in place (see xlate.h).
 *
 * The walker visits every field the tables know; the visitors below map each
 * through xmap by the field's class.  When the maps are the identity nothing
 * would change, so the walk is skipped (unless xlate_walk_always): the server
 * checks lengths itself, and gives the same errors for the same bytes.  The
 * hooks run regardless, since some of them (QueryExtension, ListExtensions)
 * apply the proxy's policy rather than translate.
 */
#include "xproxy/hooks.h"
#include "xproxy/log.h"
#include "xproxy/xlate.h"

/* The GenericEvent code (XGE). */
#define XLATE_GENERIC_EVENT 35
/* The ClientMessage event code. */
#define XLATE_CLIENT_MESSAGE 33

gboolean xlate_walk_always;

/* What the fast path needs to know of a core request, by major opcode. */
typedef struct {
	guint8 known;		/* the tables describe it */
	guint8 has_reply;	/* it has a reply */
	guint8 hooked;		/* it has a request hook */
} XlateCore;

/* The core requests, filled once (xlate_core_init()). */
static XlateCore xlate_core[128];
/* Whether xlate_core is filled. */
static gboolean xlate_core_ready;

/* Core requests that need nothing on identity maps (xlate_plain_core()). */
static guint8 xlate_plain[128];

/* Fills xlate_core and xlate_plain from the tables and the hooks. */
static void xlate_core_init(void)
{
	for (guint op = 0; op < 128; op++) {
		XlateCore *c = &xlate_core[op];
		c->known = proto_request(proto_core(), op) != NULL;
		c->has_reply = proto_reply(proto_core(), op) != NULL;
		c->hooked = hooks_find(proto_core(), op, HOOK_REQUEST) != NULL;
		xlate_plain[op] = c->known && !c->has_reply && !c->hooked;
	}
	xlate_core_ready = TRUE;
}

/* The fast path's table. */
const guint8 *xlate_plain_core(void)
{
	if (G_UNLIKELY(!xlate_core_ready))
		xlate_core_init();
	return xlate_plain;
}

/* Walker visitor: one field to the server's view (UD is the XpMap). */
static void xlate_visit_to_server(gpointer ud, ProtoKind kind, guint8 *field)
{
	guint32 v = xlate_get32(field);
	guint32 n = xmap_to_server(ud, proto_kind_class(kind), v);

	if (n != v)
		xlate_put32(field, n);
}

/* Walker visitor: one field to the client's view. */
static void xlate_visit_to_client(gpointer ud, ProtoKind kind, guint8 *field)
{
	guint32 v = xlate_get32(field);
	guint32 n = xmap_to_client(ud, proto_kind_class(kind), v);

	if (n != v)
		xlate_put32(field, n);
}

/* Finds the request's tables, walks it, runs its hook and sets the server's
 * major opcode. */
XlateResult xlate_request(XpMap *map, guint8 *buf, gsize len, gboolean big,
			  XlateReq *req)
{
	const ProtoMsg *msg;
	guint8 smajor;
	HookFn hook;

	req->cmajor = buf[0];
	req->cminor = 0;
	req->hook_data = 0;
	req->has_reply = FALSE;
	if (G_UNLIKELY(!xlate_core_ready))
		xlate_core_init();
	if (buf[0] < 128 && !xlate_core[buf[0]].hooked &&
	    xmap_is_identity(map) && !xlate_walk_always) {
		/* The fast path: nearly every request on a live server.
		 * Nothing to translate; the server judges the length. */
		if (!xlate_core[buf[0]].known)
			return XLATE_BAD_REQUEST;
		req->ext = proto_core();
		req->op = buf[0];
		req->has_reply = xlate_core[buf[0]].has_reply;
		return XLATE_OK;
	}
	if (buf[0] < 128) {
		req->ext = proto_core();
		req->op = buf[0];
		smajor = buf[0];
	} else {
		/* like the server: the minor opcode of an unknown major is 0 */
		req->ext = xmap_ext_by_client_major(map, buf[0], &smajor);
		if (!req->ext)
			return XLATE_BAD_REQUEST;
		req->cminor = buf[1];
		req->op = buf[1];
	}
	msg = proto_request(req->ext, req->op);
	if (!msg)
		return XLATE_BAD_REQUEST;
	/* File descriptors (SCM_RIGHTS) cannot pass through the proxy, nor
	 * be recorded: such a request (RANDR CreateLease) is refused. */
	if (proto_msg_has_fds(msg) ||
	    (proto_reply(req->ext, req->op) &&
	     proto_msg_has_fds(proto_reply(req->ext, req->op)))) {
		log_debug("refusing %s: it passes file descriptors",
			  proto_msg_name(msg));
		return XLATE_BAD_REQUEST;
	}
	if (xlate_walk_always || !xmap_is_identity(map)) {
		if (walk_message(msg, PROTO_REQUEST, buf, len, big,
				 xlate_visit_to_server, map) ==
		    PROTO_WALK_BAD_LENGTH)
			return XLATE_BAD_LENGTH;
	}
	hook = hooks_find(req->ext, req->op, HOOK_REQUEST);
	if (hook) {
		HookArgs a = { map, buf, len, big, 0 };
		if (hook(&a) < 0)
			return XLATE_BAD_LENGTH;
		req->hook_data = a.hook_data;
	}
	buf[0] = smajor;
	req->has_reply = proto_reply(req->ext, req->op) != NULL;
	return XLATE_OK;
}

/* Walks the reply with the request's tables and runs its hook. */
gssize xlate_reply(XpMap *map, const XlateReq *req, guint8 *buf, gsize len)
{
	const ProtoMsg *msg = proto_reply(req->ext, req->op);
	HookFn hook;

	if (!msg)
		return -1;
	if (xlate_walk_always || !xmap_is_identity(map)) {
		if (walk_message(msg, PROTO_REPLY, buf, len, FALSE,
				 xlate_visit_to_client, map) != PROTO_WALK_OK)
			return -1;
	}
	hook = hooks_find(req->ext, req->op, HOOK_REPLY);
	if (hook) {
		HookArgs a = { map, buf, len, FALSE, req->hook_data };
		return hook(&a);
	}
	return len;
}

/* Translates an event's code and fields in either direction. */
gboolean xlate_event(XpMap *map, guint8 *buf, gsize len, gboolean to_server)
{
	ProtoVisitFn visit = to_server ? xlate_visit_to_server :
					 xlate_visit_to_client;
	guint8 code = buf[0] & 0x7f, other;
	const ProtoExt *ext;
	const ProtoMsg *msg;
	guint num;

	if (xmap_is_identity(map) && !xlate_walk_always)
		return TRUE;
	if (code == XLATE_GENERIC_EVENT) {
		if (len < 32)
			return FALSE;
		if (to_server)
			ext = xmap_ext_by_client_major(map, buf[1], &other);
		else
			ext = xmap_ext_by_server_major(map, buf[1], &other);
		if (!ext) {
			log_debug("generic event of unknown extension %u "
				  "passed as is", buf[1]);
			return TRUE;
		}
		msg = proto_ge_event(ext, xlate_get16(buf + 8));
		if (msg && walk_message(msg, PROTO_EVENT, buf, len, FALSE,
					visit, map) != PROTO_WALK_OK)
			return FALSE;
		buf[1] = other;
		return TRUE;
	}
	if (to_server)
		ext = xmap_event_from_client(map, code, &num, &other);
	else
		ext = xmap_event_from_server(map, code, &num, &other);
	if (!ext) {
		log_debug("event %u of no known extension passed as is", code);
		return TRUE;
	}
	if (to_server && code == XLATE_CLIENT_MESSAGE)
		hooks_client_message(map, buf, TRUE);
	msg = proto_event(ext, num);
	if (msg && walk_message(msg, PROTO_EVENT, buf, 32, FALSE, visit,
				map) != PROTO_WALK_OK)
		return FALSE;
	if (!to_server && code == XLATE_CLIENT_MESSAGE)
		hooks_client_message(map, buf, FALSE);
	buf[0] = other | (buf[0] & 0x80);
	return TRUE;
}

/* Translates an error: its code, bad value and major opcode. */
void xlate_error(XpMap *map, guint8 *buf)
{
	const ProtoExt *ext;
	guint8 other;
	guint num;

	if (xmap_is_identity(map))
		return;
	ext = xmap_error_from_server(map, buf[1], &num, &other);
	if (ext) {
		ProtoKind kind = proto_error_kind(ext, num);
		if (kind != PROTO_K_NONE)
			xlate_visit_to_client(map, kind, buf + 4);
		buf[1] = other;
	}
	if (buf[10] >= 128) {
		xmap_ext_by_server_major(map, buf[10], &other);
		buf[10] = other;
	}
}
