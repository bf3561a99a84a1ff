/*
 * xbuf.c: the shared input/output byte buffer of a connection (see xbuf.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xproxy/xbuf.h"

/* Allocates CAP bytes for B; the buffer starts empty. */
void xbuf_init(XpBuf *b, gsize cap)
{
	b->data = g_malloc(cap);
	b->cap = cap;
	b->start = b->parsed = b->end = 0;
}

/* Frees B's bytes and empties it. */
void xbuf_clear(XpBuf *b)
{
	g_clear_pointer(&b->data, g_free);
	b->cap = b->start = b->parsed = b->end = 0;
}

/* Gives the memory of B back to the kernel when B is empty (see xbuf.h).
 * Only whole pages inside B's bytes: the allocator's own words around them
 * stay. */
void xbuf_release(XpBuf *b)
{
	gsize page = (gsize)sysconf(_SC_PAGESIZE);
	guintptr lo, hi;

	if (b->data == NULL || b->start != b->end)
		return;
	b->start = b->parsed = b->end = 0;
	lo = ((guintptr)b->data + page - 1) & ~(guintptr)(page - 1);
	hi = ((guintptr)b->data + b->cap) & ~(guintptr)(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Makes room for NEED bytes after B->end: moves the unwritten bytes to the
 * front when that is enough, grows the buffer (doubling) otherwise. */
void xbuf_reserve(XpBuf *b, gsize need)
{
	if (b->cap - b->end >= need)
		return;
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->parsed -= b->start;
		b->end -= b->start;
		b->start = 0;
	}
	if (b->cap - b->end >= need)
		return;
	gsize cap = b->cap ? b->cap : 4096;
	while (cap - b->end < need)
		cap *= 2;
	b->data = g_realloc(b->data, cap);
	b->cap = cap;
}

/* Reads as much as fits from FD into B's tail.  When the buffer is empty the
 * offsets go back to 0 first so the whole buffer is used. */
gssize xbuf_read(XpBuf *b, int fd)
{
	gssize n;

	if (b->start == b->end)
		b->start = b->parsed = b->end = 0;
	if (b->end == b->cap)
		xbuf_reserve(b, b->cap / 4 ? b->cap / 4 : 4096);
	do
		n = read(fd, b->data + b->end, b->cap - b->end);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		b->end += n;
	return n;
}

/* Writes [start, parsed) to socket FD once and advances start.  A peer
 * that has gone gives EPIPE, never SIGPIPE. */
gssize xbuf_write(XpBuf *b, int fd)
{
	gssize n;

	if (b->parsed == b->start)
		return 0;
	do
		n = send(fd, b->data + b->start, b->parsed - b->start,
			 MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		b->start += n;
		if (b->start == b->end)
			b->start = b->parsed = b->end = 0;
	}
	return n;
}

/* Inserts N bytes at AT; AT must not lie before the parsed mark (bytes
 * already queued for writing never move relative to each other). */
void xbuf_insert(XpBuf *b, gsize at, const void *p, gsize n)
{
	g_assert(at >= b->parsed && at <= b->end);
	gsize off = at - b->start;

	xbuf_reserve(b, n);
	at = b->start + off;
	memmove(b->data + at + n, b->data + at, b->end - at);
	memcpy(b->data + at, p, n);
	b->end += n;
}

/* Removes N bytes at AT (AT >= parsed, AT + N <= end). */
void xbuf_cut(XpBuf *b, gsize at, gsize n)
{
	g_assert(at >= b->parsed && at + n <= b->end);
	memmove(b->data + at, b->data + at + n, b->end - at - n);
	b->end -= n;
}
