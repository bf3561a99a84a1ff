/*
 * extpolicy.c: the extension policy table (see extpolicy.h).
 *
 * The table names the extensions we hide on purpose and why; it is
 * documentation as much as code, since anything the protocol tables do not
 * cover is hidden anyway (the proxy cannot translate what it cannot parse).
 */
#include <string.h>

#include "xproxy/extpolicy.h"

/* One extension hidden on purpose. */
typedef struct {
	const char *name;	/* its X name */
	const char *why;	/* why clients must not see it */
} ExtPolicyHidden;

/* The hidden extensions.  GTK, Qt and Xlib apps fall back cleanly without
 * them (shared/DESIGN-NOTES.md: gedit renders normally with RENDER alone). */
static const ExtPolicyHidden extpolicy_hidden[] = {
	{ "MIT-SHM", "shared memory segments cannot be checkpointed or moved "
		     "to another server" },
	{ "DRI2", "direct rendering buffers live in the server's GPU state" },
	{ "DRI3", "passes file descriptors the proxy cannot record" },
	{ "Present", "works on DRI3 buffers and fences" },
	{ "GLX", "GL contexts live in the server and cannot be recreated" },
	{ "XVideo", "ports and adaptors are server hardware state" },
	{ "RECORD", "records other clients' traffic" },
	{ "SECURITY", "authorisations bind to one server" },
	{ "SELinux", "security labels bind to one server" },
	{ "XSELINUX", "security labels bind to one server" },
};

/* The hidden entry for NAME (LEN bytes), or NULL. */
static const ExtPolicyHidden *extpolicy_find_hidden(const char *name, gsize len)
{
	for (guint i = 0; i < G_N_ELEMENTS(extpolicy_hidden); i++) {
		const char *h = extpolicy_hidden[i].name;
		if (strlen(h) == len && memcmp(h, name, len) == 0)
			return &extpolicy_hidden[i];
	}
	return NULL;
}

/* The tables of NAME if clients may use it. */
const ProtoExt *extpolicy_lookup(const char *name, gsize len)
{
	char buf[256];

	if (len >= sizeof(buf) || extpolicy_find_hidden(name, len))
		return NULL;
	memcpy(buf, name, len);
	buf[len] = 0;
	return proto_ext_lookup(buf);
}

/* Why NAME is hidden, or NULL when translated. */
const char *extpolicy_why_hidden(const char *name)
{
	const ExtPolicyHidden *h = extpolicy_find_hidden(name, strlen(name));

	if (h)
		return h->why;
	if (!proto_ext_lookup(name))
		return "the proxy has no protocol tables for it";
	return NULL;
}
