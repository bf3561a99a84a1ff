/*
 * hooks.h: the closed set of hand-written handlers for what the protocol
 * tables cannot say.  hooks.c lists them all in one table, with the reason
 * for each.
 *
 * A request hook runs after the walker has translated the request to the
 * server's view; a reply hook runs after the walker has translated the reply
 * to the client's view.  Each translates only what the walker left alone
 * (payloads) and may note data for the reply (hook_data).
 */
#pragma once

#include <glib.h>

#include "xproxy/proto.h"
#include "xproxy/xmap.h"

/* When a hook runs. */
typedef enum {
	HOOK_REQUEST,
	HOOK_REPLY,
	HOOK_N_WHEN
} HookWhen;

/* What a hook works on. */
typedef struct {
	XpMap *map;		/* the connection's maps */
	guint8 *buf;		/* the whole message, in place */
	gsize len;		/* its length in bytes */
	gboolean big;		/* a request in BIG-REQUESTS form */
	guint32 hook_data;	/* in a request hook: set for the reply hook;
				 * in a reply hook: what was set */
} HookArgs;

/* A hook: returns the message's new length (a reply hook may shrink it; a
 * request hook returns args->len), or -1 when the message is malformed. */
typedef gssize (*HookFn)(HookArgs *args);

/* Test mode (XCKPT_XPROXY_REMAP=1): clients are told extension major
 * opcodes, first events and first errors other than the server's, so that
 * every extension request, event and error is translated on a live server. */
extern gboolean hooks_remap_exts;

/* The hook for request OP of EXT at WHEN, or NULL (most requests). */
HookFn hooks_find(const ProtoExt *ext, guint op, HookWhen when);

/* Translates the data of ClientMessage event EV (32 bytes, in the client's
 * view for its type field) whose type is known to carry atoms, windows or
 * timestamps (WM_PROTOCOLS, _NET_WM_STATE, ...). */
void hooks_client_message(XpMap *map, guint8 *ev, gboolean to_server);
