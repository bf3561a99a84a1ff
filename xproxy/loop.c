/*
 * loop.c: the proxy's event loop (see loop.h).
 *
 * Registrations.  A watch remembers the events the epoll set holds for its
 * fd, so loop_watch_set() makes an epoll_ctl() call only on a change; in
 * the steady state of X traffic (both sockets watched for input) a round
 * trip costs one epoll_wait() per wake-up and nothing else.  Events 0 take
 * the fd out of the set, so that a connection the checkpoint has parked
 * (paused client, no answer in flight) has nothing in it that could fire.
 *
 * Freeing during dispatch.  An epoll_wait() batch may hold an event for a
 * watch that an earlier callback of the same batch (or a nested
 * loop_iterate()) freed; freed watches are only marked dead and kept on a
 * list until the outermost iteration is over.
 *
 * Cross-thread calls.  loop_call() from another thread queues a call record
 * on the caller's stack, writes the loop's eventfd and waits on a
 * condition until the loop thread has run it.  The proxy's public functions
 * (quiesce, reconnect, ...) go through it, so the daemon's main thread and
 * the proxy thread never touch the proxy's state at the same time.
 *
 * Checkpoints.  CRIU dumps and restores the thread where it is (normally in
 * epoll_wait(), which it restarts or ends with EINTR, both handled) and the
 * epoll set with its registrations.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xproxy/log.h"
#include "xproxy/loop.h"

/* Events taken from the kernel per epoll_wait(). */
#define LOOP_BATCH 64

struct XpWatch {
	XpLoop *loop;		/* the loop (not owned) */
	int fd;			/* the watched fd (not owned) */
	guint32 events;		/* what the caller wants */
	gboolean in_set;	/* the fd is in the epoll set with EVENTS */
	gboolean removed;	/* loop_watch_remove(): kept out of the set */
	gboolean dead;		/* freed; memory kept until the outermost
				 * iteration ends */
	LoopFdFn fn;		/* the callback */
	gpointer ud;		/* its data */
};

struct XpTimer {
	XpLoop *loop;		/* the loop (not owned) */
	gint64 due;		/* monotonic time (us) it fires at */
	LoopFn fn;		/* the callback */
	gpointer ud;		/* its data */
};

/* One loop_call() from another thread, on the caller's stack. */
typedef struct {
	LoopFn fn;		/* what to run */
	gpointer ud;		/* its data */
	gboolean done;		/* it has run (under the loop's lock) */
} LoopCall;

struct XpLoop {
	int epfd;		/* the epoll set (owned) */
	int evfd;		/* eventfd that wakes the loop for calls
				 * (owned) */
	XpWatch *evwatch;	/* its watch (owned) */
	GThread *thread;	/* the loop's thread, NULL before
				 * loop_start() */
	gboolean quit;		/* the thread must end (set on the thread) */
	guint depth;		/* loop_iterate() calls under way */
	GPtrArray *dead;	/* watches freed during dispatch (owned) */
	GPtrArray *timers;	/* pending timers (XpTimer *, owned) */
	GMutex lock;		/* guards calls and LoopCall.done */
	GCond cond;		/* signalled when a call has run */
	GQueue calls;		/* LoopCall * waiting to run (not owned) */
};

/* Puts W's registration in line with what it wants: added, changed or
 * taken out of the set.  Errors are logged: a watch the kernel refuses
 * cannot be served, which the connection then notices by never being
 * called. */
static void loop_watch_sync(XpWatch *w)
{
	gboolean want = w->events && !w->removed && !w->dead;
	struct epoll_event ev = { .events = w->events, .data.ptr = w };
	int op;

	if (want && w->in_set)
		op = EPOLL_CTL_MOD;
	else if (want)
		op = EPOLL_CTL_ADD;
	else if (w->in_set)
		op = EPOLL_CTL_DEL;
	else
		return;
	if (epoll_ctl(w->loop->epfd, op, w->fd, &ev) < 0 &&
	    !(op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)))
		log_msg("epoll_ctl(%d, fd %d): %s", op, w->fd,
			g_strerror(errno));
	w->in_set = want;
}

/* Watches FD; see loop.h. */
XpWatch *loop_watch_new(XpLoop *loop, int fd, guint32 events, LoopFdFn fn,
			gpointer ud)
{
	XpWatch *w = g_new0(XpWatch, 1);

	w->loop = loop;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->ud = ud;
	loop_watch_sync(w);
	return w;
}

/* Changes W's events; a system call only on a change. */
void loop_watch_set(XpWatch *w, guint32 events)
{
	if (events == w->events)
		return;
	w->events = events;
	loop_watch_sync(w);
}

/* Takes W's fd out of the set (see loop.h). */
void loop_watch_remove(XpWatch *w)
{
	w->removed = TRUE;
	loop_watch_sync(w);
}

/* Puts W's fd back into the set (see loop.h). */
void loop_watch_add(XpWatch *w)
{
	w->removed = FALSE;
	w->in_set = FALSE;	/* the fd may be another file by now */
	loop_watch_sync(w);
}

/* Stops watching W; its memory goes once no iteration can still see it. */
void loop_watch_free(XpWatch *w)
{
	if (!w)
		return;
	w->dead = TRUE;
	loop_watch_sync(w);
	if (w->loop->depth)
		g_ptr_array_add(w->loop->dead, w);
	else
		g_free(w);
}

/* A one-shot timer; see loop.h. */
XpTimer *loop_timer_new(XpLoop *loop, int ms, LoopFn fn, gpointer ud)
{
	XpTimer *t = g_new0(XpTimer, 1);

	t->loop = loop;
	t->due = g_get_monotonic_time() + (gint64)ms * 1000;
	t->fn = fn;
	t->ud = ud;
	g_ptr_array_add(loop->timers, t);
	return t;
}

/* Cancels timer T. */
void loop_timer_free(XpTimer *t)
{
	if (t)
		g_ptr_array_remove_fast(t->loop->timers, t);	/* frees it */
}

/* The epoll_wait() timeout for TIMEOUT_MS given the pending timers. */
static int loop_timeout(XpLoop *loop, int timeout_ms)
{
	gint64 now;

	if (!loop->timers->len || timeout_ms == 0)
		return timeout_ms;
	now = g_get_monotonic_time();
	for (guint i = 0; i < loop->timers->len; i++) {
		XpTimer *t = loop->timers->pdata[i];
		gint64 ms = t->due <= now ? 0 : (t->due - now + 999) / 1000;
		if (timeout_ms < 0 || ms < timeout_ms)
			timeout_ms = (int)MIN(ms, G_MAXINT);
	}
	return timeout_ms;
}

/* Runs the timers that are due (one at a time: a callback may add or
 * cancel timers); no clock read when there is none, the usual case.
 * Returns whether one ran. */
static gboolean loop_run_timers(XpLoop *loop)
{
	gboolean ran = FALSE;

	while (loop->timers->len) {
		gint64 now = g_get_monotonic_time();
		XpTimer *t = NULL;

		for (guint i = 0; i < loop->timers->len && !t; i++)
			if (((XpTimer *)loop->timers->pdata[i])->due <= now)
				t = g_ptr_array_steal_index_fast(loop->timers,
								 i);
		if (!t)
			break;
		t->fn(t->ud);
		g_free(t);
		ran = TRUE;
	}
	return ran;
}

/* One round of epoll_wait() and dispatch; see loop.h. */
gboolean loop_iterate(XpLoop *loop, int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	gboolean ran;
	int n;

	loop->depth++;
	n = epoll_wait(loop->epfd, evs, LOOP_BATCH,
		       loop_timeout(loop, timeout_ms));
	if (n < 0 && errno != EINTR)
		log_msg("epoll_wait: %s", g_strerror(errno));
	for (int i = 0; i < n; i++) {
		XpWatch *w = evs[i].data.ptr;
		if (!w->dead)
			w->fn(w->ud, evs[i].events);
	}
	ran = loop_run_timers(loop) || n > 0;
	if (--loop->depth == 0 && loop->dead->len)
		g_ptr_array_set_size(loop->dead, 0);	/* frees them */
	return ran;
}

/* The eventfd's callback: runs the calls other threads queued. */
static void loop_on_calls(gpointer ud, guint32 revents)
{
	XpLoop *loop = ud;
	guint64 v;

	if (read(loop->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_msg("eventfd: %s", g_strerror(errno));
	for (;;) {
		LoopCall *c;

		g_mutex_lock(&loop->lock);
		c = g_queue_pop_head(&loop->calls);
		g_mutex_unlock(&loop->lock);
		if (!c)
			return;
		c->fn(c->ud);
		g_mutex_lock(&loop->lock);
		c->done = TRUE;
		g_cond_broadcast(&loop->cond);
		g_mutex_unlock(&loop->lock);
	}
}

/* A new loop; see loop.h. */
XpLoop *loop_new(GError **error)
{
	XpLoop *loop = g_new0(XpLoop, 1);

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->evfd < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot make the proxy's event loop: %s",
			    g_strerror(errno));
		if (loop->epfd >= 0)
			close(loop->epfd);
		if (loop->evfd >= 0)
			close(loop->evfd);
		g_free(loop);
		return NULL;
	}
	loop->dead = g_ptr_array_new_with_free_func(g_free);
	loop->timers = g_ptr_array_new_with_free_func(g_free);
	g_mutex_init(&loop->lock);
	g_cond_init(&loop->cond);
	g_queue_init(&loop->calls);
	loop->evwatch = loop_watch_new(loop, loop->evfd, LOOP_IN,
				       loop_on_calls, loop);
	return loop;
}

/* The loop thread's body: serves the loop until told to quit. */
static gpointer loop_thread(gpointer ud)
{
	XpLoop *loop = ud;

	while (!loop->quit)
		loop_iterate(loop, -1);
	return NULL;
}

/* Starts the loop's thread with every signal blocked; see loop.h. */
gboolean loop_start(XpLoop *loop, const char *name, GError **error)
{
	sigset_t all, old;

	/* The new thread inherits the mask in force when it is made. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	loop->thread = g_thread_try_new(name, loop_thread, loop, error);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return loop->thread != NULL;
}

/* Whether the calling thread serves LOOP. */
gboolean loop_is_current(XpLoop *loop)
{
	return !loop->thread || g_thread_self() == loop->thread;
}

/* Runs FN on the loop's thread and waits; see loop.h. */
void loop_call(XpLoop *loop, LoopFn fn, gpointer ud)
{
	LoopCall c = { fn, ud, FALSE };
	guint64 one = 1;

	if (loop_is_current(loop)) {
		fn(ud);
		return;
	}
	g_mutex_lock(&loop->lock);
	g_queue_push_tail(&loop->calls, &c);
	g_mutex_unlock(&loop->lock);
	while (write(loop->evfd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	g_mutex_lock(&loop->lock);
	while (!c.done)
		g_cond_wait(&loop->cond, &loop->lock);
	g_mutex_unlock(&loop->lock);
}

/* Tells the loop thread to end (runs on it). */
static void loop_set_quit(gpointer ud)
{
	((XpLoop *)ud)->quit = TRUE;
}

/* Stops the thread and frees LOOP; see loop.h. */
void loop_free(XpLoop *loop)
{
	if (!loop)
		return;
	if (loop->thread) {
		loop_call(loop, loop_set_quit, loop);
		g_thread_join(loop->thread);
		loop->thread = NULL;
	}
	loop_watch_free(loop->evwatch);
	g_ptr_array_free(loop->dead, TRUE);
	g_ptr_array_free(loop->timers, TRUE);
	close(loop->evfd);
	close(loop->epfd);
	g_mutex_clear(&loop->lock);
	g_cond_clear(&loop->cond);
	g_free(loop);
}
