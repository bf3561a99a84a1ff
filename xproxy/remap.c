/*
 * remap.c: a client connection's new server connection after a restart,
 * and the maps to it (see remap.h).
 *
 * Everything here runs once per connection at restart time, on a socket of
 * its own, with a deadline: plain blocking-style reads and writes through
 * poll(2).  The requests (QueryExtension for each extension, BIG-REQUESTS'
 * enable, InternAtom for each atom) are pipelined and their answers read in
 * order.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "xproxy/log.h"
#include "xproxy/proto.h"
#include "xproxy/remap.h"
#include "xproxy/xlate.h"
#include "xproxy/xproxy.h"

/* One visual of a set-up reply. */
typedef struct {
	guint32 id;		/* visual ID */
	guint8 depth;		/* its depth */
	guint8 klass;		/* its class */
	guint8 bits;		/* bits per RGB value */
	guint16 entries;	/* colormap entries */
	guint32 masks[3];	/* red, green, blue masks */
} RemapVisual;

/* What remap needs of a set-up reply (the first screen). */
typedef struct {
	guint32 base;		/* resource-id-base */
	guint32 mask;		/* resource-id-mask */
	guint16 max_req;	/* maximum-request-length, in words */
	guint32 root;		/* the root window */
	guint32 cmap;		/* its default colormap */
	guint32 root_visual;	/* its visual */
	guint8 root_depth;	/* its depth */
	GArray *visuals;	/* RemapVisual (owned) */
} RemapSetup;

/* Parses set-up reply P (LEN bytes) into *S.  FALSE when it is too short. */
static gboolean remap_parse_setup(const guint8 *p, gsize len, RemapSetup *s)
{
	gsize off, end;
	guint nd;

	memset(s, 0, sizeof(*s));
	s->visuals = g_array_new(FALSE, FALSE, sizeof(RemapVisual));
	if (len < 40 || p[0] != 1 || p[28] == 0)
		return FALSE;
	s->base = xlate_get32(p + 12);
	s->mask = xlate_get32(p + 16);
	s->max_req = xlate_get16(p + 26);
	off = 40 + ((xlate_get16(p + 24) + 3) & ~(gsize)3) + 8 * (gsize)p[29];
	if (off + 40 > len)
		return FALSE;
	s->root = xlate_get32(p + off);
	s->cmap = xlate_get32(p + off + 4);
	s->root_visual = xlate_get32(p + off + 32);
	s->root_depth = p[off + 38];
	nd = p[off + 39];
	off += 40;
	for (guint d = 0; d < nd; d++) {
		guint nv;

		if (off + 8 > len)
			return FALSE;
		nv = xlate_get16(p + off + 2);
		end = off + 8 + 24 * (gsize)nv;
		if (end > len)
			return FALSE;
		for (guint v = 0; v < nv; v++) {
			const guint8 *q = p + off + 8 + 24 * v;
			RemapVisual rv = {
				.id = xlate_get32(q), .depth = p[off],
				.klass = q[4], .bits = q[5],
				.entries = xlate_get16(q + 6),
				.masks = { xlate_get32(q + 8),
					   xlate_get32(q + 12),
					   xlate_get32(q + 16) },
			};
			g_array_append_val(s->visuals, rv);
		}
		off = end;
	}
	return TRUE;
}

/* Frees what *S holds. */
static void remap_setup_clear(RemapSetup *s)
{
	g_clear_pointer(&s->visuals, g_array_unref);
}

/* The visual of NEW that stands for OLD's visual V: same depth, class and
 * masks, the same ID preferred, the root's for the root's.  NULL if none. */
static const RemapVisual *remap_find_visual(const RemapSetup *old,
					    const RemapSetup *new,
					    const RemapVisual *v)
{
	const RemapVisual *best = NULL;

	for (guint i = 0; i < new->visuals->len; i++) {
		const RemapVisual *n = &g_array_index(new->visuals,
						      RemapVisual, i);
		if (n->depth != v->depth || n->klass != v->klass ||
		    memcmp(n->masks, v->masks, sizeof(n->masks)) != 0)
			continue;
		if ((v->id == old->root_visual) == (n->id == new->root_visual) &&
		    (!best || n->id == v->id))
			best = n;
		else if (!best)
			best = n;
	}
	return best;
}

/* The name of visual class K. */
static const char *remap_class_name(guint8 k)
{
	static const char *const names[] = { "StaticGray", "GrayScale",
		"StaticColor", "PseudoColor", "TrueColor", "DirectColor" };

	return k < G_N_ELEMENTS(names) ? names[k] : "unknown";
}

/* Checks that NEW has a visual for every visual of OLD (and OLD's root
 * depth); FALSE with ERROR naming the first one missing. */
static gboolean remap_check_visuals(const RemapSetup *old,
				    const RemapSetup *new, const char *dname,
				    GError **error)
{
	if (old->root_depth != new->root_depth) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "display %s has root depth %u, the app was on "
			    "depth %u", dname, new->root_depth,
			    old->root_depth);
		return FALSE;
	}
	for (guint i = 0; i < old->visuals->len; i++) {
		const RemapVisual *v = &g_array_index(old->visuals,
						      RemapVisual, i);
		if (!remap_find_visual(old, new, v)) {
			g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
				    "display %s has no %s visual of depth %u "
				    "(visual 0x%x of the app's display)",
				    dname, remap_class_name(v->klass),
				    v->depth, v->id);
			return FALSE;
		}
	}
	return TRUE;
}

/* Reads the next reply or error from FD into a new buffer (caller frees),
 * or, when EVENT is not 0, the next event of that code if it comes first;
 * other events are skipped.  NULL on a timeout or a closed socket. */
static guint8 *remap_next_message(int fd, gint64 deadline, guint8 event)
{
	for (;;) {
		guint8 head[32];
		gsize extra = 0;
		guint8 *msg;

		if (!display_read_all(fd, head, 32, deadline))
			return NULL;
		if (head[0] == 1 || (head[0] & 0x7f) == 35)
			extra = 4 * (gsize)xlate_get32(head + 4);
		if (extra > 64u * 1024 * 1024)
			return NULL;
		msg = g_malloc(32 + extra);
		memcpy(msg, head, 32);
		if (!display_read_all(fd, msg + 32, extra, deadline)) {
			g_free(msg);
			return NULL;
		}
		if (head[0] <= 1 || (event && (head[0] & 0x7f) == event))
			return msg;
		g_free(msg);	/* an event: nothing of ours yet */
	}
}

/* Reads the next reply or error from FD (skipping events) into a new
 * buffer (caller frees).  NULL on a timeout or a closed socket. */
static guint8 *remap_next_reply(int fd, gint64 deadline)
{
	return remap_next_message(fd, deadline, 0);
}

/* Sets ERROR to "DISPLAY does not answer" (a timeout or a closed socket). */
static void remap_no_answer(const XpDisplay *display, GError **error)
{
	g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_UNREACHABLE,
		    "display %s does not answer", display_name(display));
}

/* Connects to DISPLAY and completes the set-up; returns the socket with
 * the server's set-up reply in *REPLY (caller frees), or -1 with ERROR. */
static int remap_open(const XpDisplay *display, gint64 deadline,
		      GBytes **reply, GError **error)
{
	g_autoptr(GBytes) req = display_setup_request(display, 11, 0);
	gsize len, n;
	const guint8 *data = g_bytes_get_data(req, &len);
	guint8 head[8];
	guint8 *all;
	int fd = display_connect(display, error);

	if (fd < 0)
		return -1;
	if (!display_write_all(fd, data, len, deadline) ||
	    !display_read_all(fd, head, 8, deadline))
		goto noanswer;
	n = 4 * (gsize)xlate_get16(head + 6);
	all = g_malloc(8 + n);
	memcpy(all, head, 8);
	if (!display_read_all(fd, all + 8, n, deadline)) {
		g_free(all);
		goto noanswer;
	}
	if (head[0] != 1) {
		gsize rl = head[0] == 0 ? MIN(head[1], n) : n;
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_REFUSED,
			    "display %s refused the connection: %.*s",
			    display_name(display), (int)rl,
			    (const char *)all + 8);
		g_free(all);
		close(fd);
		return -1;
	}
	*reply = g_bytes_new_take(all, 8 + n);
	return fd;
noanswer:
	remap_no_answer(display, error);
	close(fd);
	return -1;
}

/* Appends a request of major opcode OP whose body is the string NAME
 * (QueryExtension, InternAtom with only-if-exists off) to OUT. */
static void remap_name_request(GByteArray *out, guint8 op, const char *name)
{
	gsize n = strlen(name), total = 8 + ((n + 3) & ~(gsize)3);
	guint8 head[8] = { op, 0 };
	static const guint8 pad[4];

	xlate_put16(head + 2, total / 4);
	xlate_put16(head + 4, n);
	g_byte_array_append(out, head, 8);
	g_byte_array_append(out, (const guint8 *)name, n);
	g_byte_array_append(out, pad, total - 8 - n);
}

/* Appends a QueryExtension for NAME to OUT. */
static void remap_query_extension(GByteArray *out, const char *name)
{
	remap_name_request(out, 98, name);
}

/* Appends an InternAtom (only-if-exists off) for NAME to OUT. */
static void remap_intern_atom(GByteArray *out, const char *name)
{
	remap_name_request(out, 16, name);
}

/* Opens the new connection and builds the maps (see remap.h). */
gboolean remap_connect(const XpDisplay *display, const guint8 *setup,
		       gsize len, const XpMap *old, const XpRecord *rec,
		       gboolean big, int timeout_ms, RemapResult *out,
		       GError **error)
{
	gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GByteArray) reqs = g_byte_array_new();
	g_autoptr(GArray) atoms = record_atoms(rec);
	RemapSetup os, ns;
	const guint8 *np;
	gsize nlen;
	guint n_ext = xmap_n_exts(old), nq = 0;
	const ProtoExt *bigreq = proto_ext_lookup("BIG-REQUESTS");
	gboolean ok = FALSE;
	XpMap *map = NULL;
	int fd;

	memset(out, 0, sizeof(*out));
	memset(&os, 0, sizeof(os));
	memset(&ns, 0, sizeof(ns));
	out->fd = -1;
	fd = remap_open(display, deadline, &reply, error);
	if (fd < 0)
		return FALSE;
	np = g_bytes_get_data(reply, &nlen);
	if (!remap_parse_setup(setup, len, &os) ||
	    !remap_parse_setup(np, nlen, &ns)) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "a set-up reply is too short");
		goto out;
	}
	if (!remap_check_visuals(&os, &ns, display_name(display), error))
		goto out;
	map = xmap_new();
	xmap_set_xid_range(map, os.base, os.mask, ns.base, ns.mask);
	xmap_add(map, PROTO_CLASS_XID, os.root, ns.root);
	xmap_add(map, PROTO_CLASS_XID, os.cmap, ns.cmap);
	for (guint i = 0; i < os.visuals->len; i++) {
		const RemapVisual *v = &g_array_index(os.visuals,
						      RemapVisual, i);
		xmap_add(map, PROTO_CLASS_SERVER_ID, v->id,
			 remap_find_visual(&os, &ns, v)->id);
	}
	/* The requests: the extensions (BIG-REQUESTS last, when wanted),
	 * then the atoms. */
	for (guint i = 0; i < n_ext; i++) {
		guint8 cm, ce, cr;
		const ProtoExt *ext = xmap_ext_nth(old, i, &cm, &ce, &cr);
		remap_query_extension(reqs, proto_ext_name(ext));
		nq++;
	}
	if (big && bigreq) {
		remap_query_extension(reqs, "BIG-REQUESTS");
		nq++;
	}
	for (guint i = 0; i < atoms->len; i++)
		remap_intern_atom(reqs, g_array_index(atoms, RecordAtom,
						      i).name);
	if (!display_write_all(fd, reqs->data, reqs->len, deadline))
		goto noanswer;
	out->sent = nq + atoms->len;
	for (guint i = 0; i < nq; i++) {
		g_autofree guint8 *r = remap_next_reply(fd, deadline);
		guint8 cm = 0, ce = 0, cr = 0;
		const ProtoExt *ext = i < n_ext ?
			xmap_ext_nth(old, i, &cm, &ce, &cr) : bigreq;

		if (!r)
			goto noanswer;
		if (r[0] != 1 || !r[8]) {
			g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
				    "display %s has no extension %s",
				    display_name(display),
				    proto_ext_name(ext));
			goto out;
		}
		if (i < n_ext)
			xmap_add_ext(map, ext, cm, ce, cr, r[9], r[10], r[11]);
		else
			big = r[9];	/* BIG-REQUESTS' major, below */
	}
	for (guint i = 0; i < atoms->len; i++) {
		g_autofree guint8 *r = remap_next_reply(fd, deadline);
		const RecordAtom *a = &g_array_index(atoms, RecordAtom, i);

		if (!r)
			goto noanswer;
		xmap_note_atom_name(map, a->atom, a->name);
		if (r[0] == 1 && xlate_get32(r + 8))
			xmap_add(map, PROTO_CLASS_ATOM, a->atom,
				 xlate_get32(r + 8));
		else
			log_msg("atom %s (%u) cannot be interned on %s",
				a->name, a->atom, display_name(display));
	}
	out->max_req_words = ns.max_req;
	if (big && bigreq) {
		guint8 en[4] = { (guint8)big, 0, 1, 0 };
		g_autofree guint8 *r = NULL;

		if (!display_write_all(fd, en, 4, deadline))
			goto noanswer;
		out->sent++;
		r = remap_next_reply(fd, deadline);
		if (!r)
			goto noanswer;
		if (r[0] == 1)
			out->max_req_words = xlate_get32(r + 8);
	}
	out->fd = fd;
	out->map = g_steal_pointer(&map);
	fd = -1;
	ok = TRUE;
	goto out;
noanswer:
	remap_no_answer(display, error);
out:
	if (map)
		xmap_free(map);
	if (fd >= 0)
		close(fd);
	remap_setup_clear(&os);
	remap_setup_clear(&ns);
	return ok;
}

/* Checks a display against a client's first set-up reply (see remap.h). */
gboolean remap_check(const XpDisplay *display, const guint8 *setup,
		     gsize len, const char *const *exts, int timeout_ms,
		     GError **error)
{
	gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GByteArray) reqs = g_byte_array_new();
	RemapSetup os, ns;
	const guint8 *np;
	gsize nlen;
	guint n = exts ? g_strv_length((char **)exts) : 0;
	gboolean ok = FALSE;
	int fd = remap_open(display, deadline, &reply, error);

	memset(&os, 0, sizeof(os));
	memset(&ns, 0, sizeof(ns));
	if (fd < 0)
		return FALSE;
	np = g_bytes_get_data(reply, &nlen);
	if (setup && (!remap_parse_setup(setup, len, &os) ||
		      !remap_parse_setup(np, nlen, &ns))) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "a set-up reply is too short");
		goto out;
	}
	if (setup &&
	    !remap_check_visuals(&os, &ns, display_name(display), error))
		goto out;
	for (guint i = 0; i < n; i++)
		remap_query_extension(reqs, exts[i]);
	if (n && !display_write_all(fd, reqs->data, reqs->len, deadline))
		goto noanswer;
	for (guint i = 0; i < n; i++) {
		g_autofree guint8 *r = remap_next_reply(fd, deadline);
		if (!r)
			goto noanswer;
		if (r[0] != 1 || !r[8]) {
			g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
				    "display %s has no extension %s",
				    display_name(display), exts[i]);
			goto out;
		}
	}
	ok = TRUE;
	goto out;
noanswer:
	remap_no_answer(display, error);
out:
	close(fd);
	remap_setup_clear(&os);
	remap_setup_clear(&ns);
	return ok;
}

/* The X core codes remap_server_time() uses. */
enum {
	REMAP_CHANGE_WINDOW_ATTRIBUTES = 2,
	REMAP_CHANGE_PROPERTY = 18,
	REMAP_DELETE_PROPERTY = 19,
	REMAP_PROPERTY_NOTIFY = 28,
	REMAP_CW_EVENT_MASK = 0x800,
	REMAP_PROPERTY_CHANGE_MASK = 0x400000,
	REMAP_PROP_MODE_APPEND = 2,
	REMAP_ATOM_STRING = 31,
};

/* Asks DISPLAY for its current time (see remap.h). */
gboolean remap_server_time(const XpDisplay *display, int timeout_ms,
			   guint32 *now, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GByteArray) reqs = g_byte_array_new();
	g_autofree guint8 *r = NULL;
	g_autofree guint8 *ev = NULL;
	RemapSetup st;
	guint8 cwa[16] = { REMAP_CHANGE_WINDOW_ATTRIBUTES, 0, 4, 0 };
	guint8 cp[24] = { REMAP_CHANGE_PROPERTY, REMAP_PROP_MODE_APPEND, 6, 0 };
	guint8 dp[12] = { REMAP_DELETE_PROPERTY, 0, 3, 0 };
	const guint8 *p;
	gsize len;
	guint32 atom;
	gboolean ok = FALSE;
	int fd;

	memset(&st, 0, sizeof(st));
	fd = remap_open(display, deadline, &reply, error);
	if (fd < 0)
		return FALSE;
	p = g_bytes_get_data(reply, &len);
	if (!remap_parse_setup(p, len, &st)) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "a set-up reply is too short");
		goto out;
	}
	remap_intern_atom(reqs, "_XCKPT_TIME");
	if (!display_write_all(fd, reqs->data, reqs->len, deadline) ||
	    !(r = remap_next_reply(fd, deadline))) {
		remap_no_answer(display, error);
		goto out;
	}
	if (r[0] != 1 || !(atom = xlate_get32(r + 8))) {
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "display %s: InternAtom failed",
			    display_name(display));
		goto out;
	}
	/* Our own connection selects PropertyChange on the root (nobody
	 * else's mask changes), appends nothing to a property of ours, and
	 * deletes it again: the first PropertyNotify carries the time. */
	xlate_put32(cwa + 4, st.root);
	xlate_put32(cwa + 8, REMAP_CW_EVENT_MASK);
	xlate_put32(cwa + 12, REMAP_PROPERTY_CHANGE_MASK);
	xlate_put32(cp + 4, st.root);
	xlate_put32(cp + 8, atom);
	xlate_put32(cp + 12, REMAP_ATOM_STRING);
	cp[16] = 8;
	xlate_put32(dp + 4, st.root);
	xlate_put32(dp + 8, atom);
	g_byte_array_set_size(reqs, 0);
	g_byte_array_append(reqs, cwa, sizeof(cwa));
	g_byte_array_append(reqs, cp, sizeof(cp));
	g_byte_array_append(reqs, dp, sizeof(dp));
	if (!display_write_all(fd, reqs->data, reqs->len, deadline) ||
	    !(ev = remap_next_message(fd, deadline, REMAP_PROPERTY_NOTIFY)))
		remap_no_answer(display, error);
	else if (ev[0] == 0)
		g_set_error(error, XPROXY_ERROR, XPROXY_ERROR_FAILED,
			    "display %s: error %u reading its time",
			    display_name(display), ev[1]);
	else {
		*now = xlate_get32(ev + 12);
		ok = TRUE;
	}
out:
	close(fd);
	remap_setup_clear(&st);
	return ok;
}
