/*
 * walk.c: the one generic walker over the generated protocol tables.
 *
 * walk_message() interprets a message's op program (see gen-tables.py for
 * the op and expression formats) over the wire bytes: it keeps a cursor POS
 * and a few slots of already-read field values, evaluates list counts and
 * switch values on a small fixed stack, and calls the visitor for every
 * translated field.  Loops over lists of structs use a fixed array of loop
 * frames, so there is no recursion and no allocation.  Every read is
 * bounds-checked against the buffer; the invariant POS <= LEN holds between
 * ops.
 */
#include <stdlib.h>

#include "xproxy/proto.h"
#include "proto-tables.h"

/* Largest expression value the walker accepts (counts, lengths): anything
 * beyond cannot describe bytes of a message and means nonsense. */
#define WALK_VALUE_MAX ((gint64)1 << 40)

/* One list loop being walked. */
typedef struct {
	const ProtoOp *body;	/* first op of the element body */
	guint32 left;		/* elements left, the current one included */
	gsize start;		/* offset where the current element starts */
} WalkLoop;

/* Returns the SIZE-byte (1, 2 or 4) LSB-first unsigned value at P. */
static inline guint32 walk_get(const guint8 *p, guint size)
{
	switch (size) {
	case 1:
		return p[0];
	case 2:
		return p[0] | (guint32)p[1] << 8;
	default:
		return p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 |
		       (guint32)p[3] << 24;
	}
}

/* Evaluates expression XI (an index into proto_exprs) with the slot values
 * SLOTS, the cursor POS and the message length LEN.  Returns TRUE and the
 * value in *OUT, or FALSE when the value is nonsense (division by zero,
 * overflow).  A malformed expression is a generator bug and aborts. */
static gboolean walk_eval(guint32 xi, const guint32 *slots, gsize pos,
			  gsize len, gint64 *out)
{
	gint64 st[PROTO_X_STACK];
	guint sp = 0;
	const guint32 *x = proto_exprs + xi;

	for (;; x++) {
		guint32 w = *x;
		guint code = w & 0xff;
		gint64 a, b, r;

		if (code == PROTO_X_END) {
			if (sp != 1)
				abort();
			*out = st[0];
			return TRUE;
		}
		if (code <= PROTO_X_SLOT || code == PROTO_X_REST) {
			if (sp >= PROTO_X_STACK)
				abort();
			if (code == PROTO_X_CONST)
				st[sp++] = w >> 8;
			else if (code == PROTO_X_CONSTW)
				st[sp++] = *++x;
			else if (code == PROTO_X_SLOT)
				st[sp++] = slots[w >> 8];
			else
				st[sp++] = (len - pos) / (w >> 8);
			continue;
		}
		if (sp < 1)
			abort();
		a = st[sp - 1];
		if (code == PROTO_X_NOT) {
			st[sp - 1] = ~(guint32)a;
			continue;
		}
		if (code == PROTO_X_POPCOUNT) {
			st[sp - 1] = __builtin_popcount((guint32)a);
			continue;
		}
		if (sp < 2)
			abort();
		b = a;
		a = st[sp - 2];
		switch (code) {
		case PROTO_X_ADD:
			r = a + b;
			break;
		case PROTO_X_SUB:
			r = a - b;
			break;
		case PROTO_X_MUL:
			if (__builtin_mul_overflow(a, b, &r))
				return FALSE;
			break;
		case PROTO_X_DIV:
			if (b == 0)
				return FALSE;
			r = a / b;
			break;
		case PROTO_X_AND:
			r = a & b;
			break;
		case PROTO_X_OR:
			r = a | b;
			break;
		case PROTO_X_SHL:
			if (b < 0 || b > 31)
				return FALSE;
			r = a << b;
			break;
		case PROTO_X_EQ:
			r = a == b;
			break;
		default:
			abort();
		}
		if (r > WALK_VALUE_MAX || r < -WALK_VALUE_MAX)
			return FALSE;
		st[sp - 2] = r;
		sp--;
	}
}

/* Evaluates expression XI into *COUNT as an element count: FALSE when it
 * is negative or absurd. */
static inline gboolean walk_count(guint32 xi, const guint32 *slots, gsize pos,
				  gsize len, guint64 *count)
{
	gint64 v;

	if (!walk_eval(xi, slots, pos, len, &v) || v < 0 || v > G_MAXUINT32)
		return FALSE;
	*count = (guint64)v;
	return TRUE;
}

/* Walks a plain X value list at *POS: one 4-byte value for each bit of
 * MASK that KINDS (32 entries) defines, in bit order; visits those whose
 * kind is not NONE and advances *POS past the list.  Returns FALSE when the
 * values run past LEN. */
static inline gboolean walk_vlist(const guint8 *kinds, guint32 mask,
				  guint8 *buf, gsize len, gsize *pos,
				  ProtoVisitFn visit, gpointer ud)
{
	gsize at = *pos;

	while (mask) {
		guint bit = __builtin_ctz(mask);
		guint8 k = kinds[bit];

		mask &= mask - 1;
		if (k == 0xff)
			continue;
		if (len - at < 4)
			return FALSE;
		if (k != PROTO_K_NONE)
			visit(ud, (ProtoKind)k, buf + at);
		at += 4;
	}
	*pos = at;
	return TRUE;
}

/* Walks MSG over BUF[0..LEN) and calls VISIT(UD, kind, field) for every
 * translated field in wire order; see proto.h.  Owns nothing. */
ProtoWalkResult walk_message(const ProtoMsg *msg, ProtoDir dir, guint8 *buf,
			     gsize len, gboolean big, ProtoVisitFn visit,
			     gpointer ud)
{
	guint32 slots[PROTO_MAX_SLOTS];
	WalkLoop loops[PROTO_MAX_DEPTH];
	guint depth = 0;
	gsize pos = 0;
	gsize shift = 0;	/* 4 for a BIG-REQUESTS request */
	gsize min = msg->min_size;
	const ProtoOp *op;

	if (dir == PROTO_REQUEST && big)
		min += 4;
	if (len < min || len < 4)
		return PROTO_WALK_BAD_LENGTH;
	/* Slots start at 0 (a slot an op reads is always stored first on
	 * well-formed XML; zero keeps a malformed path deterministic). */
	for (guint i = 1; i < msg->n_slots; i++)
		slots[i] = 0;
	/* Slot 0: the length field as on the wire. */
	if (dir == PROTO_REQUEST)
		slots[0] = big ? (len >= 8 ? walk_get(buf + 4, 4) : 0) :
			walk_get(buf + 2, 2);
	else if (len >= 8)
		slots[0] = walk_get(buf + 4, 4);

	for (op = msg->ops;; op++) {
		gsize at;
		guint64 count;
		gint64 v;

		switch (op->code) {
		case PROTO_OP_END:
			return PROTO_WALK_OK;
		case PROTO_OP_FAIL:
			return PROTO_WALK_BAD_VALUE;
		case PROTO_OP_FIELD:
			at = pos + op->a;
			if (at + 4 > len)
				return PROTO_WALK_BAD_LENGTH;
			visit(ud, (ProtoKind)op->x, buf + at);
			break;
		case PROTO_OP_READ:
			at = pos + op->a;
			if (at + op->x > len)
				return PROTO_WALK_BAD_LENGTH;
			slots[op->b] = walk_get(buf + at, op->x);
			break;
		case PROTO_OP_ADV:
			if (op->b > len - pos)
				return PROTO_WALK_BAD_LENGTH;
			pos += op->b;
			break;
		case PROTO_OP_ALIGN:
			at = shift + ((pos - shift + op->b - 1) & ~(gsize)(op->b - 1));
			if (at > len)
				return PROTO_WALK_BAD_LENGTH;
			pos = at;
			break;
		case PROTO_OP_REQHDR:
			shift = big ? 4 : 0;
			pos = 4 + shift;
			break;
		case PROTO_OP_EVAL:
			if (!walk_eval(op->b, slots, pos, len, &v))
				return PROTO_WALK_BAD_VALUE;
			slots[op->a] = (guint32)v;
			break;
		case PROTO_OP_ACC:
			if (!walk_eval(op->b, slots, pos, len, &v))
				return PROTO_WALK_BAD_VALUE;
			slots[op->a] += (guint32)v;
			break;
		case PROTO_OP_LIST:
			if (op->b == PROTO_LIST_REST)
				count = (len - pos) / op->a;
			else if (!walk_count(op->b, slots, pos, len, &count))
				return PROTO_WALK_BAD_VALUE;
			if (count * op->a > len - pos)
				return PROTO_WALK_BAD_LENGTH;
			if (op->x != PROTO_K_NONE)
				for (guint64 i = 0; i < count; i++)
					visit(ud, (ProtoKind)op->x,
					      buf + pos + op->a * i);
			pos += count * op->a;
			break;
		case PROTO_OP_LOOP:
			if (!walk_count(op->b, slots, pos, len, &count))
				return PROTO_WALK_BAD_VALUE;
			if (count == 0) {
				op += op->a;
				break;
			}
			/* Every element takes at least a byte. */
			if (count > len - pos)
				return PROTO_WALK_BAD_LENGTH;
			if (depth == PROTO_MAX_DEPTH)
				abort();
			loops[depth].body = op + 1;
			loops[depth].left = (guint32)count;
			loops[depth].start = pos;
			depth++;
			break;
		case PROTO_OP_ENDLOOP:
			if (depth == 0)
				abort();
			if (--loops[depth - 1].left) {
				/* An element that took no byte cannot
				 * repeat forever: the count check above
				 * bounds the loop. */
				loops[depth - 1].start = pos;
				op = loops[depth - 1].body - 1;
			} else {
				depth--;
			}
			break;
		case PROTO_OP_SLEN:
			if (depth == 0)
				abort();
			if (!walk_eval(op->b, slots, pos, len, &v) ||
			    v < (gint64)(pos - loops[depth - 1].start))
				return PROTO_WALK_BAD_VALUE;
			if ((guint64)v > len - loops[depth - 1].start)
				return PROTO_WALK_BAD_LENGTH;
			pos = loops[depth - 1].start + (gsize)v;
			break;
		case PROTO_OP_IF:
			if (!walk_eval(op->b, slots, pos, len, &v))
				return PROTO_WALK_BAD_VALUE;
			if (v == 0)
				op += op->a;
			break;
		case PROTO_OP_IFBITS:
			if (!(slots[op->x] & op->b))
				op += op->a;
			break;
		case PROTO_OP_IFEQ:
			if (slots[op->x] != op->b)
				op += op->a;
			break;
		case PROTO_OP_VLIST:
			if (!walk_vlist(proto_vlists + op->b, slots[op->x], buf,
					len, &pos, visit, ud))
				return PROTO_WALK_BAD_LENGTH;
			break;
		default:
			abort();
		}
	}
}

/* Reverses the 4 bytes at P. */
static inline void walk_swap4(guint8 *p)
{
	guint8 t;

	t = p[0];
	p[0] = p[3];
	p[3] = t;
	t = p[1];
	p[1] = p[2];
	p[2] = t;
}

/* Walks the items of a core PolyText8 (CHAR_SIZE 1) or PolyText16 (2) from
 * offset OFF of BUF[0..LEN): a font shift (a 255 byte, then a FONT sent
 * most significant byte first, whatever the byte order) is turned LSB-first
 * in place, visited, and turned back.  Text elements (length, delta,
 * string) are skipped.  Follows the server's reading: a tail of 2 bytes or
 * less is padding.  Owns nothing. */
ProtoWalkResult walk_text_items(guint8 *buf, gsize len, gsize off,
				guint char_size, ProtoVisitFn visit,
				gpointer ud)
{
	gsize p = off;

	if (off > len)
		return PROTO_WALK_BAD_LENGTH;
	while (len - p > 2) {
		if (buf[p] == 255) {
			if (len - p < 5)
				return PROTO_WALK_BAD_LENGTH;
			/* Made LSB-first in place for the visitor, then
			 * turned back. */
			walk_swap4(buf + p + 1);
			visit(ud, PROTO_K_FONT, buf + p + 1);
			walk_swap4(buf + p + 1);
			p += 5;
		} else {
			gsize n = 2 + (gsize)buf[p] * char_size;

			if (n > len - p)
				return PROTO_WALK_BAD_LENGTH;
			p += n;
		}
	}
	return PROTO_WALK_OK;
}

/* Walks the glyph items of a RENDER CompositeGlyphs8/16/32 (GLYPH_SIZE 1, 2
 * or 4) from offset OFF of BUF[0..LEN): each item is an 8-byte header
 * (count, 3 pad bytes, dx, dy) and COUNT glyphs padded to 4 bytes, or, when
 * the count is 255, a GLYPHSET to switch to, which is visited.  Owns
 * nothing. */
ProtoWalkResult walk_glyph_items(guint8 *buf, gsize len, gsize off,
				 guint glyph_size, ProtoVisitFn visit,
				 gpointer ud)
{
	gsize p = off;

	if (off > len)
		return PROTO_WALK_BAD_LENGTH;
	while (len - p > 8) {
		guint count = buf[p];

		p += 8;
		if (count == 255) {
			if (len - p < 4)
				return PROTO_WALK_BAD_LENGTH;
			visit(ud, PROTO_K_GLYPHSET, buf + p);
			p += 4;
		} else {
			gsize n = ((gsize)count * glyph_size + 3) & ~(gsize)3;

			if (n > len - p)
				return PROTO_WALK_BAD_LENGTH;
			p += n;
		}
	}
	return PROTO_WALK_OK;
}
