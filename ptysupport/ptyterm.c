/*
 * ptyterm.c: a pty master and the libvterm model of its terminal (see
 * ptysupport.h).
 *
 * The modes that libvterm keeps private (scroll region, margins, DEC modes,
 * keypad) are asked of the model the way a program would ask a terminal:
 * DECRQSS and DECRQM queries fed into it, whose answers are caught from its
 * output callback; the keypad mode, which has no query, shows in what the
 * model would send for the keypad's 0 key.  For the queries to be safe the
 * model's parser must sit between two sequences: ptyterm_output() holds back
 * a sequence cut at the end of a read until its end arrives.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <vterm.h>

#include "ptysupport/ptysupport.h"

G_DEFINE_QUARK(xckpt-pty-error-quark, ptyterm_error)

/* The longest unfinished sequence held back before it is fed anyway. */
#define PTYTERM_HOLD_MAX 65536

/* A pty master and its model. */
struct PtyTerm {
	int master;		/* the pty master (owned), or -1 (model only) */
	char *slave;		/* the slave's path (owned), or NULL */
	VTerm *vt;		/* the model (owned) */
	VTermScreen *screen;	/* its screen layer (owned by vt) */
	VTermState *state;	/* its state layer (owned by vt) */
	guint rows;		/* the model's rows */
	guint cols;		/* the model's columns */
	GByteArray *held;	/* the unfinished end of the app's output, not
				 * yet fed to the model (owned) */
	GByteArray *reply;	/* the model's answers while we query it, or
				 * NULL (owned) */
	gboolean answer;	/* write the model's answers to the master */
	gboolean ready;		/* set up: later property changes are the
				 * app's */
	char *title;		/* the window title (OSC 2), or NULL (owned) */
	char *icon;		/* the icon name (OSC 1), or NULL (owned) */
	gboolean cursor_blink;	/* the cursor blinks (12, DECSCUSR) */
	int cursor_shape;	/* VTERM_PROP_CURSORSHAPE_* */
	gboolean shape_set;	/* the app set the cursor's shape or blink */
	GSource *kick;		/* the kick's pending second step, or NULL
				 * (owned reference) */
	gint64 kick_deadline;	/* when the second step happens at the
				 * latest (monotonic, us) */
	gboolean kick_output;	/* output came during the kick */
	gint64 changed;		/* when the pty's size was last set
				 * (monotonic, us) */
	gboolean shown;		/* the app's screen was shown (attached) or
				 * restored since it started: an attach at the
				 * same size kicks */
	VTermScreenCell *primary;	/* the primary screen's cells while
					 * the app is on the alternate one,
					 * read as it switched (owned), or
					 * NULL */
	guint primary_rows;	/* the size of primary */
	guint primary_cols;
	VTermPos primary_cursor;	/* the cursor as it switched */
	gboolean switching;	/* inside ptyterm_keep_primary() */
};

/* The model's answers: caught while querying, written to the master when
 * answering is on, dropped otherwise. */
static void ptyterm_on_vterm_output(const char *s, size_t len, void *user)
{
	PtyTerm *t = user;

	if (t->reply != NULL) {
		g_byte_array_append(t->reply, (const guint8 *)s, len);
		return;
	}
	if (t->answer && t->master >= 0) {
		/* Best effort: a full pty loses an answer, never blocks. */
		ssize_t n = write(t->master, s, len);
		(void)n;
	}
}

/* Copies STR without control characters (caller frees). */
static char *ptyterm_printable(const char *str)
{
	GString *s = g_string_new(NULL);

	for (const char *p = str; *p != '\0'; p++)
		if ((guchar)*p >= 0x20 && *p != 0x7f)
			g_string_append_c(s, *p);
	return g_string_free(s, FALSE);
}

/* The app switches to the alternate screen, whose buffer libvterm has
 * just made current: switches back to the primary one for a moment to keep
 * a copy of its cells (libvterm has no way to read a buffer that is not
 * current), then to the alternate one again.  Switching on erases the
 * alternate buffer, which libvterm is about to do anyway. */
static void ptyterm_keep_primary(PtyTerm *t)
{
	VTermValue v = { .boolean = 0 };
	VTermPos pos;

	t->switching = TRUE;
	vterm_state_set_termprop(t->state, VTERM_PROP_ALTSCREEN, &v);
	g_free(t->primary);
	t->primary = g_new0(VTermScreenCell, t->rows * t->cols);
	t->primary_rows = t->rows;
	t->primary_cols = t->cols;
	for (pos.row = 0; pos.row < (int)t->rows; pos.row++)
		for (pos.col = 0; pos.col < (int)t->cols; pos.col++)
			vterm_screen_get_cell(t->screen, pos,
					      &t->primary[pos.row * t->cols +
							  pos.col]);
	vterm_state_get_cursorpos(t->state, &t->primary_cursor);
	v.boolean = 1;
	vterm_state_set_termprop(t->state, VTERM_PROP_ALTSCREEN, &v);
	t->switching = FALSE;
}

/* The screen layer's property changes: remembers what libvterm does not
 * let us read back.  Returns 1 (accepted: libvterm then switches to the
 * alternate screen when asked). */
static int ptyterm_on_prop(VTermProp prop, VTermValue *val, void *user)
{
	PtyTerm *t = user;

	switch (prop) {
	case VTERM_PROP_ALTSCREEN:
		if (t->switching || !t->ready)
			break;
		if (val->boolean)
			ptyterm_keep_primary(t);
		else
			g_clear_pointer(&t->primary, g_free);
		break;
	case VTERM_PROP_TITLE:
		g_free(t->title);
		t->title = ptyterm_printable(val->string);
		break;
	case VTERM_PROP_ICONNAME:
		g_free(t->icon);
		t->icon = ptyterm_printable(val->string);
		break;
	case VTERM_PROP_CURSORBLINK:
		t->cursor_blink = val->boolean;
		t->shape_set |= t->ready;
		break;
	case VTERM_PROP_CURSORSHAPE:
		t->cursor_shape = val->number;
		t->shape_set |= t->ready;
		break;
	default:
		break;
	}
	return 1;
}

/* The screen layer's callbacks. */
static const VTermScreenCallbacks ptyterm_screen_callbacks = {
	.settermprop = ptyterm_on_prop,
};

/* Makes a PtyTerm with a model of ROWS x COLS and no pty (caller frees). */
PtyTerm *ptyterm_new_model(guint rows, guint cols)
{
	PtyTerm *t = g_new0(PtyTerm, 1);

	t->master = -1;
	t->rows = MAX(rows, 1);
	t->cols = MAX(cols, 1);
	t->vt = vterm_new(t->rows, t->cols);
	vterm_set_utf8(t->vt, 1);
	vterm_output_set_callback(t->vt, ptyterm_on_vterm_output, t);
	t->state = vterm_obtain_state(t->vt);
	t->screen = vterm_obtain_screen(t->vt);
	vterm_screen_set_callbacks(t->screen, &ptyterm_screen_callbacks, t);
	vterm_screen_enable_altscreen(t->screen, 1);
	vterm_screen_reset(t->screen, 1);
	t->held = g_byte_array_new();
	t->ready = TRUE;
	return t;
}

/* Sets the window size of MASTER to ROWS x COLS. */
static void ptyterm_set_winsize(int master, guint rows, guint cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	if (master >= 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

/* Opens a pty pair and a model of ROWS x COLS; NULL with ERROR set. */
PtyTerm *ptyterm_open(guint rows, guint cols, GError **error)
{
	g_autoptr(PtyTerm) t = ptyterm_new_model(rows, cols);
	char name[128];
	int flags;

	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t->master < 0 || grantpt(t->master) < 0 ||
	    unlockpt(t->master) < 0 ||
	    ptsname_r(t->master, name, sizeof(name)) != 0) {
		g_set_error(error, PTY_ERROR_DOMAIN, PTY_ERROR_OPEN,
			    "cannot open a pty: %s", g_strerror(errno));
		return NULL;
	}
	flags = fcntl(t->master, F_GETFL);
	fcntl(t->master, F_SETFL, flags | O_NONBLOCK);
	t->slave = g_strdup(name);
	ptyterm_set_winsize(t->master, t->rows, t->cols);
	t->changed = 0;
	return g_steal_pointer(&t);
}

/* Removes TERM's pending kick, if any. */
static void ptyterm_kick_cancel(PtyTerm *t)
{
	if (t->kick == NULL)
		return;
	g_source_destroy(t->kick);
	g_source_unref(t->kick);
	t->kick = NULL;
}

/* Frees TERM and what it holds. */
void ptyterm_free(PtyTerm *term)
{
	if (term == NULL)
		return;
	ptyterm_kick_cancel(term);
	if (term->master >= 0)
		close(term->master);
	vterm_free(term->vt);
	g_byte_array_unref(term->held);
	g_free(term->slave);
	g_free(term->title);
	g_free(term->icon);
	g_free(term->primary);
	g_free(term);
}

/* The master fd (TERM's), or -1. */
int ptyterm_master(PtyTerm *term)
{
	return term->master;
}

/* The slave's path (TERM's), or NULL. */
const char *ptyterm_slave_name(PtyTerm *term)
{
	return term->slave;
}

/* In the child: default signals, new session, SLAVE as controlling
 * terminal and 0, 1, 2.  System calls only. */
gboolean ptyterm_child_setup(const char *slave)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int fd;

	/* An ignored signal stays ignored across exec (the daemon ignores
	 * SIGPIPE), and so does the mask: a program on a terminal expects
	 * the defaults, as from a shell. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() < 0)
		return FALSE;
	fd = open(slave, O_RDWR);
	if (fd < 0)
		return FALSE;
	if (ioctl(fd, TIOCSCTTY, 0) < 0)
		goto fail;
	for (int i = 0; i < 3; i++)
		if (fd != i && dup2(fd, i) < 0)
			goto fail;
	if (fd > 2)
		close(fd);
	return TRUE;
fail:
	if (fd > 2) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return FALSE;
}

/* GSpawnChildSetupFunc around ptyterm_child_setup(). */
void ptyterm_spawn_setup(gpointer slave_name)
{
	if (!ptyterm_child_setup(slave_name))
		_exit(127);
}

/* Where a parser of the app's output stands, for ptyterm_complete(). */
typedef enum {
	PTYTERM_SCAN_GROUND,	/* between sequences */
	PTYTERM_SCAN_ESC,	/* after ESC */
	PTYTERM_SCAN_INTER,	/* after ESC and intermediate bytes */
	PTYTERM_SCAN_CSI,	/* in a control sequence */
	PTYTERM_SCAN_STR,	/* in a control string (OSC, DCS, APC...) */
	PTYTERM_SCAN_STR_ESC,	/* after ESC in a control string */
} PtyTermScan;

/* The length of the longest prefix of P (LEN bytes) that ends between two
 * escape sequences and two UTF-8 characters. */
static gsize ptyterm_complete(const guint8 *p, gsize len)
{
	PtyTermScan st = PTYTERM_SCAN_GROUND;
	gsize done = 0;
	int need = 0;		/* UTF-8 continuation bytes still to come */

	for (gsize i = 0; i < len; i++) {
		guint8 b = p[i];

		if (b == 0x18 || b == 0x1a) {	/* CAN, SUB: abort */
			st = PTYTERM_SCAN_GROUND;
			need = 0;
			done = i + 1;
			continue;
		}
		switch (st) {
		case PTYTERM_SCAN_GROUND:
			if (b == 0x1b) {
				st = PTYTERM_SCAN_ESC;
				need = 0;
				continue;
			}
			if (b >= 0xc0 && b < 0xf8)
				need = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1;
			else if ((b & 0xc0) == 0x80 && need > 0)
				need--;
			else
				need = 0;
			if (need == 0)
				done = i + 1;
			continue;
		case PTYTERM_SCAN_ESC:
			if (b == '[')
				st = PTYTERM_SCAN_CSI;
			else if (b == ']' || b == 'P' || b == '_' ||
				 b == '^' || b == 'X')
				st = PTYTERM_SCAN_STR;
			else if (b >= 0x20 && b <= 0x2f)
				st = PTYTERM_SCAN_INTER;
			else if (b >= 0x30 && b <= 0x7e)
				st = PTYTERM_SCAN_GROUND;
			break;
		case PTYTERM_SCAN_INTER:
			if (b == 0x1b)
				st = PTYTERM_SCAN_ESC;
			else if (b >= 0x30 && b <= 0x7e)
				st = PTYTERM_SCAN_GROUND;
			break;
		case PTYTERM_SCAN_CSI:
			if (b == 0x1b)
				st = PTYTERM_SCAN_ESC;
			else if (b >= 0x40 && b <= 0x7e)
				st = PTYTERM_SCAN_GROUND;
			break;
		case PTYTERM_SCAN_STR:
			if (b == 0x07)
				st = PTYTERM_SCAN_GROUND;
			else if (b == 0x1b)
				st = PTYTERM_SCAN_STR_ESC;
			break;
		case PTYTERM_SCAN_STR_ESC:
			if (b == '\\') {
				st = PTYTERM_SCAN_GROUND;
			} else {
				/* ESC ends the string and starts a sequence. */
				st = PTYTERM_SCAN_ESC;
				i--;
				continue;
			}
			break;
		}
		if (st == PTYTERM_SCAN_GROUND)
			done = i + 1;
	}
	return done;
}

/* Arms the kick's second step to run in MS ms. */
static void ptyterm_kick_arm(PtyTerm *t, guint ms);

/* Feeds the app's output DATA (LEN bytes) into the model. */
void ptyterm_output(PtyTerm *term, const guint8 *data, gsize len)
{
	gboolean joined = term->held->len > 0;
	const guint8 *p = data;
	gsize n;

	if (joined) {
		g_byte_array_append(term->held, data, len);
		p = term->held->data;
		len = term->held->len;
	}
	n = ptyterm_complete(p, len);
	if (len - n > PTYTERM_HOLD_MAX)
		n = len;
	if (n > 0)
		vterm_input_write(term->vt, (const char *)p, n);
	if (joined)
		g_byte_array_remove_range(term->held, 0, n);
	else if (n < len)
		g_byte_array_append(term->held, p + n, len - n);
	if (term->kick != NULL && len > 0) {
		/* The app is drawing: go on once it has been quiet. */
		gint64 left = term->kick_deadline - g_get_monotonic_time();
		term->kick_output = TRUE;
		ptyterm_kick_arm(term, CLAMP(left / 1000, 0,
					     PTYTERM_KICK_QUIET_MS));
	}
}

/* Feeds QUERY into the model and returns its answer, NUL-terminated
 * (caller frees). */
static char *ptyterm_ask(PtyTerm *t, const char *query)
{
	t->reply = g_byte_array_new();
	vterm_input_write(t->vt, query, strlen(query));
	g_byte_array_append(t->reply, (const guint8 *)"", 1);
	return (char *)g_byte_array_free(g_steal_pointer(&t->reply), FALSE);
}

/* DEC private mode NUM of the model (DECRQM): 1 set, 2 reset, 0 unknown. */
static int ptyterm_dec_mode(PtyTerm *t, int num)
{
	g_autofree char *q = g_strdup_printf("\033[?%d$p", num);
	g_autofree char *a = ptyterm_ask(t, q);
	int n, v;

	if (sscanf(a, "\033[?%d;%d$y", &n, &v) != 2 || n != num)
		return 0;
	return v;
}

/* Whether DEC private mode NUM is set in the model. */
static gboolean ptyterm_dec_on(PtyTerm *t, int num)
{
	return ptyterm_dec_mode(t, num) == 1;
}

/* The two numbers of setting FINAL (DECRQSS: 'r' scroll region, 's' left
 * and right margins), 1-based; FALSE when the model does not answer. */
static gboolean ptyterm_setting(PtyTerm *t, char final, int *a, int *b)
{
	g_autofree char *q = g_strdup_printf("\033P$q%c\033\\", final);
	g_autofree char *ans = ptyterm_ask(t, q);
	char f;

	return sscanf(ans, "\033P1$r%d;%d%c", a, b, &f) == 3 && f == final;
}

/* Whether the keypad is in application mode (DECKPAM): the model then
 * sends SS3 p for the keypad's 0. */
static gboolean ptyterm_keypad_app(PtyTerm *t)
{
	g_autofree char *a = NULL;

	t->reply = g_byte_array_new();
	vterm_keyboard_key(t->vt, VTERM_KEY_KP_0, VTERM_MOD_NONE);
	g_byte_array_append(t->reply, (const guint8 *)"", 1);
	a = (char *)g_byte_array_free(g_steal_pointer(&t->reply), FALSE);
	return strcmp(a, "\033Op") == 0;
}

/* A cell's look: the SGR state that ptyterm_redraw() tracks. */
typedef struct {
	VTermScreenCellAttrs attrs;	/* bold, underline... (dwl, dhl
					 * zeroed) */
	VTermColor fg;			/* foreground colour */
	VTermColor bg;			/* background colour */
} PtyTermPen;

/* Whether colours A and B are the same for the terminal (see
 * ptysupport.h). */
gboolean ptyterm_color_equal(const VTermColor *a, const VTermColor *b)
{
	if ((a->type & VTERM_COLOR_DEFAULT_MASK) !=
	    (b->type & VTERM_COLOR_DEFAULT_MASK))
		return FALSE;
	if (a->type & VTERM_COLOR_DEFAULT_MASK)
		return TRUE;
	if (VTERM_COLOR_IS_INDEXED(a) != VTERM_COLOR_IS_INDEXED(b))
		return FALSE;
	if (VTERM_COLOR_IS_INDEXED(a))
		return a->indexed.idx == b->indexed.idx;
	return a->rgb.red == b->rgb.red && a->rgb.green == b->rgb.green &&
	       a->rgb.blue == b->rgb.blue;
}

/* Whether pens A and B look the same. */
static gboolean ptyterm_pen_equal(const PtyTermPen *a, const PtyTermPen *b)
{
	return a->attrs.bold == b->attrs.bold &&
	       a->attrs.underline == b->attrs.underline &&
	       a->attrs.italic == b->attrs.italic &&
	       a->attrs.blink == b->attrs.blink &&
	       a->attrs.reverse == b->attrs.reverse &&
	       a->attrs.strike == b->attrs.strike &&
	       a->attrs.font == b->attrs.font &&
	       ptyterm_color_equal(&a->fg, &b->fg) &&
	       ptyterm_color_equal(&a->bg, &b->bg);
}

/* Whether PEN is the terminal's default look. */
static gboolean ptyterm_pen_plain(const PtyTermPen *pen)
{
	PtyTermPen plain = { 0 };

	plain.fg.type = VTERM_COLOR_DEFAULT_FG;
	plain.bg.type = VTERM_COLOR_DEFAULT_BG;
	return ptyterm_pen_equal(pen, &plain);
}

/* Appends the SGR parameters of colour C to OUT; BASE is 30 (foreground)
 * or 40 (background). */
static void ptyterm_sgr_color(GString *out, const VTermColor *c, int base)
{
	if (c->type & VTERM_COLOR_DEFAULT_MASK)
		g_string_append_printf(out, ";%d", base + 9);
	else if (VTERM_COLOR_IS_INDEXED(c) && c->indexed.idx < 8)
		g_string_append_printf(out, ";%d", base + c->indexed.idx);
	else if (VTERM_COLOR_IS_INDEXED(c) && c->indexed.idx < 16)
		g_string_append_printf(out, ";%d", base + 60 +
				       c->indexed.idx - 8);
	else if (VTERM_COLOR_IS_INDEXED(c))
		g_string_append_printf(out, ";%d;5;%d", base + 8,
				       c->indexed.idx);
	else
		g_string_append_printf(out, ";%d;2;%d;%d;%d", base + 8,
				       c->rgb.red, c->rgb.green, c->rgb.blue);
}

/* Appends the SGR sequence that sets PEN from scratch to OUT. */
static void ptyterm_sgr(GString *out, const PtyTermPen *pen)
{
	const VTermScreenCellAttrs *a = &pen->attrs;

	g_string_append(out, "\033[0");
	if (a->bold)
		g_string_append(out, ";1");
	if (a->italic)
		g_string_append(out, ";3");
	if (a->underline == VTERM_UNDERLINE_SINGLE)
		g_string_append(out, ";4");
	else if (a->underline == VTERM_UNDERLINE_DOUBLE)
		g_string_append(out, ";4:2");
	else if (a->underline == VTERM_UNDERLINE_CURLY)
		g_string_append(out, ";4:3");
	if (a->blink)
		g_string_append(out, ";5");
	if (a->reverse)
		g_string_append(out, ";7");
	if (a->strike)
		g_string_append(out, ";9");
	if (a->font)
		g_string_append_printf(out, ";%d", 10 + a->font);
	if (!(pen->fg.type & VTERM_COLOR_DEFAULT_MASK))
		ptyterm_sgr_color(out, &pen->fg, 30);
	if (!(pen->bg.type & VTERM_COLOR_DEFAULT_MASK))
		ptyterm_sgr_color(out, &pen->bg, 40);
	g_string_append_c(out, 'm');
}

/* The look of CELL. */
static void ptyterm_cell_pen(const VTermScreenCell *cell, PtyTermPen *pen)
{
	memset(pen, 0, sizeof(*pen));
	pen->attrs = cell->attrs;
	pen->attrs.dwl = 0;
	pen->attrs.dhl = 0;
	pen->fg = cell->fg;
	pen->bg = cell->bg;
}

/* The model's current pen (what the app's next text is drawn with). */
static void ptyterm_state_pen(PtyTerm *t, PtyTermPen *pen)
{
	VTermValue v;

	memset(pen, 0, sizeof(*pen));
	vterm_state_get_penattr(t->state, VTERM_ATTR_BOLD, &v);
	pen->attrs.bold = !!v.boolean;
	vterm_state_get_penattr(t->state, VTERM_ATTR_UNDERLINE, &v);
	pen->attrs.underline = v.number;
	vterm_state_get_penattr(t->state, VTERM_ATTR_ITALIC, &v);
	pen->attrs.italic = !!v.boolean;
	vterm_state_get_penattr(t->state, VTERM_ATTR_BLINK, &v);
	pen->attrs.blink = !!v.boolean;
	vterm_state_get_penattr(t->state, VTERM_ATTR_REVERSE, &v);
	pen->attrs.reverse = !!v.boolean;
	vterm_state_get_penattr(t->state, VTERM_ATTR_STRIKE, &v);
	pen->attrs.strike = !!v.boolean;
	vterm_state_get_penattr(t->state, VTERM_ATTR_FONT, &v);
	pen->attrs.font = v.number;
	vterm_state_get_penattr(t->state, VTERM_ATTR_FOREGROUND, &v);
	pen->fg = v.color;
	vterm_state_get_penattr(t->state, VTERM_ATTR_BACKGROUND, &v);
	pen->bg = v.color;
}

/* Whether CELL is a blank in the default look (nothing to draw after a
 * clear). */
static gboolean ptyterm_cell_plain(const VTermScreenCell *cell)
{
	PtyTermPen pen;

	if (cell->chars[0] != 0 && cell->chars[0] != ' ')
		return FALSE;
	ptyterm_cell_pen(cell, &pen);
	return ptyterm_pen_plain(&pen);
}

/* Reads the cell at POS of T's screen into CELL as the app drew it: with
 * reverse video (DECSCNM) on, libvterm reports every cell's reverse
 * attribute flipped, which REVERSE undoes.  FALSE outside the screen. */
static gboolean ptyterm_get_cell(PtyTerm *t, VTermPos pos,
				 VTermScreenCell *cell, gboolean reverse)
{
	if (!vterm_screen_get_cell(t->screen, pos, cell))
		return FALSE;
	cell->attrs.reverse ^= reverse;
	return TRUE;
}

/* Like ptyterm_get_cell(), from the copy of the primary screen when
 * PRIMARY (blank beyond its size). */
static gboolean ptyterm_cell(PtyTerm *t, gboolean primary, VTermPos pos,
			     VTermScreenCell *cell, gboolean reverse)
{
	if (!primary)
		return ptyterm_get_cell(t, pos, cell, reverse);
	if (pos.row >= (int)t->primary_rows || pos.col >= (int)t->primary_cols)
		return FALSE;
	*cell = t->primary[pos.row * t->primary_cols + pos.col];
	cell->attrs.reverse ^= reverse;
	return TRUE;
}

/* Appends the cells of row ROW (of the copy of the primary screen when
 * PRIMARY) to OUT; *PEN is the terminal's pen before and after; REVERSE:
 * reverse video is on. */
static void ptyterm_draw_row(PtyTerm *t, gboolean primary, int row,
			     GString *out, PtyTermPen *pen, gboolean reverse)
{
	VTermScreenCell cell;
	VTermPos pos = { .row = row };
	int end = 0, col = 0, at = -1;

	/* Up to the last cell that is not a plain blank. */
	for (pos.col = 0; pos.col < (int)t->cols; pos.col++)
		if (ptyterm_cell(t, primary, pos, &cell, reverse) &&
		    !ptyterm_cell_plain(&cell))
			end = pos.col + 1;
	while (col < end) {
		PtyTermPen cp;
		char utf8[8];

		pos.col = col;
		if (!ptyterm_cell(t, primary, pos, &cell, reverse) ||
		    cell.chars[0] == (uint32_t)-1) {
			col++;	/* the right half of a wide character */
			continue;
		}
		if (ptyterm_cell_plain(&cell)) {
			col++;	/* the clear left it so: skip it */
			continue;
		}
		if (at != col)
			g_string_append_printf(out, "\033[%d;%dH", row + 1,
					       col + 1);
		ptyterm_cell_pen(&cell, &cp);
		if (!ptyterm_pen_equal(&cp, pen)) {
			ptyterm_sgr(out, &cp);
			*pen = cp;
		}
		if (cell.chars[0] == 0)
			g_string_append_c(out, ' ');
		for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL &&
				cell.chars[i] != 0; i++)
			g_string_append_len(out, utf8,
					    g_unichar_to_utf8(cell.chars[i],
							      utf8));
		col += MAX(cell.width, 1);
		at = col;
	}
}

/* Appends "CSI ? NUM h" or "CSI ? NUM l" to OUT. */
static void ptyterm_decset(GString *out, int num, gboolean on)
{
	g_string_append_printf(out, "\033[?%d%c", num, on ? 'h' : 'l');
}

/* The bytes that bring a real terminal to the model's state (caller
 * unrefs). */
GBytes *ptyterm_redraw(PtyTerm *term)
{
	GString *out = g_string_new(NULL);
	static const int mouse[] = { 1000, 1002, 1003 };
	static const int encodings[] = { 1005, 1006, 1015 };
	PtyTermPen pen = { 0 }, cur;
	gboolean origin, margins, reverse;
	int top = 1, bottom = term->rows, left = 1, right = term->cols;
	VTermPos pos;

	/* 1. Reset, primary screen, clear, autowrap on for drawing. */
	g_string_append(out, "\033c\033[?1049l\033[0m\033[H\033[2J\033[?7h");
	pen.fg.type = VTERM_COLOR_DEFAULT_FG;
	pen.bg.type = VTERM_COLOR_DEFAULT_BG;

	/* 2. The alternate screen, over the primary one as it was when the
	 * app switched, with the cursor there saved (1049). */
	reverse = ptyterm_dec_on(term, 5);
	if (ptyterm_dec_on(term, 1047)) {
		if (term->primary != NULL) {
			for (guint row = 0; row < term->rows; row++)
				ptyterm_draw_row(term, TRUE, row, out, &pen,
						 reverse);
			g_string_append_printf(out, "\033[0m\033[%d;%dH",
				MIN(term->primary_cursor.row + 1,
				    (int)term->rows),
				MIN(term->primary_cursor.col + 1,
				    (int)term->cols));
			pen.attrs = (VTermScreenCellAttrs){ 0 };
			pen.fg.type = VTERM_COLOR_DEFAULT_FG;
			pen.bg.type = VTERM_COLOR_DEFAULT_BG;
		}
		/* Saved with the cursor (by libvterm): shown, as most apps
		 * have it when they switch. */
		g_string_append(out, "\033[?25h\033[?1049h\033[H\033[2J");
	}

	/* 3. The cells. */
	for (guint row = 0; row < term->rows; row++)
		ptyterm_draw_row(term, FALSE, row, out, &pen, reverse);
	g_string_append(out, "\033[0m");

	/* 4. The modes. */
	if (ptyterm_setting(term, 'r', &top, &bottom) &&
	    (top != 1 || bottom != (int)term->rows))
		g_string_append_printf(out, "\033[%d;%dr", top, bottom);
	margins = ptyterm_dec_on(term, 69);
	ptyterm_decset(out, 69, margins);
	if (margins && ptyterm_setting(term, 's', &left, &right))
		g_string_append_printf(out, "\033[%d;%ds", left, right);
	if (!margins) {
		left = 1;
		right = term->cols;
	}
	origin = ptyterm_dec_on(term, 6);
	ptyterm_decset(out, 6, origin);
	ptyterm_decset(out, 7, ptyterm_dec_on(term, 7));
	ptyterm_decset(out, 1, ptyterm_dec_on(term, 1));
	g_string_append(out, ptyterm_keypad_app(term) ? "\033=" : "\033>");
	ptyterm_decset(out, 5, reverse);
	for (guint i = 0; i < G_N_ELEMENTS(mouse); i++)
		ptyterm_decset(out, mouse[i], FALSE);
	for (guint i = 0; i < G_N_ELEMENTS(mouse); i++)
		if (ptyterm_dec_on(term, mouse[i]))
			ptyterm_decset(out, mouse[i], TRUE);
	/* Turning any encoding off selects the default one: all off first. */
	for (guint i = 0; i < G_N_ELEMENTS(encodings); i++)
		ptyterm_decset(out, encodings[i], FALSE);
	for (guint i = 0; i < G_N_ELEMENTS(encodings); i++)
		if (ptyterm_dec_on(term, encodings[i]))
			ptyterm_decset(out, encodings[i], TRUE);
	ptyterm_decset(out, 1004, ptyterm_dec_on(term, 1004));
	ptyterm_decset(out, 2004, ptyterm_dec_on(term, 2004));
	if (term->shape_set) {
		int n = term->cursor_shape == VTERM_PROP_CURSORSHAPE_UNDERLINE ?
			3 : term->cursor_shape ==
			VTERM_PROP_CURSORSHAPE_BAR_LEFT ? 5 : 1;
		g_string_append_printf(out, "\033[%d q",
				       n + (term->cursor_blink ? 0 : 1));
	}
	ptyterm_decset(out, 25, ptyterm_dec_on(term, 25));
	if (term->title != NULL && term->icon != NULL &&
	    strcmp(term->title, term->icon) == 0) {
		g_string_append_printf(out, "\033]0;%s\007", term->title);
	} else {
		if (term->icon != NULL)
			g_string_append_printf(out, "\033]1;%s\007",
					       term->icon);
		if (term->title != NULL)
			g_string_append_printf(out, "\033]2;%s\007",
					       term->title);
	}

	/* 5. The cursor and the pen. */
	vterm_state_get_cursorpos(term->state, &pos);
	if (origin)
		g_string_append_printf(out, "\033[%d;%dH",
				       pos.row - (top - 1) + 1,
				       pos.col - (left - 1) + 1);
	else
		g_string_append_printf(out, "\033[%d;%dH", pos.row + 1,
				       pos.col + 1);
	ptyterm_state_pen(term, &cur);
	if (!ptyterm_pen_plain(&cur))
		ptyterm_sgr(out, &cur);

	/* 6. The start of a sequence whose end has not come yet: the model
	 * holds it back, and the terminal needs it for what follows. */
	g_string_append_len(out, (const char *)term->held->data,
			    term->held->len);
	return g_string_free_to_bytes(out);
}

/* Sets the model's size to ROWS x COLS. */
static void ptyterm_model_size(PtyTerm *t, guint rows, guint cols)
{
	if (rows == t->rows && cols == t->cols)
		return;
	t->rows = rows;
	t->cols = cols;
	vterm_set_size(t->vt, rows, cols);
}

/* Sets the pty's window size to ROWS x COLS and notes when. */
static void ptyterm_set_pty(PtyTerm *t, guint rows, guint cols)
{
	ptyterm_set_winsize(t->master, rows, cols);
	t->changed = g_get_monotonic_time();
}

/* Sets the pty's and the model's size; a kick when the last change was
 * recent. */
void ptyterm_resize(PtyTerm *term, guint rows, guint cols)
{
	rows = MAX(rows, 1);
	cols = MAX(cols, 1);
	if (term->master >= 0 && (term->kick != NULL ||
	    g_get_monotonic_time() - term->changed < PTYTERM_KICK_MS * 1000)) {
		ptyterm_kick(term, rows, cols);
		return;
	}
	ptyterm_kick_cancel(term);
	ptyterm_set_pty(term, rows, cols);
	ptyterm_model_size(term, rows, cols);
}

/* The kick's second step: the real size. */
static gboolean ptyterm_on_kick(gpointer user)
{
	PtyTerm *t = user;

	g_source_unref(t->kick);
	t->kick = NULL;
	ptyterm_set_pty(t, t->rows, t->cols);
	return G_SOURCE_REMOVE;
}

/* Arms the kick's second step to run in MS ms (replacing the pending
 * one). */
static void ptyterm_kick_arm(PtyTerm *t, guint ms)
{
	ptyterm_kick_cancel(t);
	t->kick = g_timeout_source_new(ms);
	g_source_set_callback(t->kick, ptyterm_on_kick, t, NULL);
	g_source_attach(t->kick, g_main_context_get_thread_default());
}

/* Makes the app see a real size change to ROWS x COLS. */
void ptyterm_kick(PtyTerm *term, guint rows, guint cols)
{
	guint interim;

	rows = MAX(rows, 1);
	cols = MAX(cols, 1);
	ptyterm_kick_cancel(term);
	ptyterm_model_size(term, rows, cols);
	if (term->master < 0)
		return;
	interim = rows > 1 ? rows - 1 : rows + 1;
	ptyterm_set_pty(term, interim, cols);
	term->kick_deadline = g_get_monotonic_time() + PTYTERM_KICK_MS * 1000;
	term->kick_output = FALSE;
	ptyterm_kick_arm(term, PTYTERM_KICK_MS);
}

/* Whether a kick is under way. */
gboolean ptyterm_kicking(PtyTerm *term)
{
	return term->kick != NULL;
}

/* ATTACH: resize or kick, then the redraw (caller unrefs). */
GBytes *ptyterm_attach(PtyTerm *term, guint rows, guint cols)
{
	rows = MAX(rows, 1);
	cols = MAX(cols, 1);
	if (rows != term->rows || cols != term->cols)
		ptyterm_resize(term, rows, cols);
	else if (term->shown)
		ptyterm_kick(term, rows, cols);
	term->shown = TRUE;
	return ptyterm_redraw(term);
}

/* After a restore: the next attach kicks even at the same size. */
void ptyterm_restored(PtyTerm *term)
{
	term->shown = TRUE;
}

/* The model's size. */
void ptyterm_get_size(PtyTerm *term, guint *rows, guint *cols)
{
	*rows = term->rows;
	*cols = term->cols;
}

/* The model's cursor. */
void ptyterm_get_cursor(PtyTerm *term, guint *row, guint *col)
{
	VTermPos pos;

	vterm_state_get_cursorpos(term->state, &pos);
	*row = pos.row;
	*col = pos.col;
}

/* Row ROW's text without trailing blanks (caller frees). */
char *ptyterm_get_row(PtyTerm *term, guint row)
{
	VTermRect rect = { .start_row = row, .end_row = row + 1,
			   .start_col = 0, .end_col = term->cols };
	gsize size = term->cols * VTERM_MAX_CHARS_PER_CELL * 4 + 1;
	g_autofree char *buf = NULL;
	gsize n;

	if (row >= term->rows)
		return g_strdup("");
	buf = g_malloc0(size);
	n = vterm_screen_get_text(term->screen, buf, size - 1, rect);
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	return g_strndup(buf, n);
}

/* The title (TERM's), or NULL. */
const char *ptyterm_get_title(PtyTerm *term)
{
	return term->title;
}

/* Whether the model answers the app's queries. */
void ptyterm_set_answer(PtyTerm *term, gboolean answer)
{
	term->answer = answer;
}

/* The model (TERM's). */
struct VTerm *ptyterm_vterm(PtyTerm *term)
{
	return term->vt;
}

/* One line about the pty and the model (caller frees). */
char *ptyterm_describe(PtyTerm *term)
{
	GString *s = g_string_new(NULL);
	struct termios tio;
	int top, bottom, pkt = 0;
	static const int mouse[] = { 1000, 1002, 1003 };

	if (term->master >= 0) {
		g_string_append_printf(s, "pty %s", term->slave);
		if (tcgetattr(term->master, &tio) == 0)
			g_string_append_printf(s, " %secho %sicanon %sisig",
					       tio.c_lflag & ECHO ? "" : "-",
					       tio.c_lflag & ICANON ? "" : "-",
					       tio.c_lflag & ISIG ? "" : "-");
		if (ioctl(term->master, TIOCGPKT, &pkt) == 0 && pkt)
			g_string_append(s, " pkt");
	} else {
		g_string_append(s, "model");
	}
	g_string_append_printf(s, " %ux%u;", term->rows, term->cols);
	if (ptyterm_dec_on(term, 1047))
		g_string_append(s, " alt");
	if (ptyterm_setting(term, 'r', &top, &bottom) &&
	    (top != 1 || bottom != (int)term->rows))
		g_string_append_printf(s, " scroll=%d-%d", top, bottom);
	if (ptyterm_dec_on(term, 6))
		g_string_append(s, " origin");
	if (!ptyterm_dec_on(term, 7))
		g_string_append(s, " nowrap");
	if (ptyterm_dec_on(term, 1))
		g_string_append(s, " ckm");
	if (ptyterm_keypad_app(term))
		g_string_append(s, " kpam");
	for (guint i = 0; i < G_N_ELEMENTS(mouse); i++)
		if (ptyterm_dec_on(term, mouse[i]))
			g_string_append_printf(s, " mouse=%d", mouse[i]);
	if (ptyterm_dec_on(term, 1005))
		g_string_append(s, " utf8mouse");
	if (ptyterm_dec_on(term, 1006))
		g_string_append(s, " sgr");
	if (ptyterm_dec_on(term, 1015))
		g_string_append(s, " urxvt");
	if (ptyterm_dec_on(term, 1004))
		g_string_append(s, " focus");
	if (ptyterm_dec_on(term, 5))
		g_string_append(s, " reverse");
	if (ptyterm_dec_on(term, 69) && ptyterm_setting(term, 's', &top,
							&bottom))
		g_string_append_printf(s, " margins=%d-%d", top, bottom);
	if (ptyterm_dec_on(term, 2004))
		g_string_append(s, " paste");
	if (!ptyterm_dec_on(term, 25))
		g_string_append(s, " cursor=hidden");
	if (term->title != NULL)
		g_string_append_printf(s, " title='%s'", term->title);
	return g_string_free(s, FALSE);
}
