/*
 * extpolicy.h: which X extensions a proxied client may see.
 *
 * An extension is translated when the protocol tables cover it
 * (proto_ext_lookup() finds it) and the policy table does not hide it.
 * Everything else is hidden: QueryExtension answers "absent" and
 * ListExtensions leaves it out.
 */
#pragma once

#include <glib.h>

#include "xproxy/proto.h"

/* The tables of extension NAME (LEN bytes, not NUL-terminated) when clients
 * may use it, or NULL when it is hidden. */
const ProtoExt *extpolicy_lookup(const char *name, gsize len);

/* Why extension NAME (NUL-terminated) is hidden (static string), or NULL
 * when it is translated. */
const char *extpolicy_why_hidden(const char *name);
