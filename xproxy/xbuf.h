/*
 * xbuf.h: a byte buffer that is both the input of one side and the output
 * queue of the other.
 *
 * Bytes are read from one socket into the tail, parsed and translated in
 * place, and written to the other socket from the head, so a message is never
 * copied between an input and an output buffer:
 *
 *	data: [ written | to write (parsed) | read, not yet parsed | free ]
 *	      0       start               parsed                 end      cap
 */
#pragma once

#include <glib.h>

/* One buffer. */
typedef struct {
	guint8 *data;	/* the bytes (owned) */
	gsize cap;	/* allocated size of data */
	gsize start;	/* first byte not yet written out */
	gsize parsed;	/* first byte not yet parsed; start <= parsed <= end */
	gsize end;	/* end of the bytes read */
} XpBuf;

/* Allocates CAP bytes for B. */
void xbuf_init(XpBuf *b, gsize cap);

/* Frees B's bytes. */
void xbuf_clear(XpBuf *b);

/* When B is empty, hands the pages of its bytes back to the kernel
 * (madvise MADV_DONTNEED): they read as zeros and are taken again as they
 * are written, and until then a checkpoint's dump of the process does not
 * carry them.  B keeps its size.  Does nothing when B holds bytes. */
void xbuf_release(XpBuf *b);

/* Makes room for at least NEED bytes after B->end, first by moving the
 * unwritten bytes to the front, then by growing the buffer. */
void xbuf_reserve(XpBuf *b, gsize need);

/* Reads once from FD into the free tail (making room for one chunk when the
 * tail is empty).  Returns the bytes read, 0 at end of file, -1 on error
 * (errno set; EAGAIN when nothing is there). */
gssize xbuf_read(XpBuf *b, int fd);

/* Writes the parsed bytes [start, parsed) to FD once.  Returns the bytes
 * written or -1 (errno set; EAGAIN when the socket is full). */
gssize xbuf_write(XpBuf *b, int fd);

/* Whether B has parsed bytes waiting to be written. */
static inline gboolean xbuf_pending(const XpBuf *b)
{
	return b->parsed > b->start;
}

/* Inserts N bytes from P at offset AT (AT >= B->parsed), moving what follows. */
void xbuf_insert(XpBuf *b, gsize at, const void *p, gsize n);

/* Removes N bytes at offset AT (AT >= B->parsed), moving what follows. */
void xbuf_cut(XpBuf *b, gsize at, gsize n);
