/*
 * reaper.h: the session daemon's view of its process tree.
 *
 * The daemon is a child subreaper: every process of the session that loses
 * its parent is re-parented to it, so "the daemon has no children left"
 * means "the session has no processes left".  This module turns SIGCHLD into
 * a readable fd for the main loop, and finds and signals all descendants.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Installs the SIGCHLD handler.  Returns the read end of a non-blocking
 * pipe that becomes readable after each SIGCHLD (the caller watches it and
 * calls reaper_ack(), then reaps with waitpid), or -1 with ERROR set.  Call
 * once per process. */
int reaper_init(GError **error);

/* Empties the SIGCHLD pipe FD. */
void reaper_ack(int fd);

/* Returns the pids of every live descendant of ROOT, parents before their
 * children (caller frees the GArray of pid_t). */
GArray *reaper_descendants(pid_t root);

/* Whether process PID exists and has not exited (a zombie has). */
gboolean reaper_alive(pid_t pid);

/* Sends SIG to every descendant of ROOT.  Returns how many were signalled. */
guint reaper_signal_descendants(pid_t root, int sig);
