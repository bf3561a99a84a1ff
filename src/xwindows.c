/*
 * xwindows.c: the top-level windows of a session and their thumbnails, read
 * from the X server at checkpoint time (see xwindows.h).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>
#include <xcb/res.h>
#include <xcb/xcb.h>

#include "src/xwindows.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xcb_connection_t, xcb_disconnect)
G_DEFINE_QUARK(xckpt-xwindows-error-quark, xwindows_error)

/* Sets ERROR to a one-line message; returns -1. */
G_GNUC_PRINTF(2, 3)
static int xwindows_fail(GError **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, xwindows_error_quark(), 0, msg);
	return -1;
}

/* Orders two guint32 in a GArray. */
static gint xwindows_cmp(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

	return x < y ? -1 : x > y;
}

/* The resource-ID bases of DISPLAY's clients whose process is PID, in
 * ascending order (caller frees), or NULL with ERROR. */
static GArray *xwindows_client_bases(xcb_connection_t *c, pid_t pid,
				     GError **error)
{
	xcb_res_client_id_spec_t spec = {
		.client = 0, .mask = XCB_RES_CLIENT_ID_MASK_LOCAL_CLIENT_PID,
	};
	const xcb_query_extension_reply_t *ext =
		xcb_get_extension_data(c, &xcb_res_id);
	g_autofree xcb_res_query_version_reply_t *v = NULL;
	g_autofree xcb_res_query_client_ids_reply_t *r = NULL;
	GArray *bases;

	if (ext == NULL || !ext->present) {
		xwindows_fail(error, "the X server has no X-Resource extension");
		return NULL;
	}
	v = xcb_res_query_version_reply(c, xcb_res_query_version(c, 1, 2),
					NULL);
	if (v == NULL || (v->server_major == 1 && v->server_minor < 2)) {
		xwindows_fail(error, "the X server's X-Resource is older "
			      "than 1.2");
		return NULL;
	}
	r = xcb_res_query_client_ids_reply(c,
			xcb_res_query_client_ids(c, 1, &spec), NULL);
	if (r == NULL) {
		xwindows_fail(error, "X-Resource QueryClientIds failed");
		return NULL;
	}
	bases = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (xcb_res_client_id_value_iterator_t it =
		     xcb_res_query_client_ids_ids_iterator(r);
	     it.rem > 0; xcb_res_client_id_value_next(&it)) {
		const guint32 *val = xcb_res_client_id_value_value(it.data);
		if (it.data->length == 4 && (pid_t)val[0] == pid)
			g_array_append_val(bases, it.data->spec.client);
	}
	g_array_sort(bases, xwindows_cmp);
	return bases;
}

/* The title of window W: _NET_WM_NAME, else WM_NAME (caller frees; ""
 * when it has none). */
static char *xwindows_title(xcb_connection_t *c, xcb_window_t w)
{
	const char *names[] = { "_NET_WM_NAME", "WM_NAME" };

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree xcb_intern_atom_reply_t *a =
			xcb_intern_atom_reply(c, xcb_intern_atom(c, 1,
					strlen(names[i]), names[i]), NULL);
		if (a == NULL || a->atom == XCB_NONE)
			continue;
		g_autofree xcb_get_property_reply_t *p =
			xcb_get_property_reply(c, xcb_get_property(c, 0, w,
					a->atom, XCB_GET_PROPERTY_TYPE_ANY, 0,
					1024), NULL);
		if (p != NULL && p->format == 8 &&
		    xcb_get_property_value_length(p) > 0)
			return g_strndup(xcb_get_property_value(p),
					 xcb_get_property_value_length(p));
	}
	return g_strdup("");
}

/* Writes RGB pixels PIX (W x H, 3 bytes a pixel) as PNG file PATH (mode
 * 0600).  Returns TRUE, or FALSE with ERROR. */
static gboolean xwindows_write_png(const char *path, const guint8 *pix,
				   guint w, guint h, GError **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
	png_structp png = NULL;
	png_infop info = NULL;
	gboolean ok = FALSE;

	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		xwindows_fail(error, "cannot create %s", path);
		return FALSE;
	}
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL,
				      NULL);
	info = png ? png_create_info_struct(png) : NULL;
	if (info == NULL || setjmp(png_jmpbuf(png))) {
		xwindows_fail(error, "cannot write %s", path);
		goto out;
	}
	png_init_io(png, f);
	/* Fast rather than small: a thumbnail is written while the user
	 * waits for the checkpoint. */
	png_set_compression_level(png, 1);
	png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (guint y = 0; y < h; y++)
		png_write_row(png, (png_const_bytep)(pix + (gsize)y * w * 3));
	png_write_end(png, NULL);
	ok = TRUE;
out:
	png_destroy_write_struct(&png, &info);
	if (fclose(f) != 0 && ok) {
		xwindows_fail(error, "cannot write %s", path);
		ok = FALSE;
	}
	return ok;
}

/* Reads window W (WIDTH x HEIGHT, depth DEPTH) and writes it, scaled down
 * by whole factors to at most XWINDOWS_THUMB_MAX on its longer side (box
 * average), as PNG file PATH.  Only 24- and 32-bit depths in 32-bit
 * pixels are read; others get no thumbnail (FALSE, no error). */
static gboolean xwindows_thumbnail(xcb_connection_t *c, xcb_window_t w,
				   guint width, guint height, guint depth,
				   const char *path, GError **error)
{
	guint f = (MAX(width, height) + XWINDOWS_THUMB_MAX - 1) /
		  XWINDOWS_THUMB_MAX;
	guint tw, th;
	g_autofree xcb_get_image_reply_t *img = NULL;
	g_autofree guint8 *pix = NULL;
	const guint8 *src;

	if ((depth != 24 && depth != 32) || width == 0 || height == 0)
		return FALSE;
	img = xcb_get_image_reply(c, xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP,
				  w, 0, 0, width, height, ~0u), NULL);
	if (img == NULL ||
	    (gsize)xcb_get_image_data_length(img) < (gsize)width * height * 4)
		return FALSE;
	src = xcb_get_image_data(img);
	f = MAX(f, 1);
	tw = MAX(width / f, 1);
	th = MAX(height / f, 1);
	pix = g_malloc((gsize)tw * th * 3);
	for (guint y = 0; y < th; y++) {
		for (guint x = 0; x < tw; x++) {
			guint sum[3] = { 0, 0, 0 };
			for (guint dy = 0; dy < f; dy++) {
				const guint8 *p = src + ((gsize)(y * f + dy) *
							 width + x * f) * 4;
				for (guint dx = 0; dx < f; dx++, p += 4) {
					/* 32-bit pixels, little-endian:
					 * B, G, R, X. */
					sum[0] += p[2];
					sum[1] += p[1];
					sum[2] += p[0];
				}
			}
			for (int k = 0; k < 3; k++)
				pix[((gsize)y * tw + x) * 3 + k] =
					sum[k] / (f * f);
		}
	}
	return xwindows_write_png(path, pix, tw, th, error);
}

/* Lists the session's windows and writes their thumbnails (xwindows.h). */
int xwindows_snapshot(const char *display, pid_t pid, const char *dir,
		      GKeyFile *kf, GError **error)
{
	int screen_num = 0, n = 0;
	g_autoptr(xcb_connection_t) c = xcb_connect(display, &screen_num);
	g_autoptr(GArray) bases = NULL;
	g_autofree xcb_query_tree_reply_t *tree = NULL;
	const xcb_setup_t *setup;
	xcb_screen_iterator_t sit;
	guint32 mask;

	if (xcb_connection_has_error(c))
		return xwindows_fail(error, "cannot open X display %s",
				     display);
	setup = xcb_get_setup(c);
	mask = setup->resource_id_mask;
	sit = xcb_setup_roots_iterator(setup);
	for (int i = 0; i < screen_num && sit.rem > 0; i++)
		xcb_screen_next(&sit);
	bases = xwindows_client_bases(c, pid, error);
	if (bases == NULL)
		return -1;
	tree = xcb_query_tree_reply(c, xcb_query_tree(c, sit.data->root),
				    NULL);
	if (tree == NULL)
		return xwindows_fail(error, "cannot read the window tree of %s",
				     display);
	xcb_window_t *kids = xcb_query_tree_children(tree);
	for (int i = 0; i < xcb_query_tree_children_length(tree); i++) {
		xcb_window_t w = kids[i];
		guint conn = 0;

		for (guint b = 0; b < bases->len; b++)
			if ((w & ~mask) == g_array_index(bases, guint32, b))
				conn = b + 1;
		if (conn == 0)
			continue;
		g_autofree xcb_get_window_attributes_reply_t *a =
			xcb_get_window_attributes_reply(c,
				xcb_get_window_attributes(c, w), NULL);
		g_autofree xcb_get_geometry_reply_t *g =
			xcb_get_geometry_reply(c, xcb_get_geometry(c, w), NULL);
		if (a == NULL || g == NULL ||
		    a->map_state != XCB_MAP_STATE_VIEWABLE ||
		    a->_class != XCB_WINDOW_CLASS_INPUT_OUTPUT)
			continue;
		n++;
		g_autofree char *group = g_strdup_printf("window %d", n);
		g_autofree char *title = xwindows_title(c, w);
		g_autofree char *geom = g_strdup_printf("%ux%u%+d%+d",
				g->width, g->height, g->x, g->y);
		g_autofree char *file = g_strdup_printf("window-%d.png", n);
		g_autofree char *path = g_build_filename(dir, file, NULL);
		g_autoptr(GError) e = NULL;

		g_key_file_set_string(kf, group, "title", title);
		g_key_file_set_string(kf, group, "geometry", geom);
		g_key_file_set_integer(kf, group, "connection", (int)conn);
		if (xwindows_thumbnail(c, w, g->width, g->height, g->depth,
				       path, &e))
			g_key_file_set_string(kf, group, "thumbnail", file);
	}
	return n;
}
