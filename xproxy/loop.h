/*
 * loop.h: the proxy's event loop, one epoll set served by a thread of its
 * own.
 *
 * Why not the GLib main loop of the session daemon: every X round trip
 * wakes the loop twice, and a poll(2) of the daemon's dozen fds (control
 * socket, pty, output pipes, SIGCHLD...) costs a wait-queue entry and a
 * poll call per fd per wake-up, a few microseconds per round trip on a VM,
 * which the copy-only relay of the benchmark does not pay.  An epoll set
 * keeps its registrations: a wake-up costs the same for 3 fds or 300, and
 * changing what an fd is watched for is a system call only when it really
 * changes.
 *
 * Measured (x11perf -pointer, 2-CPU VM): the proxy on this loop makes the
 * system calls the benchmark's copy-only relay makes per round trip (one
 * wait, one read, one send each way), and its own code is ~2% of its time;
 * the rest is the kernel's wake-ups and context switches.  So the rate is
 * decided by where the scheduler puts the client, the proxy and the X
 * server: each wake-up of a task on the other, idle, vCPU costs an
 * inter-processor interrupt.  A proxy started right before its client
 * (as `xckpt run` does) was kept on the other vCPU for a whole run (~2.2
 * IPIs per round trip, half the rate); a session's scheduling group
 * (autogroup) changes the placement too.  See bench/README.md, "Same
 * conditions for every mode".
 *
 * A loop is served either by loop_iterate() from the caller (the unit
 * tests) or by its own thread after loop_start().  Everything a loop
 * dispatches runs on that one thread; other threads reach it only through
 * loop_call(), which runs a function there and waits for it, so the
 * proxy's state is never touched by two threads.
 */
#pragma once

#include <glib.h>
#include <sys/epoll.h>

/* What an fd is watched for and what happened to it: the epoll bits
 * (EPOLLIN, EPOLLOUT; EPOLLHUP and EPOLLERR are reported whenever the fd is
 * in the set). */
#define LOOP_IN EPOLLIN
#define LOOP_OUT EPOLLOUT
#define LOOP_HUP EPOLLHUP
#define LOOP_ERR EPOLLERR

/* A loop (opaque). */
typedef struct XpLoop XpLoop;

/* One watched fd (opaque). */
typedef struct XpWatch XpWatch;

/* One timer (opaque). */
typedef struct XpTimer XpTimer;

/* Called on the loop's thread when the watched fd is ready; REVENTS holds
 * the LOOP_* bits that happened. */
typedef void (*LoopFdFn)(gpointer ud, guint32 revents);

/* A function run on the loop's thread (a timer, loop_call()). */
typedef void (*LoopFn)(gpointer ud);

/* A new loop with no thread yet.  Returns it (free with loop_free()), or
 * NULL with ERROR when the kernel refuses an epoll set or an eventfd. */
XpLoop *loop_new(GError **error);

/* Stops the loop's thread (if started: it finishes what it dispatches,
 * then exits) and frees LOOP.  Watches and timers must be freed first.
 * Not from the loop's own thread. */
void loop_free(XpLoop *loop);

/* Starts the loop's thread, named NAME, with every signal blocked (the
 * process's signals stay with its other threads).  Returns FALSE with
 * ERROR when no thread can be made. */
gboolean loop_start(XpLoop *loop, const char *name, GError **error);

/* Whether the calling thread is the one serving LOOP (always TRUE before
 * loop_start()). */
gboolean loop_is_current(XpLoop *loop);

/* Runs FN(UD) on LOOP's thread and returns when it has run.  Runs it at
 * once when called from that thread or before loop_start().  FN may run
 * loop_iterate() itself (a nested loop, as the checkpoint quiesce does). */
void loop_call(XpLoop *loop, LoopFn fn, gpointer ud);

/* Waits at most TIMEOUT_MS (-1: no limit, 0: not at all) for something to
 * happen and dispatches it: ready fds, then due timers.  Returns whether
 * anything was dispatched.  Only on the loop's thread; may nest. */
gboolean loop_iterate(XpLoop *loop, int timeout_ms);

/* Watches FD for EVENTS (LOOP_IN | LOOP_OUT; 0: not in the set at all, so
 * not even a hang-up is reported) and calls FN(UD, revents) when it is
 * ready.  Returns the watch (owned by the caller: loop_watch_free()). */
XpWatch *loop_watch_new(XpLoop *loop, int fd, guint32 events, LoopFdFn fn,
			gpointer ud);

/* Changes what W's fd is watched for; a system call only when EVENTS
 * differs from before. */
void loop_watch_set(XpWatch *w, guint32 events);

/* Takes W's fd out of the epoll set (its events are kept: loop_watch_add()
 * puts it back), e.g. before the fd number is given another socket with
 * dup2(), which would otherwise leave the old socket's registration behind
 * under the same number. */
void loop_watch_remove(XpWatch *w);

/* Puts W's fd back into the set after loop_watch_remove(), as it now is. */
void loop_watch_add(XpWatch *w);

/* Stops watching and frees W (NULL is fine).  Safe from W's own callback
 * and from any other callback of the same iteration: W's memory lives on
 * until the outermost loop_iterate() is done. */
void loop_watch_free(XpWatch *w);

/* Calls FN(UD) once, on the loop's thread, MS milliseconds from now.
 * Returns the timer (owned by the caller until it fires: it is freed after
 * FN returns, or by loop_timer_free() before). */
XpTimer *loop_timer_new(XpLoop *loop, int ms, LoopFn fn, gpointer ud);

/* Cancels and frees timer T before it fired (NULL is fine). */
void loop_timer_free(XpTimer *t);
