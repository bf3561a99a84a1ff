/*
 * ptysupport.h: the pty manager and terminal model of a terminal session
 * (issue 5).  The one public header of ptysupport/.
 *
 * A PtyTerm is a pty pair's master, kept by the session daemon (inside the
 * checkpointed tree), plus a model of the terminal the app believes it draws
 * on: a libvterm VTerm of the pty's size, fed with everything the app writes.
 * The model is what lets a terminal that attaches later (or after a restart)
 * be brought to the app's state without the app's help:
 *
 *   daemon                                   app
 *   ptyterm_open() ------ master | slave --- ptyterm_child_setup() (0, 1, 2)
 *   read(master) -> ptyterm_output() -> OUTPUT to the attached client
 *   INPUT from the client -> write(master)
 *   ATTACH rows cols -> ptyterm_attach() -> REDRAW bytes to the client
 *   RESIZE rows cols -> ptyterm_resize()
 *
 * What the model keeps (and ptyterm_redraw() puts back on a real terminal):
 *   - the cells of the current screen: characters (with combining marks and
 *     double width), bold, underline (single/double/curly), italic, blink,
 *     reverse, strike-through, fg and bg colours (default, 16, 256, RGB);
 *   - the cursor position, its visibility, its shape and blink (DECSCUSR);
 *   - the alternate screen (1049): whether it is on, and the primary screen
 *     under it: libvterm lets one read the current screen's cells only, so
 *     the model copies the primary screen's cells and cursor at the moment
 *     the app switches (ptyterm.c); the redraw draws them, then switches
 *     with 1049 (which saves that cursor), so that the real terminal shows
 *     the primary screen again when the app leaves the alternate one.  A
 *     resize while on the alternate screen keeps what of the copy fits;
 *   - the scroll region (DECSTBM) and left/right margins (DECSLRM with mode
 *     69), origin mode (DECOM, 6), autowrap (DECAWM, 7), cursor keys
 *     (DECCKM, 1), keypad (DECKPAM/DECKPNM), reverse video (DECSCNM, 5);
 *   - mouse tracking (1000, 1002, 1003) and its encoding (1005, 1006, 1015),
 *     focus events (1004), bracketed paste (2004);
 *   - the window title and icon name (OSC 2, OSC 1; OSC 0 sets both);
 *   - the current pen (SGR) for the app's next output.
 * What it does not keep: the scrollback, a pending wrap at the right
 * margin (the cursor is put back on the last column), the DECSC saved
 * cursor, insert mode (IRM), double-width and double-height lines, tab stops
 * other than every 8 columns, the character sets in use (cells hold the
 * characters already translated, e.g. DEC line drawing as Unicode box
 * drawing, so a UTF-8 terminal shows them right), colour palette changes
 * (OSC 4).  The real terminal is assumed to be UTF-8 and xterm-compatible
 * (xterm, tmux, VTE, screen...).
 *
 * Checkpoint: the pty's termios, window size and packet mode are dumped and
 * restored by CRIU with the daemon that holds the master, and the model
 * lives in the daemon's memory, so a restart brings both back: there is
 * nothing to serialize.
 *
 * Threads: none; a PtyTerm belongs to one thread.  ptyterm_kick() uses a
 * timeout on the thread-default GLib main context.
 */
#pragma once

#include <glib.h>
#include <vterm.h>

/* A pty master and the model of its terminal (opaque). */
typedef struct PtyTerm PtyTerm;

/* Errors of this subsystem (codes: PtyError). */
#define PTY_ERROR_DOMAIN (ptyterm_error_quark())
GQuark ptyterm_error_quark(void);

/* What went wrong. */
typedef enum {
	PTY_ERROR_OPEN,		/* no pty could be opened */
	PTY_ERROR_NOT_TTY,	/* a file descriptor is not a terminal */
} PtyError;

/* How long ptyterm_kick() keeps the interim size at most, in ms. */
#define PTYTERM_KICK_MS 150

/* How long ptyterm_kick() waits, once the app has written something after
 * the interim size, for it to go quiet before setting the real size, in ms. */
#define PTYTERM_KICK_QUIET_MS 30

/* Opens a pty pair of ROWS x COLS (both > 0) with a model of that size.  The
 * master is kept (non-blocking, close-on-exec); the slave is not opened
 * here: the child opens it by name (ptyterm_slave_name(),
 * ptyterm_child_setup()).  Returns the new PtyTerm (caller frees with
 * ptyterm_free()) or NULL with ERROR set (PTY_ERROR_OPEN). */
PtyTerm *ptyterm_open(guint rows, guint cols, GError **error);

/* Makes a PtyTerm with a model only, no pty (ptyterm_master() is -1;
 * resizing changes the model only).  For tests and for replaying a
 * recorded stream.  Caller frees. */
PtyTerm *ptyterm_new_model(guint rows, guint cols);

/* Frees TERM: closes the master, drops the model and a pending kick.  NULL
 * is fine. */
void ptyterm_free(PtyTerm *term);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PtyTerm, ptyterm_free)

/* The master fd (owned by TERM: do not close it), or -1 for a model-only
 * PtyTerm.  The daemon watches it for reading (G_IO_IN; G_IO_HUP or EIO on
 * read means that every slave is closed) and writes INPUT to it. */
int ptyterm_master(PtyTerm *term);

/* The slave's path, e.g. "/dev/pts/3" (owned by TERM), or NULL for a
 * model-only PtyTerm.  Take it before forking: it is what the child passes
 * to ptyterm_child_setup(). */
const char *ptyterm_slave_name(PtyTerm *term);

/* In the child, between fork and exec: sets every signal to its default
 * disposition and unblocks them all (an ignored SIGPIPE or a blocked mask
 * of the parent would survive the exec), starts a new session (setsid),
 * opens SLAVE, makes it the controlling terminal (TIOCSCTTY) and stdin,
 * stdout and stderr, and closes the extra fd.  Async-signal-safe (system
 * calls only).  Returns FALSE with errno set when a step fails.  The child is then
 * a session and process group leader: the parent must not setpgid() it. */
gboolean ptyterm_child_setup(const char *slave);

/* A GSpawnChildSetupFunc: ptyterm_child_setup(SLAVE_NAME) (a const char *
 * that outlives the spawn, e.g. ptyterm_slave_name()), and _exit(127) when
 * it fails (GSpawn then reports that the child exited at once). */
void ptyterm_spawn_setup(gpointer slave_name);

/* Feeds LEN bytes of DATA that the app wrote (read from the master) into the
 * model.  DATA is the caller's.  An escape sequence or UTF-8 character cut
 * at the end of DATA is held back until the next call completes it, so that
 * the model's parser is always between sequences (up to a bound of 64 KiB
 * for a sequence that never ends). */
void ptyterm_output(PtyTerm *term, const guint8 *data, gsize len);

/* The bytes that bring a real terminal of the model's size from any state to
 * the model's state, in this order:
 *   1. RIS (ESC c), then leave the alternate screen and clear: RIS resets
 *      what the model does not know about (tab stops, character sets,
 *      palette, saved cursor, keyboard extensions of the terminal); every
 *      mode below is then set explicitly both ways, so the result does not
 *      depend on a terminal's defaults after RIS;
 *   2. when the app is on the alternate screen: the primary screen as it
 *      was when the app switched, its cursor, then 1049 h;
 *   3. every non-blank cell, row by row (CUP, SGR, UTF-8 text);
 *   4. the scroll region, margins, origin mode, autowrap, cursor keys,
 *      keypad, reverse video, mouse modes, focus events, bracketed paste,
 *      cursor shape and visibility, title and icon name;
 *   5. the cursor position (relative to the scroll region in origin mode)
 *      and the current pen (SGR);
 *   6. the bytes held back by ptyterm_output() (a sequence cut at the end
 *      of the last read): the daemon has already passed them on to the
 *      previous client, and the new one needs them to make sense of the
 *      output that follows.
 * Returns new bytes (caller unrefs).  Does not change the model.  Size: a
 * few bytes per plain cell, up to about 80 for a cell whose attributes and
 * RGB colours differ from its neighbour's, so a big colourful screen can
 * exceed CONTROL_MAX_BODY: send it as several REDRAW messages. */
GBytes *ptyterm_redraw(PtyTerm *term);

/* Sets the window size of the pty (TIOCSWINSZ on the master: the kernel
 * sends SIGWINCH to the foreground process group when it changed) and of
 * the model to ROWS x COLS (both > 0; 0 is taken as 1).  When the pty's
 * size was set less than PTYTERM_KICK_MS ago (or a kick is under way) this
 * is a ptyterm_kick() instead: an app that reads its size late could
 * otherwise miss the change in between (30x100, then 24x80, then 30x100
 * again looks like no change to GNU screen) and never redraw. */
void ptyterm_resize(PtyTerm *term, guint rows, guint cols);

/* Makes the app see a real size change to ROWS x COLS even when the size is
 * already ROWS x COLS (GNU screen, for one, ignores a SIGWINCH whose size is
 * unchanged): sets the pty to an interim size, one row fewer (one more for a
 * one-row terminal), then to ROWS x COLS.  Two ioctls back to back would let
 * the app read the final size for both signals, so the second waits: until
 * the app has written something after the interim size and then been quiet
 * for PTYTERM_KICK_QUIET_MS, or PTYTERM_KICK_MS at most (a program that
 * redraws nothing on SIGWINCH, like a shell at its prompt).  The model stays
 * at ROWS x COLS throughout: it mirrors the real terminal, which has that
 * size; whatever the app draws for the interim size is drawn over by its
 * redraw for the real one.  Needs a running GLib main loop (thread-default
 * context).  Works for any program; a model-only PtyTerm just resizes. */
void ptyterm_kick(PtyTerm *term, guint rows, guint cols);

/* Whether a kick is under way (its second step not yet done). */
gboolean ptyterm_kicking(PtyTerm *term);

/* What the daemon does on ATTACH {ROWS, COLS}: when the size differs from
 * the model's, ptyterm_resize() first (the model is resized the way libvterm
 * does it, the app redraws on SIGWINCH), else ptyterm_kick(); then returns
 * ptyterm_redraw() of the model at the new size (caller unrefs).  The
 * redraw must reach the client before any output read after this call.
 * The one exception: the first attach of an app that started at this very
 * size and was never restored gets no kick.  There is nothing to repair
 * (the app drew for this size, the model holds all of it), and a kick then
 * lands while the app is still starting up: htop, for one, reads the
 * interim size during its set-up, misses the second SIGWINCH, and leaves
 * its function-key bar off the screen. */
GBytes *ptyterm_attach(PtyTerm *term, guint rows, guint cols);

/* Says that TERM's app was restored from a checkpoint: its next attach
 * kicks even at an unchanged size (screen ignores a SIGWINCH whose size is
 * unchanged, and a restarted app must redraw on its new terminal). */
void ptyterm_restored(PtyTerm *term);

/* The model's size. */
void ptyterm_get_size(PtyTerm *term, guint *rows, guint *cols);

/* The model's cursor position (0-based). */
void ptyterm_get_cursor(PtyTerm *term, guint *row, guint *col);

/* The text of row ROW of the model's current screen, trailing blanks
 * removed, as UTF-8 (caller frees); "" beyond the screen. */
char *ptyterm_get_row(PtyTerm *term, guint row);

/* The window title the app set, or NULL (owned by TERM). */
const char *ptyterm_get_title(PtyTerm *term);

/* Whether the model answers the app's terminal queries (device attributes,
 * cursor position report...) by writing to the master.  Off by default:
 * while a real terminal is attached it answers them itself.  The daemon
 * turns it on while no client is attached, so that an app that waits for
 * an answer does not hang. */
void ptyterm_set_answer(PtyTerm *term, gboolean answer);

/* Whether colours A and B look the same on a terminal: both the default
 * (of the same kind), the same palette index, or the same RGB. */
gboolean ptyterm_color_equal(const VTermColor *a, const VTermColor *b);

/* The model itself (owned by TERM), for tests and inspection: read it with
 * libvterm's screen and state functions, never write to it. */
struct VTerm *ptyterm_vterm(PtyTerm *term);

/* A one-line summary of the pty and the model for logs and `xckpt inspect`,
 * e.g. "pty /dev/pts/3 24x80 echo icanon isig; alt scroll=1-23 ckm mouse=1002
 * sgr paste cursor=hidden title='vim'" (caller frees). */
char *ptyterm_describe(PtyTerm *term);
