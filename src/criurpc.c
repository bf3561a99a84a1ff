/*
 * criurpc.c: CRIU's RPC messages for a dump or a restore, in protobuf's wire
 * format
 * (see criurpc.h).  A protobuf message is a sequence of fields, each a
 * key (field number << 3 | wire type) then a value: a varint (wire type
 * 0), a length-prefixed run of bytes (2: strings, nested messages), or
 * fixed 8 or 4 bytes (1, 5).
 */
#include <string.h>

#include "src/criu.h"
#include "src/criurpc.h"

/* Protobuf's wire types. */
enum {
	PB_VARINT = 0,
	PB_FIXED64 = 1,
	PB_BYTES = 2,
	PB_FIXED32 = 5,
};

/* Field numbers, from CRIU's images/rpc.proto. */
enum {
	/* criu_req */
	REQ_TYPE = 1,
	REQ_OPTS = 2,
	REQ_NOTIFY_SUCCESS = 3,
	/* criu_opts */
	OPT_IMAGES_DIR_FD = 1,
	OPT_PID = 2,
	OPT_LEAVE_RUNNING = 3,
	OPT_FILE_LOCKS = 8,
	OPT_LOG_LEVEL = 9,
	OPT_LOG_FILE = 10,
	OPT_NOTIFY_SCRIPTS = 12,
	OPT_ROOT = 13,
	OPT_WORK_DIR_FD = 17,
	OPT_RST_SIBLING = 26,
	OPT_INHERIT_FD = 27,
	OPT_EXTERNAL = 37,
	OPT_TCP_CLOSE = 52,
	/* inherit_fd */
	INHERIT_KEY = 1,
	INHERIT_FD = 2,
	/* criu_resp */
	RESP_TYPE = 1,
	RESP_SUCCESS = 2,
	RESP_RESTORE = 4,
	RESP_NOTIFY = 5,
	RESP_CR_ERRNO = 7,
	RESP_CR_ERRMSG = 9,
	/* criu_restore_resp */
	RESTORE_PID = 1,
	/* criu_notify */
	NOTIFY_SCRIPT = 1,
};

/* Appends varint V to B. */
static void criurpc_put_varint(GByteArray *b, guint64 v)
{
	guint8 c;

	do {
		c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		g_byte_array_append(b, &c, 1);
	} while (v);
}

/* Appends field FIELD, an integer or bool: int32 values are sign-extended
 * to 64 bits, as protobuf encodes negative ones. */
static void criurpc_put_int(GByteArray *b, guint field, gint64 v)
{
	criurpc_put_varint(b, (guint64)field << 3 | PB_VARINT);
	criurpc_put_varint(b, (guint64)v);
}

/* Appends field FIELD, N bytes at P (a string or a nested message). */
static void criurpc_put_bytes(GByteArray *b, guint field, const void *p,
			      gsize n)
{
	criurpc_put_varint(b, (guint64)field << 3 | PB_BYTES);
	criurpc_put_varint(b, n);
	g_byte_array_append(b, p, n);
}

/* Appends field FIELD, string S. */
static void criurpc_put_string(GByteArray *b, guint field, const char *s)
{
	criurpc_put_bytes(b, field, s, strlen(s));
}

/* Appends bool field FIELD when ON (an absent bool is false). */
static void criurpc_put_flag(GByteArray *b, guint field, gboolean on)
{
	if (on)
		criurpc_put_int(b, field, 1);
}

GBytes *criurpc_request(CriurpcType type, const CriurpcOpts *o)
{
	g_autoptr(GByteArray) opts = g_byte_array_new();
	GByteArray *req = g_byte_array_new();

	criurpc_put_int(opts, OPT_IMAGES_DIR_FD, o->images_dir_fd);
	if (o->pid > 0)
		criurpc_put_int(opts, OPT_PID, o->pid);
	criurpc_put_flag(opts, OPT_LEAVE_RUNNING, o->leave_running);
	criurpc_put_flag(opts, OPT_FILE_LOCKS, o->file_locks);
	criurpc_put_int(opts, OPT_LOG_LEVEL, o->log_level);
	if (o->log_file)
		criurpc_put_string(opts, OPT_LOG_FILE, o->log_file);
	criurpc_put_flag(opts, OPT_NOTIFY_SCRIPTS, o->notify_scripts);
	if (o->root)
		criurpc_put_string(opts, OPT_ROOT, o->root);
	if (o->work_dir_fd >= 0)
		criurpc_put_int(opts, OPT_WORK_DIR_FD, o->work_dir_fd);
	criurpc_put_flag(opts, OPT_RST_SIBLING, o->rst_sibling);
	for (guint i = 0; i < o->n_inherit; i++) {
		g_autoptr(GByteArray) ifd = g_byte_array_new();

		criurpc_put_string(ifd, INHERIT_KEY, o->inherit_keys[i]);
		criurpc_put_int(ifd, INHERIT_FD, o->inherit_fds[i]);
		criurpc_put_bytes(opts, OPT_INHERIT_FD, ifd->data, ifd->len);
	}
	for (guint i = 0; o->external && o->external[i]; i++)
		criurpc_put_string(opts, OPT_EXTERNAL, o->external[i]);
	criurpc_put_flag(opts, OPT_TCP_CLOSE, o->tcp_close);

	criurpc_put_int(req, REQ_TYPE, type);
	criurpc_put_bytes(req, REQ_OPTS, opts->data, opts->len);
	return g_byte_array_free_to_bytes(req);
}

GBytes *criurpc_notify_reply(gboolean success)
{
	GByteArray *req = g_byte_array_new();

	criurpc_put_int(req, REQ_TYPE, CRIURPC_NOTIFY);
	/* Written even when false: "notify_success" absent means false
	 * too, but saying it is clearer in a trace. */
	criurpc_put_int(req, REQ_NOTIFY_SUCCESS, success ? 1 : 0);
	return g_byte_array_free_to_bytes(req);
}

/* A cursor over a message being parsed. */
typedef struct {
	const guint8 *p;	/* the next byte */
	const guint8 *end;	/* just past the message */
} CriurpcIn;

/* Reads a varint into *V.  Returns FALSE when the message ends first or
 * the varint is longer than 10 bytes. */
static gboolean criurpc_get_varint(CriurpcIn *in, guint64 *v)
{
	*v = 0;
	for (guint shift = 0; shift < 70; shift += 7) {
		if (in->p >= in->end)
			return FALSE;
		guint8 c = *in->p++;
		*v |= (guint64)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return TRUE;
	}
	return FALSE;
}

/* Reads the next field: its number into *FIELD, its wire type into *WIRE,
 * and then a varint into *V, or for bytes the start into *DATA and the
 * length into *V (fixed-size values are skipped, *V 0).  Returns FALSE on
 * a malformed field. */
static gboolean criurpc_get_field(CriurpcIn *in, guint *field, guint *wire,
				  guint64 *v, const guint8 **data)
{
	guint64 key;

	if (!criurpc_get_varint(in, &key) || (key >> 3) == 0 ||
	    (key >> 3) > G_MAXUINT32)
		return FALSE;
	*field = (guint)(key >> 3);
	*wire = (guint)(key & 7);
	*v = 0;
	switch (*wire) {
	case PB_VARINT:
		return criurpc_get_varint(in, v);
	case PB_BYTES:
		if (!criurpc_get_varint(in, v) ||
		    *v > (guint64)(in->end - in->p))
			return FALSE;
		*data = in->p;
		in->p += *v;
		return TRUE;
	case PB_FIXED64:
	case PB_FIXED32: {
		gsize n = *wire == PB_FIXED64 ? 8 : 4;
		if ((gsize)(in->end - in->p) < n)
			return FALSE;
		in->p += n;
		return TRUE;
	}
	default:		/* groups (3, 4) are not in rpc.proto */
		return FALSE;
	}
}

/* Replaces string *DST with the N bytes at P. */
static void criurpc_set_string(char **dst, const guint8 *p, gsize n)
{
	g_free(*dst);
	*dst = g_strndup((const char *)p, n);
}

/* Reads the fields of the message of N bytes at P into RESP: criu_resp
 * itself when OUTER is 0, else the message nested in its field OUTER
 * (criu_restore_resp, criu_notify).  Fields this code does not know (newer
 * CRIUs add some) are skipped; *HAVE_TYPE is set when criu_resp.type was
 * read.  Returns FALSE when malformed. */
static gboolean criurpc_parse_fields(guint outer, const guint8 *p, gsize n,
				     CriurpcResp *resp, gboolean *have_type)
{
	CriurpcIn in = { p, p + n };

	while (in.p < in.end) {
		guint field, wire;
		guint64 v;
		const guint8 *data = NULL;

		if (!criurpc_get_field(&in, &field, &wire, &v, &data))
			return FALSE;
		if (wire == PB_VARINT) {
			if (outer == 0 && field == RESP_TYPE) {
				resp->type = (CriurpcType)v;
				*have_type = TRUE;
			} else if (outer == 0 && field == RESP_SUCCESS)
				resp->success = v != 0;
			else if (outer == 0 && field == RESP_CR_ERRNO)
				resp->cr_errno = (int)(gint32)v;
			else if (outer == RESP_RESTORE && field == RESTORE_PID)
				resp->pid = (int)(gint32)v;
		} else if (wire == PB_BYTES) {
			if (outer == 0 && (field == RESP_RESTORE ||
					   field == RESP_NOTIFY)) {
				if (!criurpc_parse_fields(field, data, v, resp,
							  have_type))
					return FALSE;
			} else if (outer == 0 && field == RESP_CR_ERRMSG)
				criurpc_set_string(&resp->errmsg, data, v);
			else if (outer == RESP_NOTIFY && field == NOTIFY_SCRIPT)
				criurpc_set_string(&resp->script, data, v);
		}
	}
	return TRUE;
}

gboolean criurpc_parse_response(const guint8 *p, gsize n, CriurpcResp *resp,
				GError **error)
{
	gboolean have_type = FALSE;

	memset(resp, 0, sizeof(*resp));
	if (criurpc_parse_fields(0, p, n, resp, &have_type) && have_type)
		return TRUE;
	criurpc_resp_clear(resp);
	g_set_error(error, CRIU_ERROR, CRIU_ERROR_FAILED,
		    "criu sent a malformed RPC response (%" G_GSIZE_FORMAT
		    " bytes)", n);
	return FALSE;
}

void criurpc_resp_clear(CriurpcResp *resp)
{
	g_free(resp->script);
	g_free(resp->errmsg);
	memset(resp, 0, sizeof(*resp));
}
