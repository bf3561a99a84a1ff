/*
 * test-record-live.c: record a real client on one Xvfb, replay the record
 * on a second Xvfb, and compare what the two servers hold.
 *
 * Two private Xvfb servers run on free displays of XCKPT_TEST_DISPLAYS
 * (default 50-99).  A client made of xcb calls talks to the first through a
 * small relay thread (a socketpair in front of the server's socket) that
 * frames every request and response and feeds them to record.h, as the
 * proxy will.  When the record says a freed pixmap must be read, the relay
 * reads it with GetImage on a connection of its own before forwarding the
 * FreePixmap, and every live pixmap is read the same way at "checkpoint".
 * Then a fresh connection to the second server gets the atoms interned and
 * the replay's steps translated with xlate_request() (an XpMap from the
 * record's ID range to the new connection's) and sent raw.
 *
 * Compared: the window trees of the client on both servers (stacking
 * order, geometry, class, depth, map state, event masks, properties by
 * name with their types), the pixels of each mapped top-level window, and
 * the Expose events the new connection receives for the windows that
 * replay_exposures() lists.  No request of the replay may fail.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <xcb/xcb.h>
#include <xcb/xcbext.h>

#include "tests/unit/unit.h"
#include "xproxy/record.h"
#include "xproxy/replay.h"
#include "xproxy/xlate.h"
#include "xproxy/xmap.h"

/* Displays the servers may use, unless XCKPT_TEST_DISPLAYS says. */
#define TL_FIRST_DISPLAY 50
#define TL_LAST_DISPLAY 99

/* The relay between the client and the first server. */
typedef struct {
	int cfd;		/* our end of the client's socketpair */
	int sfd;		/* the server socket */
	int stop[2];		/* a pipe: written to stop the relay */
	xcb_connection_t *peek;	/* our own connection (GetImage) */
	XpRecord *rec;		/* the record (made from the set-up reply) */
	XpMap *map;		/* identity maps, with the extensions the
				 * client asked for */
	GHashTable *qext;	/* QueryExtension sequence -> name (owned) */
	GPtrArray *exts;	/* extensions the client got (ProtoExt *) */
	int listen_fd;		/* a listening socket to accept the client
				 * on (-1: cfd is given) */
	const char *listen_path; /* its path, removed once accepted */
	guint64 seq;		/* the client's last sequence number */
	guint64 sseq;		/* the server's (the relay's GetImage
				 * requests count there, not for the
				 * client) */
	GArray *injected;	/* server numbers of those still without a
				 * response (guint64) */
	guint n_injected_done;	/* those answered (all older than any
				 * response still to come) */
	guint images;		/* pixmaps read for the record */
	gboolean failed;	/* the relay saw what it cannot frame */
} TlRelay;

/* The two servers, stopped at exit. */
static UnitXvfb tl_srv[2];

/* Stops the servers. */
static void tl_stop(void)
{
	for (guint i = 0; i < 2; i++)
		unit_xvfb_stop(&tl_srv[i]);
}

/* Child set-up for an app: its own process group (killed whole: the
 * helpers it starts, a D-Bus daemon, go too), dying with the test. */
static void tl_app_setup(gpointer ud)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts both servers; FALSE (test skipped) when that is not possible. */
static gboolean tl_servers(void)
{
	int first = TL_FIRST_DISPLAY, last = TL_LAST_DISPLAY;
	static gboolean tried, ok;

	if (tried)
		return ok;
	tried = TRUE;
	if (!g_find_program_in_path("Xvfb")) {
		fprintf(stderr, "test-record-live: no Xvfb, skipped\n");
		return FALSE;
	}
	if (!unit_display_range(&first, &last))
		return FALSE;
	atexit(tl_stop);
	ok = unit_xvfb_start(&tl_srv[0], &first, last) &&
	     unit_xvfb_start(&tl_srv[1], &first, last);
	if (!ok)
		fprintf(stderr, "test-record-live: cannot start two Xvfb\n");
	return ok;
}

/* Writes all of BUF to FD. */
static gboolean tl_write_all(int fd, const guint8 *buf, gsize len)
{
	while (len) {
		gssize n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		buf += n;
		len -= n;
	}
	return TRUE;
}

/* The relay's view of the set-up reply: makes the record. */
static void tl_setup_reply(TlRelay *r, const guint8 *p, gsize len)
{
	guint32 base = xlate_get32(p + 12), mask = xlate_get32(p + 16);
	gsize off = 40 + ((xlate_get16(p + 24) + 3) & ~3) + 8 * (gsize)p[29];

	r->rec = record_new_for_setup(p, len);
	CU_ASSERT(r->rec && record_base(r->rec) == base &&
		  record_mask(r->rec) == mask);
	CU_ASSERT(r->rec && record_root(r->rec) == xlate_get32(p + off));
}

/* Reads pixmap PIX on our own connection with the GetImage the record
 * makes, and gives the reply back to the record. */
static void tl_read_pixmap(TlRelay *r, guint32 pix)
{
	guint8 req[20];
	struct iovec iov[3];
	xcb_protocol_request_t pr = { 1, NULL, 73, 0 };
	xcb_generic_error_t *err = NULL;
	guint8 *reply;
	guint seq;

	if (!record_image_request(r->rec, pix, req))
		return;
	iov[2].iov_base = req;
	iov[2].iov_len = sizeof(req);
	seq = xcb_send_request(r->peek, XCB_REQUEST_RAW, iov + 2, &pr);
	reply = xcb_wait_for_reply(r->peek, seq, &err);
	if (reply) {
		record_image_reply(r->rec, reply,
				   32 + 4 * (gsize)xlate_get32(reply + 4));
		r->images++;
	} else {
		record_image_reply(r->rec, (guint8 *)err, 32);
	}
	free(reply);
	free(err);
}

/* Frames the client's requests in IN (from *OFF on), records them and
 * forwards them.  Returns FALSE when the stream cannot be framed. */
static gboolean tl_client_bytes(TlRelay *r, GByteArray *in, gboolean *setup)
{
	gsize off = 0;

	while (in->len - off >= 4) {
		const guint8 *p = in->data + off;
		gboolean big = FALSE;
		gsize len;

		if (!*setup) {
			if (in->len - off < 12)
				break;
			len = 12 + ((xlate_get16(p + 6) + 3) & ~3) +
			      ((xlate_get16(p + 8) + 3) & ~3);
		} else {
			len = 4 * (gsize)xlate_get16(p + 2);
			if (len == 0) {	/* BIG-REQUESTS */
				if (in->len - off < 8)
					break;
				len = 4 * (gsize)xlate_get32(p + 4);
				big = TRUE;
				if (len < 8)
					return FALSE;
			}
		}
		if (in->len - off < len)
			break;
		if (*setup && r->rec) {
			RecordNeed need = record_request_client(
				r->rec, r->map, p, len, big, ++r->seq);
			guint8 gi[20];
			/* as the proxy does: its own GetImage goes into
			 * the client's stream before the FreePixmap */
			if (need == RECORD_NEED_IMAGE &&
			    record_image_request(r->rec, xlate_get32(p + 4),
						 gi)) {
				if (!tl_write_all(r->sfd, gi, sizeof(gi)))
					return FALSE;
				r->sseq++;
				g_array_append_val(r->injected, r->sseq);
				r->images++;
			}
			r->sseq++;
			if (p[0] == 98 && len >= 8 &&
			    8 + (gsize)xlate_get16(p + 4) <= len)
				g_hash_table_insert(
					r->qext, g_memdup2(&r->seq, 8),
					g_strndup((const char *)p + 8,
						  xlate_get16(p + 4)));
		} else if (*setup) {
			r->seq++;
			r->sseq++;
		}
		if (!tl_write_all(r->sfd, p, len))
			return FALSE;
		*setup = TRUE;
		off += len;
	}
	g_byte_array_remove_range(in, 0, off);
	return TRUE;
}

/* The client got extension NAME from QueryExtension reply P: the maps
 * learn its opcodes (the same on both sides: nothing is translated). */
static void tl_note_ext(TlRelay *r, const char *name, const guint8 *p)
{
	const ProtoExt *ext = proto_ext_lookup(name);

	if (!ext)
		return;
	xmap_add_ext(r->map, ext, p[9], p[10], p[11], p[9], p[10], p[11]);
	g_ptr_array_add(r->exts, (gpointer)ext);
}

/* Frames the server's messages in IN, shows them to the record and
 * forwards them. */
static gboolean tl_server_bytes(TlRelay *r, GByteArray *in, gboolean *setup)
{
	gsize off = 0;

	while (in->len - off >= 8) {
		const guint8 *p = in->data + off;
		gsize len;

		if (!*setup) {
			len = 8 + 4 * (gsize)xlate_get16(p + 6);
			if (in->len - off < len)
				break;
			tl_setup_reply(r, p, len);
			*setup = TRUE;
		} else {
			if (in->len - off < 32)
				break;
			len = 32;
			if (p[0] == 1 || (p[0] & 0x7f) == 35)
				len += 4 * (gsize)xlate_get32(p + 4);
			if (in->len - off < len)
				break;
			if ((p[0] & 0x7f) != 11 && r->rec) {
				/* widen the server's number, drop the
				 * responses to our own requests, give the
				 * client its own number */
				guint64 ss = (r->sseq & ~(guint64)0xffff) |
					     xlate_get16(p + 2), s;
				guint before = 0;
				if (ss > r->sseq)
					ss -= 0x10000;
				for (guint i = 0; i < r->injected->len; i++) {
					guint64 j = g_array_index(r->injected,
								  guint64, i);
					if (j == ss && p[0] <= 1) {
						record_image_reply(r->rec, p,
								   len);
						g_array_remove_index(
							r->injected, i);
						r->n_injected_done++;
						goto skip;
					}
				}
				before = r->n_injected_done;
				for (guint i = 0; i < r->injected->len; i++)
					if (g_array_index(r->injected, guint64,
							  i) < ss)
						before++;
				s = ss - before;
				xlate_put16((guint8 *)p + 2, (guint16)s);
				if (p[0] <= 1) {
					const char *qn = g_hash_table_lookup(
						r->qext, &s);
					if (p[0] == 1 && qn && p[8])
						tl_note_ext(r, qn, p);
					if (p[0] == 1)
						record_reply(r->rec, s, p, len);
					else
						record_error(r->rec, s, p);
				} else {
					record_event(r->rec, p);
				}
			}
		}
		if (!tl_write_all(r->cfd, p, len))
			return FALSE;
skip:
		off += len;
	}
	g_byte_array_remove_range(in, 0, off);
	return TRUE;
}

/* One direction of the relay: reads what FD has (into BUF, LEN bytes),
 * appends it to IN and hands IN to HANDLE (tl_client_bytes() or
 * tl_server_bytes(), with its set-up flag SETUP).  FALSE when the relay
 * must stop: end of file, or HANDLE failed (then r->failed is set). */
static gboolean tl_pump(TlRelay *r, int fd, guint8 *buf, gsize len,
			GByteArray *in,
			gboolean (*handle)(TlRelay *, GByteArray *, gboolean *),
			gboolean *setup)
{
	gssize n = read(fd, buf, len);

	if (n <= 0)
		return FALSE;
	g_byte_array_append(in, buf, n);
	if (!handle(r, in, setup)) {
		r->failed = TRUE;
		return FALSE;
	}
	return TRUE;
}

/* The relay thread: until told to stop. */
static gpointer tl_relay(gpointer ud)
{
	TlRelay *r = ud;
	g_autoptr(GByteArray) cin = g_byte_array_new();
	g_autoptr(GByteArray) sin = g_byte_array_new();
	gboolean csetup = FALSE, ssetup = FALSE;
	guint8 buf[65536];

	if (r->listen_fd >= 0) {
		struct pollfd lp[2] = { { r->listen_fd, POLLIN, 0 },
					{ r->stop[0], POLLIN, 0 } };
		if (poll(lp, 2, 10000) <= 0 || lp[1].revents)
			return NULL;
		r->cfd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (r->listen_path)
			unlink(r->listen_path);
		if (r->cfd < 0)
			return NULL;
	}

	for (;;) {
		struct pollfd pf[3] = { { r->cfd, POLLIN, 0 },
					{ r->sfd, POLLIN, 0 },
					{ r->stop[0], POLLIN, 0 } };

		if (poll(pf, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[2].revents)
			break;
		/* (requests wait for the set-up reply's record) */
		if ((pf[0].revents && !tl_pump(r, r->cfd, buf, sizeof(buf), cin,
					       tl_client_bytes, &csetup)) ||
		    (pf[1].revents && !tl_pump(r, r->sfd, buf, sizeof(buf), sin,
					       tl_server_bytes, &ssetup)))
			break;
	}
	return NULL;
}

/* Connects a unix socket to display D. */
static int tl_dial(int d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/.X11-unix/X%d", d);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Interns NAME on C. */
static xcb_atom_t tl_atom(xcb_connection_t *c, const char *name)
{
	xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(
		c, xcb_intern_atom(c, 0, strlen(name), name), NULL);
	xcb_atom_t a = r ? r->atom : 0;

	free(r);
	return a;
}

/* The client: builds windows, pixmaps, a cursor, properties; frees some
 * of it; some freed resources stay in use.  Returns its root. */
static void tl_client(xcb_connection_t *c)
{
	const xcb_setup_t *su = xcb_get_setup(c);
	xcb_screen_t *scr = xcb_setup_roots_iterator(su).data;
	xcb_window_t root = scr->root, top, later, c1, c2, c3, tmp;
	xcb_pixmap_t pix, pix2;
	xcb_gcontext_t gc, gc2, gc3;
	xcb_font_t font;
	xcb_cursor_t cur;
	xcb_rectangle_t r1 = { 0, 0, 8, 8 }, r2 = { 8, 8, 8, 8 };
	xcb_atom_t my = tl_atom(c, "_XCKPT_TEST"),
		   other = tl_atom(c, "_XCKPT_OTHER");
	guint32 v[4];

	top = xcb_generate_id(c);
	v[0] = 0x336699;
	v[1] = XCB_EVENT_MASK_EXPOSURE | XCB_EVENT_MASK_STRUCTURE_NOTIFY |
	       XCB_EVENT_MASK_KEY_PRESS;
	xcb_create_window(c, 0, top, root, 10, 10, 200, 150, 1,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, 0,
			  XCB_CW_BACK_PIXEL | XCB_CW_EVENT_MASK, v);
	pix = xcb_generate_id(c);
	xcb_create_pixmap(c, scr->root_depth, pix, top, 16, 16);
	gc = xcb_generate_id(c);
	v[0] = 0xff0000;
	xcb_create_gc(c, gc, pix, XCB_GC_FOREGROUND, v);
	xcb_poly_fill_rectangle(c, pix, gc, 1, &r1);
	v[0] = 0x00ff00;
	xcb_change_gc(c, gc, XCB_GC_FOREGROUND, v);
	xcb_poly_fill_rectangle(c, pix, gc, 1, &r2);

	c1 = xcb_generate_id(c);
	v[0] = pix;
	v[1] = XCB_EVENT_MASK_EXPOSURE;
	xcb_create_window(c, 0, c1, top, 5, 5, 50, 40, 0,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, 0,
			  XCB_CW_BACK_PIXMAP | XCB_CW_EVENT_MASK, v);
	font = xcb_generate_id(c);
	xcb_open_font(c, font, 6, "cursor");
	cur = xcb_generate_id(c);
	xcb_create_glyph_cursor(c, cur, font, font, 68, 69, 0, 0, 0, 0xffff,
				0xffff, 0xffff);
	c2 = xcb_generate_id(c);
	v[0] = 0xffff00;
	v[1] = cur;
	xcb_create_window(c, 0, c2, top, 30, 20, 60, 60, 2,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, 0,
			  XCB_CW_BACK_PIXEL | XCB_CW_CURSOR, v);
	/* the relay reads the pixmap on another connection when it sees
	 * the FreePixmap: the drawing must have been done by then (the
	 * proxy injects its GetImage into this stream instead) */
	free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
	xcb_free_pixmap(c, pix);	/* still c1's background */
	xcb_close_font(c, font);	/* still the cursor's */
	xcb_free_cursor(c, cur);	/* still c2's */
	xcb_free_gc(c, gc);

	later = xcb_generate_id(c);
	v[0] = 0x00ffff;
	v[1] = XCB_EVENT_MASK_EXPOSURE;
	xcb_create_window(c, 0, later, root, 300, 10, 100, 100, 0,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, 0,
			  XCB_CW_BACK_PIXEL | XCB_CW_EVENT_MASK, v);
	xcb_reparent_window(c, c2, later, 10, 10);
	/* a pixmap made after "later" becomes its background: kept alive,
	 * read at checkpoint */
	pix2 = xcb_generate_id(c);
	xcb_create_pixmap(c, scr->root_depth, pix2, root, 10, 10);
	gc3 = xcb_generate_id(c);
	v[0] = 0x0000ff;
	xcb_create_gc(c, gc3, pix2, XCB_GC_FOREGROUND, v);
	xcb_poly_fill_rectangle(c, pix2, gc3, 1, &r1);
	v[0] = pix2;
	xcb_change_window_attributes(c, later, XCB_CW_BACK_PIXMAP, v);

	c3 = xcb_generate_id(c);
	v[0] = 0x123456;
	xcb_create_window(c, 0, c3, top, 20, 20, 40, 40, 0,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, 0, XCB_CW_BACK_PIXEL,
			  v);
	v[0] = XCB_STACK_MODE_ABOVE;
	xcb_configure_window(c, c1, XCB_CONFIG_WINDOW_STACK_MODE, v);

	xcb_change_property(c, XCB_PROP_MODE_REPLACE, top, XCB_ATOM_WM_NAME,
			    XCB_ATOM_STRING, 8, 11, "record test");
	xcb_change_property(c, XCB_PROP_MODE_APPEND, top, XCB_ATOM_WM_NAME,
			    XCB_ATOM_STRING, 8, 1, "!");
	v[0] = XCB_ATOM_WM_NAME;
	v[1] = other;
	xcb_change_property(c, XCB_PROP_MODE_REPLACE, top, my, XCB_ATOM_ATOM,
			    32, 2, v);
	xcb_change_property(c, XCB_PROP_MODE_REPLACE, later, my,
			    XCB_ATOM_STRING, 8, 3, "tmp");
	xcb_delete_property(c, later, my);
	v[0] = XCB_EVENT_MASK_PROPERTY_CHANGE;
	xcb_change_window_attributes(c, root, XCB_CW_EVENT_MASK, v);

	tmp = xcb_generate_id(c);
	xcb_create_window(c, 0, tmp, top, 0, 0, 5, 5, 0,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, 0, 0, NULL);
	xcb_map_window(c, tmp);
	xcb_destroy_window(c, tmp);
	gc2 = xcb_generate_id(c);
	xcb_create_gc(c, gc2, root, 0, NULL);
	xcb_free_gc(c, gc2);

	xcb_map_subwindows(c, top);
	xcb_unmap_window(c, c3);
	xcb_map_window(c, c3);
	xcb_map_window(c, top);
	xcb_map_subwindows(c, later);
	xcb_map_window(c, later);
	v[0] = 220;
	v[1] = 160;
	xcb_configure_window(c, top, XCB_CONFIG_WINDOW_WIDTH |
				     XCB_CONFIG_WINDOW_HEIGHT, v);
	free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
}

/* The name of atom A on C (g_free). */
static char *tl_atom_name(xcb_connection_t *c, xcb_atom_t a)
{
	xcb_get_atom_name_reply_t *r = xcb_get_atom_name_reply(
		c, xcb_get_atom_name(c, a), NULL);
	char *s = r ? g_strndup(xcb_get_atom_name_name(r),
				xcb_get_atom_name_name_length(r)) :
		      g_strdup("?");

	free(r);
	return s;
}

/* Orders strings in a GPtrArray. */
static gint tl_cmp_str(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* Describes window W and its subtree on C into OUT, one line each. */
static void tl_describe(xcb_connection_t *c, xcb_window_t w, int depth,
			GString *out)
{
	xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(
		c, xcb_get_geometry(c, w), NULL);
	xcb_get_window_attributes_reply_t *a =
		xcb_get_window_attributes_reply(
			c, xcb_get_window_attributes(c, w), NULL);
	xcb_list_properties_reply_t *lp = xcb_list_properties_reply(
		c, xcb_list_properties(c, w), NULL);
	xcb_query_tree_reply_t *t = xcb_query_tree_reply(
		c, xcb_query_tree(c, w), NULL);

	g_string_append_printf(out, "%*s", 2 * depth, "");
	if (g)
		g_string_append_printf(out, "%dx%d+%d+%d bw %d depth %d", g->width,
				       g->height, g->x, g->y, g->border_width,
				       g->depth);
	if (a)
		g_string_append_printf(out, " class %d map %d masks 0x%x "
				       "gravity %d/%d", a->_class, a->map_state,
				       a->all_event_masks, a->bit_gravity,
				       a->win_gravity);
	if (lp) {
		xcb_atom_t *atoms = xcb_list_properties_atoms(lp);
		int n = xcb_list_properties_atoms_length(lp);
		g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(
			g_free);
		for (int i = 0; i < n; i++) {
			xcb_get_property_reply_t *p = xcb_get_property_reply(
				c, xcb_get_property(c, 0, w, atoms[i], 0, 0,
						    1024), NULL);
			g_autofree char *pn = tl_atom_name(c, atoms[i]);
			g_autofree char *tn = NULL;
			GString *s = g_string_new(NULL);
			if (p) {
				tn = tl_atom_name(c, p->type);
				g_string_append_printf(s, "%s:%s/%d=", pn, tn,
						       p->format);
				guint8 *d = xcb_get_property_value(p);
				int len = xcb_get_property_value_length(p);
				if (p->type == XCB_ATOM_ATOM) {
					for (int k = 0; k + 4 <= len; k += 4) {
						g_autofree char *an =
							tl_atom_name(c,
								xlate_get32(
								d + k));
						g_string_append_printf(
							s, "%s,", an);
					}
				} else {
					g_string_append_len(s, (char *)d, len);
				}
				free(p);
			}
			g_ptr_array_add(names, g_string_free(s, FALSE));
		}
		g_ptr_array_sort(names, tl_cmp_str);
		for (guint i = 0; i < names->len; i++)
			g_string_append_printf(out, " [%s]",
					       (char *)names->pdata[i]);
	}
	g_string_append_c(out, '\n');
	if (t) {
		xcb_window_t *kids = xcb_query_tree_children(t);
		for (int i = 0; i < xcb_query_tree_children_length(t); i++)
			tl_describe(c, kids[i], depth + 1, out);
	}
	free(g);
	free(a);
	free(lp);
	free(t);
}

/* The top-level windows of the client with BASE/MASK on C, bottom to
 * top. */
static GArray *tl_tops(xcb_connection_t *c, guint32 base, guint32 mask)
{
	xcb_window_t root = xcb_setup_roots_iterator(xcb_get_setup(c)).data
				    ->root;
	xcb_query_tree_reply_t *t = xcb_query_tree_reply(
		c, xcb_query_tree(c, root), NULL);
	GArray *a = g_array_new(FALSE, FALSE, sizeof(xcb_window_t));

	if (!t)
		return a;
	xcb_window_t *kids = xcb_query_tree_children(t);
	for (int i = 0; i < xcb_query_tree_children_length(t); i++)
		if ((kids[i] & ~mask) == base)
			g_array_append_val(a, kids[i]);
	free(t);
	return a;
}

/* The client's windows on C as text, with a digest of the pixels of each
 * mapped top-level window. */
static char *tl_snapshot(xcb_connection_t *c, guint32 base, guint32 mask)
{
	g_autoptr(GArray) tops = tl_tops(c, base, mask);
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < tops->len; i++) {
		xcb_window_t w = g_array_index(tops, xcb_window_t, i);
		xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(
			c, xcb_get_geometry(c, w), NULL);
		xcb_get_image_reply_t *img = g ? xcb_get_image_reply(
			c, xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, w, 0, 0,
					 g->width, g->height, ~0u), NULL) :
			NULL;
		tl_describe(c, w, 0, out);
		if (img) {
			g_autofree char *sum = g_compute_checksum_for_data(
				G_CHECKSUM_SHA1, xcb_get_image_data(img),
				xcb_get_image_data_length(img));
			g_string_append_printf(out, "  pixels %s\n", sum);
		}
		free(img);
		free(g);
	}
	return g_string_free(out, FALSE);
}

/* Sends every step of RP on C, translated with MAP; returns the number of
 * requests that failed. */
static guint tl_send(xcb_connection_t *c, XpMap *map, XpReplay *rp)
{
	guint failed = 0;

	for (guint i = 0; i < replay_n_steps(rp); i++) {
		const ReplayStep *s = replay_step(rp, i);
		g_autofree guint8 *b = g_memdup2(s->data, s->len);
		struct iovec iov[3];
		xcb_protocol_request_t req = { 1, NULL, 0, 1 };
		xcb_generic_error_t *err;
		XlateReq xr;
		guint seq;

		if (g_getenv("TL_DUMP"))
			fprintf(stderr, "step %u %s op %u.%u len %zu xid 0x%x\n",
				i, replay_phase_name(s->phase), s->data[0],
				s->data[1], s->len, s->xid);
		CU_ASSERT_FATAL(xlate_request(map, b, s->len, s->big, &xr) ==
				XLATE_OK);
		req.opcode = b[0];
		req.isvoid = !xr.has_reply;
		iov[2].iov_base = b;
		iov[2].iov_len = s->len;
		seq = xcb_send_request(c, XCB_REQUEST_RAW | XCB_REQUEST_CHECKED,
				       iov + 2, &req);
		if (xr.has_reply) {
			err = NULL;
			free(xcb_wait_for_reply(c, seq, &err));
		} else {
			err = xcb_request_check(c, (xcb_void_cookie_t){ seq });
		}
		if (err) {
			gboolean may = s->flags & (REPLAY_F_FOREIGN |
						   REPLAY_F_MAY_FAIL);
			fprintf(stderr, "replay step %u (%s, %u.%u%s) failed: "
				"error %u\n", i, replay_phase_name(s->phase),
				s->data[0], s->data[1],
				may ? ", may fail" : "", err->error_code);
			failed += !may;
			free(err);
		}
	}
	return failed;
}

/* Starts a relay in R to the first server (R->cfd already set, or -1 with
 * R->listen_fd to accept on). */
static GThread *tl_relay_start(TlRelay *r, xcb_connection_t *peek)
{
	CU_ASSERT_FATAL(pipe(r->stop) == 0);
	r->sfd = tl_dial(tl_srv[0].display);
	CU_ASSERT_FATAL(r->sfd >= 0);
	r->peek = peek;
	r->map = xmap_new();
	r->qext = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					g_free);
	r->exts = g_ptr_array_new();
	r->injected = g_array_new(FALSE, FALSE, sizeof(guint64));
	return g_thread_new("relay", tl_relay, r);
}

/* Stops the relay and frees what it holds but the record. */
static void tl_relay_stop(TlRelay *r, GThread *th)
{
	CU_ASSERT(write(r->stop[1], "x", 1) == 1);
	g_thread_join(th);
	CU_ASSERT(!r->failed);
	if (r->cfd >= 0)
		close(r->cfd);
	close(r->sfd);
	close(r->stop[0]);
	close(r->stop[1]);
	g_hash_table_unref(r->qext);
	g_array_unref(r->injected);
}

/* Frees the rest of R: the record, its extensions and maps. */
static void tl_relay_free(TlRelay *r)
{
	g_ptr_array_unref(r->exts);
	xmap_free(r->map);
	record_free(r->rec);
}

/* "Checkpoint": the contents of every live pixmap, read on PEEK. */
static void tl_checkpoint(TlRelay *r)
{
	g_autoptr(GArray) pm = record_pixmaps(r->rec);

	for (guint i = 0; i < pm->len; i++)
		tl_read_pixmap(r, g_array_index(pm, guint32, i));
}

/* Asserts that window-tree snapshots BEFORE and AFTER (tl_snapshot()) are
 * the same but for pixels, which are the app's to repaint on Expose (both
 * are edited in place); prints both when they differ. */
static void tl_assert_same_tree(char *before, char *after)
{
	for (char *p = before; (p = strstr(p, "  pixels "));)
		memset(p + 9, '-', 40), p += 49;
	for (char *p = after; (p = strstr(p, "  pixels "));)
		memset(p + 9, '-', 40), p += 49;
	if (g_strcmp0(before, after))
		fprintf(stderr, "before:\n%safter:\n%s", before, after);
	CU_ASSERT_STRING_EQUAL(before, after);
}

/* "Restart": a new connection to the second server, maps from the
 * record's client view to it (IDs, root, atoms, extensions), the replay
 * sent.  Returns the connection (with *MAP); *FAILED counts the steps that
 * failed. */
static xcb_connection_t *tl_restart(XpRecord *rec, XpReplay *rp,
				    GPtrArray *exts, XpMap **map,
				    guint *failed)
{
	g_autofree char *db = g_strdup_printf(":%d", tl_srv[1].display);
	xcb_connection_t *dst = xcb_connect(db, NULL);
	g_autoptr(GArray) atoms = record_atoms(rec);

	CU_ASSERT_FATAL(!xcb_connection_has_error(dst));
	xcb_get_maximum_request_length(dst);	/* BIG-REQUESTS, as the
						 * client had it */
	*map = xmap_new();
	xmap_set_xid_range(*map, record_base(rec), record_mask(rec),
			   xcb_get_setup(dst)->resource_id_base,
			   xcb_get_setup(dst)->resource_id_mask);
	xmap_add(*map, PROTO_CLASS_XID, record_root(rec),
		 xcb_setup_roots_iterator(xcb_get_setup(dst)).data->root);
	for (guint i = 0; i < atoms->len; i++) {
		RecordAtom *a = &g_array_index(atoms, RecordAtom, i);
		xmap_add(*map, PROTO_CLASS_ATOM, a->atom,
			 tl_atom(dst, a->name));
	}
	for (guint i = 0; exts && i < exts->len; i++) {
		const ProtoExt *ext = exts->pdata[i];
		const char *n = proto_ext_name(ext);
		xcb_query_extension_reply_t *q = xcb_query_extension_reply(
			dst, xcb_query_extension(dst, strlen(n), n), NULL);
		guint8 cm = record_ext_major(rec, ext);
		if (q && q->present && cm)
			xmap_add_ext(*map, ext, cm, 0, 0, q->major_opcode,
				     q->first_event, q->first_error);
		free(q);
	}
	*failed = tl_send(dst, *map, rp);
	return dst;
}

/* Record on the first server, replay on the second, compare. */
static void tl_record_replay(void)
{
	TlRelay r = { .listen_fd = -1 };
	int sv[2];
	GThread *th;
	xcb_connection_t *client, *peek, *dst;
	g_autofree char *before = NULL, *after = NULL;
	g_autofree char *da = NULL;
	g_autoptr(XpReplay) rp = NULL;
	XpMap *map;
	RecordStats st;
	guint32 cbase, cmask;
	guint exposes = 0, n_exp, failed;
	const ReplayExpose *ex;
	xcb_generic_event_t *ev;

	if (!tl_servers())
		return;
	da = g_strdup_printf(":%d", tl_srv[0].display);
	peek = xcb_connect(da, NULL);
	CU_ASSERT_FATAL(!xcb_connection_has_error(peek));
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				   sv) == 0);
	r.cfd = sv[1];
	th = tl_relay_start(&r, peek);
	client = xcb_connect_to_fd(sv[0], NULL);
	CU_ASSERT_FATAL(!xcb_connection_has_error(client));
	cbase = xcb_get_setup(client)->resource_id_base;
	cmask = xcb_get_setup(client)->resource_id_mask;

	tl_client(client);
	tl_checkpoint(&r);
	{
		g_autoptr(GPtrArray) es = record_entries(r.rec);
		for (guint i = 0; i < es->len; i++) {
			RecRes *e = es->pdata[i];
			if (e->kind == REC_PIXMAP)
				CU_ASSERT(e->image != NULL);
		}
	}
	before = tl_snapshot(peek, cbase, cmask);
	tl_relay_stop(&r, th);
	CU_ASSERT_FATAL(r.rec != NULL);
	record_stats(r.rec, &st);
	fprintf(stderr, "\n  live record: %u resources, %u zombies, %u "
		"foreign, %u mods, %u atoms, %zu bytes, %u pixmap images\n",
		st.resources, st.zombies, st.foreign, st.mods, st.atoms,
		st.bytes, r.images);
	CU_ASSERT(st.zombies == 3);	/* pixmap, font, cursor */
	CU_ASSERT(r.images == 2);

	rp = replay_new(r.rec, NULL);
	dst = tl_restart(r.rec, rp, NULL, &map, &failed);
	CU_ASSERT(failed == 0);
	CU_ASSERT(record_atoms(r.rec)->len == 2);
	after = tl_snapshot(dst, xcb_get_setup(dst)->resource_id_base,
			    xcb_get_setup(dst)->resource_id_mask);
	if (g_strcmp0(before, after))
		fprintf(stderr, "before:\n%safter:\n%s", before, after);
	CU_ASSERT_STRING_EQUAL(before, after);
	CU_ASSERT(strstr(before, "pixels") != NULL);

	/* the server exposed what the replay lists */
	ex = replay_exposures(rp, &n_exp);
	CU_ASSERT(n_exp == 3);
	while ((ev = xcb_poll_for_event(dst))) {
		if ((ev->response_type & 0x7f) == XCB_EXPOSE) {
			xcb_expose_event_t *e = (xcb_expose_event_t *)ev;
			for (guint i = 0; i < n_exp; i++)
				if (xmap_to_server(map, PROTO_CLASS_XID,
						   ex[i].window) == e->window &&
				    e->count == 0)
					exposes++;
		}
		free(ev);
	}
	CU_ASSERT(exposes >= n_exp);

	xmap_free(map);
	xcb_disconnect(dst);
	xcb_disconnect(client);
	xcb_disconnect(peek);
	tl_relay_free(&r);
}

/* A listening X socket on a free display of the test range (after the
 * servers'); its number in *DISPLAY, -1 when none. */
static int tl_listen(int *display)
{
	int first = TL_FIRST_DISPLAY, last = TL_LAST_DISPLAY;

	unit_display_range(&first, &last);
	for (int d = MAX(first, tl_srv[1].display + 1); d <= last; d++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		g_autofree char *lock = g_strdup_printf("/tmp/.X%d-lock", d);
		int fd;

		snprintf(sa.sun_path, sizeof(sa.sun_path),
			 "/tmp/.X11-unix/X%d", d);
		if (g_file_test(lock, G_FILE_TEST_EXISTS) ||
		    g_file_test(sa.sun_path, G_FILE_TEST_EXISTS))
			continue;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    listen(fd, 1) == 0) {
			*display = d;
			return fd;
		}
		close(fd);
	}
	return -1;
}

/* A real app (ARGV) recorded through the relay, replayed: the same window
 * tree (pixels are the app's to repaint), no step failing. */
static void tl_app(char **argv, guint min_windows)
{
	TlRelay r = { .cfd = -1 };
	g_autofree char *da = g_strdup_printf(":%d", tl_srv[0].display);
	g_autofree char *disp = NULL, *sock = NULL;
	g_autofree char *before = NULL, *after = NULL;
	g_auto(GStrv) env = NULL;
	g_autoptr(XpReplay) rp = NULL;
	xcb_connection_t *peek, *dst;
	XpMap *map;
	GThread *th;
	GPid app;
	RecordStats st;
	guint failed;
	int d = -1;

	if (!g_find_program_in_path(argv[0])) {
		fprintf(stderr, "\n  %s not installed: skipped\n", argv[0]);
		return;
	}
	r.listen_fd = tl_listen(&d);
	CU_ASSERT_FATAL(r.listen_fd >= 0);
	disp = g_strdup_printf(":%d", d);
	sock = g_strdup_printf("/tmp/.X11-unix/X%d", d);
	r.listen_path = sock;
	peek = xcb_connect(da, NULL);
	CU_ASSERT_FATAL(!xcb_connection_has_error(peek));
	th = tl_relay_start(&r, peek);
	env = g_environ_setenv(g_get_environ(), "DISPLAY", disp, TRUE);
	env = g_environ_setenv(env, "XAUTHORITY", "/dev/null", TRUE);
	CU_ASSERT_FATAL(g_spawn_async(NULL, argv, env,
				      G_SPAWN_SEARCH_PATH |
				      G_SPAWN_DO_NOT_REAP_CHILD |
				      G_SPAWN_STDOUT_TO_DEV_NULL |
				      G_SPAWN_STDERR_TO_DEV_NULL,
				      tl_app_setup, NULL, &app, NULL));
	g_usleep(1500 * 1000);	/* started and drawn */
	CU_ASSERT_FATAL(r.rec != NULL);
	tl_checkpoint(&r);
	before = tl_snapshot(peek, record_base(r.rec), record_mask(r.rec));
	tl_relay_stop(&r, th);
	kill(-app, SIGTERM);
	waitpid(app, NULL, 0);
	close(r.listen_fd);
	unlink(sock);

	record_stats(r.rec, &st);
	g_autoptr(GArray) un = record_unnamed_atoms(r.rec);
	fprintf(stderr, "\n  %s: %u resources, %u zombies, %u foreign, %u "
		"mods, %u glyphs, %u atoms (%u unnamed), %zu bytes\n",
		argv[0], st.resources, st.zombies, st.foreign, st.mods,
		st.glyphs, st.atoms, un->len, st.bytes);
	if (g_getenv("TL_DUMP")) {
		g_autoptr(GPtrArray) es = record_entries(r.rec);
		g_ptr_array_add(es, record_global(r.rec));
		for (guint i = 0; i < es->len; i++) {
			RecRes *e = es->pdata[i];
			for (guint j = 0; e->mods && j < e->mods->len; j++) {
				RecMod *m = e->mods->pdata[j];
				fprintf(stderr, "mod 0x%x kind %u group %u "
					"op %u.%u len %u\n", e->xid, e->kind,
					(guint)(m->key >> 32), m->data[0],
					m->data[1], m->len);
			}
		}
	}
	rp = replay_new(r.rec, NULL);
	dst = tl_restart(r.rec, rp, r.exts, &map, &failed);
	CU_ASSERT(failed == 0);
	after = tl_snapshot(dst, xcb_get_setup(dst)->resource_id_base,
			    xcb_get_setup(dst)->resource_id_mask);
	tl_assert_same_tree(before, after);
	CU_ASSERT(g_strv_length(g_strsplit(before, "\n", -1)) > min_windows);
	fprintf(stderr, "  %s: %u replay steps, windows:\n%s", argv[0],
		replay_n_steps(rp), before);
	xmap_free(map);
	xcb_disconnect(dst);
	xcb_disconnect(peek);
	tl_relay_free(&r);
}

/* Accepts connections on the listening socket in UD's relay array until
 * told to stop; each gets a relay of its own. */
typedef struct {
	int listen_fd;		/* the listening socket */
	const char *path;	/* its path */
	int stop[2];		/* written to stop */
	xcb_connection_t *peek;	/* for the relays */
	GPtrArray *relays;	/* TlRelay * (owned), in accept order */
	GPtrArray *threads;	/* their threads */
	GMutex lock;		/* guards relays and threads */
} TlAcceptor;

/* The acceptor thread. */
static gpointer tl_acceptor(gpointer ud)
{
	TlAcceptor *a = ud;

	for (;;) {
		struct pollfd pf[2] = { { a->listen_fd, POLLIN, 0 },
					{ a->stop[0], POLLIN, 0 } };
		TlRelay *r;
		int fd;

		if (poll(pf, 2, -1) < 0 && errno == EINTR)
			continue;
		if (pf[1].revents)
			break;
		fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		r = g_new0(TlRelay, 1);
		r->cfd = fd;
		r->listen_fd = -1;
		g_mutex_lock(&a->lock);
		g_ptr_array_add(a->relays, r);
		g_ptr_array_add(a->threads, tl_relay_start(r, a->peek));
		g_mutex_unlock(&a->lock);
	}
	return NULL;
}

/* An app that may open several connections (GTK): each recorded through
 * its own relay and replayed on its own connection to the second server;
 * the window trees compared per connection. */
static void tl_app_multi(char **argv, const char *const *envset)
{
	TlAcceptor a = { 0 };
	g_autofree char *da = g_strdup_printf(":%d", tl_srv[0].display);
	g_autofree char *disp = NULL, *sock = NULL;
	g_auto(GStrv) env = NULL;
	GThread *th;
	GPid app;
	int d = -1;
	guint n_windows = 0;

	if (!g_find_program_in_path(argv[0])) {
		fprintf(stderr, "\n  %s not installed: skipped\n", argv[0]);
		return;
	}
	a.listen_fd = tl_listen(&d);
	CU_ASSERT_FATAL(a.listen_fd >= 0);
	disp = g_strdup_printf(":%d", d);
	sock = g_strdup_printf("/tmp/.X11-unix/X%d", d);
	a.path = sock;
	a.peek = xcb_connect(da, NULL);
	CU_ASSERT_FATAL(!xcb_connection_has_error(a.peek));
	CU_ASSERT_FATAL(pipe(a.stop) == 0);
	a.relays = g_ptr_array_new();
	a.threads = g_ptr_array_new();
	g_mutex_init(&a.lock);
	th = g_thread_new("acceptor", tl_acceptor, &a);
	env = g_environ_setenv(g_get_environ(), "DISPLAY", disp, TRUE);
	env = g_environ_setenv(env, "XAUTHORITY", "/dev/null", TRUE);
	for (guint i = 0; envset && envset[i]; i += 2)
		env = g_environ_setenv(env, envset[i], envset[i + 1], TRUE);
	CU_ASSERT_FATAL(g_spawn_async(NULL, argv, env,
				      G_SPAWN_SEARCH_PATH |
				      G_SPAWN_DO_NOT_REAP_CHILD |
				      G_SPAWN_STDOUT_TO_DEV_NULL |
				      G_SPAWN_STDERR_TO_DEV_NULL,
				      tl_app_setup, NULL, &app, NULL));
	g_usleep(4000 * 1000);	/* started and drawn */
	CU_ASSERT(write(a.stop[1], "x", 1) == 1);
	g_thread_join(th);
	close(a.listen_fd);
	unlink(sock);

	g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < a.relays->len; i++) {
		TlRelay *r = a.relays->pdata[i];
		if (!r->rec) {
			g_ptr_array_add(before, g_strdup(""));
			continue;
		}
		tl_checkpoint(r);
		g_ptr_array_add(before, tl_snapshot(a.peek,
						     record_base(r->rec),
						     record_mask(r->rec)));
	}
	for (guint i = 0; i < a.relays->len; i++)
		tl_relay_stop(a.relays->pdata[i], a.threads->pdata[i]);
	kill(-app, SIGTERM);
	waitpid(app, NULL, 0);

	for (guint i = 0; i < a.relays->len; i++) {
		TlRelay *r = a.relays->pdata[i];
		g_autoptr(XpReplay) rp = NULL;
		g_autofree char *after = NULL;
		g_autoptr(GArray) un = NULL;
		xcb_connection_t *dst;
		RecordStats st;
		XpMap *map;
		guint failed;
		char *bf = before->pdata[i];

		if (!r->rec)
			continue;
		record_stats(r->rec, &st);
		un = record_unnamed_atoms(r->rec);
		fprintf(stderr, "\n  %s connection %u: %u resources, %u "
			"zombies, %u foreign, %u mods, %u glyphs, %u atoms "
			"(%u unnamed), %zu bytes\n", argv[0], i, st.resources,
			st.zombies, st.foreign, st.mods, st.glyphs, st.atoms,
			un->len, st.bytes);
		if (g_getenv("TL_DUMP")) {
			g_autoptr(GPtrArray) es = record_entries(r->rec);
			for (guint k = 0; k < es->len; k++) {
				RecRes *e = es->pdata[k];
				fprintf(stderr, "entry 0x%x kind %u flags %u "
					"refs %u op %u.%u len %u image %zu\n",
					e->xid, e->kind, e->flags, e->refs,
					e->create ? e->create[0] : 0,
					e->create ? e->create[1] : 0,
					e->create_len, e->image ?
					g_bytes_get_size(e->image) : 0);
			}
		}
		rp = replay_new(r->rec, NULL);
		dst = tl_restart(r->rec, rp, r->exts, &map, &failed);
		CU_ASSERT(failed == 0);
		after = tl_snapshot(dst, xcb_get_setup(dst)->resource_id_base,
				    xcb_get_setup(dst)->resource_id_mask);
		tl_assert_same_tree(bf, after);
		n_windows += *bf != 0;
		fprintf(stderr, "  %u replay steps\n", replay_n_steps(rp));
		xmap_free(map);
		xcb_disconnect(dst);
		tl_relay_free(r);
		g_free(r);
	}
	CU_ASSERT(n_windows >= 1);
	g_ptr_array_unref(a.relays);
	g_ptr_array_unref(a.threads);
	g_mutex_clear(&a.lock);
	close(a.stop[0]);
	close(a.stop[1]);
	xcb_disconnect(a.peek);
}

/* gedit: GTK 3, several connections, most extensions. */
static void tl_gedit(void)
{
	char *argv[] = { "dbus-run-session", "--", "gedit", "--new-window",
			 NULL };
	static const char *const envset[] = {
		"NO_AT_BRIDGE", "1", "GSETTINGS_BACKEND", "memory",
		"GDK_BACKEND", "x11", NULL
	};

	if (tl_servers() && g_find_program_in_path("gedit"))
		tl_app_multi(argv, envset);
}

/* xlogo: Xt, Xaw, RENDER. */
static void tl_xlogo(void)
{
	char *argv[] = { "xlogo", "-render", NULL };

	if (tl_servers())
		tl_app(argv, 1);
}

/* xeyes: SHAPE. */
static void tl_xeyes(void)
{
	char *argv[] = { "xeyes", NULL };

	if (tl_servers())
		tl_app(argv, 1);
}

/* xterm with an Xft font: RENDER glyph sets and pictures. */
static void tl_xterm(void)
{
	char *argv[] = { "xterm", "-fa", "Monospace", "-fs", "10", "-e",
			 "sleep", "20", NULL };

	if (tl_servers())
		tl_app(argv, 1);
}

/* The tests. */
static CU_TestInfo tl_tests[] = {
	{ "record on one Xvfb, replay on another", tl_record_replay },
	{ "xlogo recorded and replayed", tl_xlogo },
	{ "xeyes recorded and replayed", tl_xeyes },
	{ "xterm recorded and replayed", tl_xterm },
	{ "gedit recorded and replayed", tl_gedit },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("record-live", tl_tests)
