/*
 * xwindows.h: the windows of a checkpoint, as `xckpt inspect` shows them.
 *
 * At checkpoint time, `xckpt checkpoint` asks the X server itself which of
 * its clients belong to the session (X-Resource: the clients whose process
 * is the session daemon, i.e. the proxy's server connections), lists their
 * top-level windows (mapped children of the root that those clients
 * created), and saves a PNG thumbnail of each into the checkpoint
 * directory.  The list goes into the checkpoint's metadata, one group per
 * window:
 *
 *   [window 1]
 *   title=notes.txt - gedit
 *   geometry=910x756+0+0
 *   connection=1          the proxy connection (1-based, in server order)
 *   thumbnail=window-1.png
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* The longest side of a thumbnail, in pixels. */
#define XWINDOWS_THUMB_MAX 320

/* Lists the top-level windows that the X clients of process PID have on
 * DISPLAY, writes a thumbnail of each into DIR (window-N.png, 0600) and a
 * [window N] group into KF.  Returns how many windows it found, or -1 with
 * a one-line ERROR (no such display, no X-Resource...). */
int xwindows_snapshot(const char *display, pid_t pid, const char *dir,
		      GKeyFile *kf, GError **error);
