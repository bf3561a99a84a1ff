/*
 * test-ptyterm.c: the terminal model and pty manager (ptysupport/).
 *
 * Round trips: escape sequences go into a PtyTerm's model; its redraw goes
 * into a fresh model of the same size; both must then have the same cells,
 * cursor and modes, and stay the same when more output goes into both.  A
 * real pty: a shell on the slave reports the sizes it sees on SIGWINCH.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <vterm.h>

#include "ptysupport/ptysupport.h"
#include "tests/unit/unit.h"

/* Feeds string S into TERM's model. */
static void feed(PtyTerm *term, const char *s)
{
	ptyterm_output(term, (const guint8 *)s, strlen(s));
}

/* Whether cells A and B look the same (a blank is a space). */
static gboolean cell_same(const VTermScreenCell *a, const VTermScreenCell *b)
{
	uint32_t ca = a->chars[0] == ' ' ? 0 : a->chars[0];
	uint32_t cb = b->chars[0] == ' ' ? 0 : b->chars[0];

	if (ca != cb || a->width != b->width)
		return FALSE;
	for (int i = 1; i < VTERM_MAX_CHARS_PER_CELL && ca && a->chars[i - 1];
	     i++)
		if (a->chars[i] != b->chars[i])
			return FALSE;
	return a->attrs.bold == b->attrs.bold &&
	       a->attrs.underline == b->attrs.underline &&
	       a->attrs.italic == b->attrs.italic &&
	       a->attrs.blink == b->attrs.blink &&
	       a->attrs.reverse == b->attrs.reverse &&
	       a->attrs.strike == b->attrs.strike &&
	       ptyterm_color_equal(&a->fg, &b->fg) &&
	       ptyterm_color_equal(&a->bg, &b->bg);
}

/* Counts the cells where A and B differ (printing the first few), and
 * checks their cursors and modes. */
static int compare(PtyTerm *a, PtyTerm *b)
{
	VTermScreen *sa = vterm_obtain_screen(ptyterm_vterm(a));
	VTermScreen *sb = vterm_obtain_screen(ptyterm_vterm(b));
	guint rows, cols, rows2, cols2, ra, ca, rb, cb;
	g_autofree char *da = NULL, *db = NULL;
	int bad = 0;

	ptyterm_get_size(a, &rows, &cols);
	ptyterm_get_size(b, &rows2, &cols2);
	CU_ASSERT_EQUAL(rows, rows2);
	CU_ASSERT_EQUAL(cols, cols2);
	for (guint r = 0; r < rows; r++)
		for (guint c = 0; c < cols; c++) {
			VTermPos pos = { .row = r, .col = c };
			VTermScreenCell x, y;
			vterm_screen_get_cell(sa, pos, &x);
			vterm_screen_get_cell(sb, pos, &y);
			if (!cell_same(&x, &y) && bad++ < 5)
				fprintf(stderr, "\n  cell %u,%u: U+%04x/%d "
					"%x/%x %x/%x vs U+%04x/%d %x/%x %x/%x",
					r, c, x.chars[0], x.width, x.fg.type,
					x.fg.indexed.idx, x.bg.type,
					x.bg.indexed.idx, y.chars[0], y.width,
					y.fg.type, y.fg.indexed.idx, y.bg.type,
					y.bg.indexed.idx);
		}
	CU_ASSERT_EQUAL(bad, 0);
	ptyterm_get_cursor(a, &ra, &ca);
	ptyterm_get_cursor(b, &rb, &cb);
	CU_ASSERT_EQUAL(ra, rb);
	CU_ASSERT_EQUAL(ca, cb);
	da = ptyterm_describe(a);
	db = ptyterm_describe(b);
	if (strcmp(da, db) != 0)
		fprintf(stderr, "\n  modes: %s\n     vs: %s\n", da, db);
	CU_ASSERT_STRING_EQUAL(da, db);
	return bad;
}

/* A fresh model of A's size with A's redraw fed into it (caller frees). */
static PtyTerm *replay(PtyTerm *a)
{
	g_autoptr(GBytes) bytes = ptyterm_redraw(a);
	guint rows, cols;
	PtyTerm *b;
	gsize len;
	const guint8 *p = g_bytes_get_data(bytes, &len);

	ptyterm_get_size(a, &rows, &cols);
	b = ptyterm_new_model(rows, cols);
	ptyterm_output(b, p, len);
	return b;
}

/* What GNU screen draws with `hardstatus alwayslastline` on 24 rows: a
 * scroll region above the status line, which is drawn in reverse. */
static const char screen_like[] =
	"\033[?1049h\033[H\033[2J\033[1;23r"
	"\033[24;1H\033[7m 0$ bash  1*$ top \033[27m\033[K"
	"\033[1;1H$ ls\r\nfile1  file2\r\n$ ";

/* Scroll region and status line: the redraw reproduces them, and output
 * that scrolls afterwards keeps the status line in both. */
static void test_status_line(void)
{
	g_autoptr(PtyTerm) a = ptyterm_new_model(24, 80);
	g_autoptr(PtyTerm) b = NULL;
	g_autofree char *status = NULL, *last = NULL;
	g_autofree char *desc = NULL;

	feed(a, screen_like);
	b = replay(a);
	compare(a, b);
	desc = ptyterm_describe(b);
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "scroll=1-23"));
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, " alt"));
	/* 100 lines scroll the region above the status line. */
	for (int i = 0; i < 100; i++) {
		g_autofree char *line = g_strdup_printf("line %d\r\n", i);
		feed(a, line);
		feed(b, line);
	}
	compare(a, b);
	status = ptyterm_get_row(b, 23);
	CU_ASSERT_STRING_EQUAL(status, " 0$ bash  1*$ top");
	last = ptyterm_get_row(b, 21);
	CU_ASSERT_STRING_EQUAL(last, "line 99");
}

/* Every mode the redraw re-establishes, and colours and attributes. */
static void test_modes(void)
{
	g_autoptr(PtyTerm) a = ptyterm_new_model(20, 60);
	g_autoptr(PtyTerm) b = NULL;
	g_autofree char *desc = NULL;

	feed(a, "\033]0;my title\007");
	feed(a, "\033[?1h\033=");			/* DECCKM, DECKPAM */
	feed(a, "\033[?1002h\033[?1006h\033[?1004h");	/* mouse, focus */
	feed(a, "\033[?2004h\033[?25l");		/* paste, cursor */
	feed(a, "\033[1mbold\033[0m \033[4munder\033[0m \033[3mit\033[0m "
		"\033[7mrev\033[0m \033[9mstrike\033[0m \033[5mblink\033[0m\r\n");
	feed(a, "\033[31mred\033[42mongreen\033[0m \033[91mbright\033[0m "
		"\033[38;5;200mc200\033[48;5;17mbg17\033[0m "
		"\033[38;2;10;20;30mrgb\033[48;2;200;100;50mrgbbg\033[0m\r\n");
	feed(a, "wide: \xe4\xb8\xad\xe6\x96\x87 e\xcc\x81 box \033(0lqk\033(B\r\n");
	feed(a, "\033[44m\033[K\033[0m\r\n");	/* a blue erased line */
	feed(a, "\033[5;15r\033[?6h\033[3;7H\033[1;33m");	/* origin mode */
	b = replay(a);
	compare(a, b);
	desc = ptyterm_describe(b);
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "ckm kpam mouse=1002 sgr focus"));
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "paste cursor=hidden"));
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "origin"));
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "title='my title'"));
	/* The pen and origin mode are back: the next text lands the same. */
	feed(a, "X\033[1;1HY");
	feed(b, "X\033[1;1HY");
	compare(a, b);
}

/* Other modes: no autowrap, reverse video, left/right margins, another
 * mouse mode, a cursor shape; and the alternate screen left again. */
static void test_more_modes(void)
{
	g_autoptr(PtyTerm) a = ptyterm_new_model(10, 40);
	g_autoptr(PtyTerm) b = NULL;
	g_autofree char *desc = NULL;

	feed(a, "\033[?1049h\033[?1049lprimary\r\n\033[?7l\033[?5h");
	feed(a, "\033[?1000h\033[?1015h\033[4 q\033[?69h\033[5;30s");
	feed(a, "\033]2;only title\033\\");
	b = replay(a);
	compare(a, b);
	desc = ptyterm_describe(b);
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "nowrap"));
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "mouse=1000"));
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "reverse"));
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "margins=5-30"));
	CU_ASSERT_PTR_NULL(strstr(desc, " alt"));
	CU_ASSERT_STRING_EQUAL(ptyterm_get_title(b), "only title");
	/* Text beyond the right margin does not wrap in either. */
	feed(a, "\033[2;1H0123456789012345678901234567890123456789XYZ");
	feed(b, "\033[2;1H0123456789012345678901234567890123456789XYZ");
	compare(a, b);
}

/* A sequence cut anywhere comes out the same as whole, and a redraw in the
 * middle of one neither breaks it nor is broken by it. */
static void test_split(void)
{
	g_autoptr(PtyTerm) a = ptyterm_new_model(24, 80);
	g_autoptr(PtyTerm) b = ptyterm_new_model(24, 80);
	const char *s = screen_like;
	const char *tail = "\033]2;t\xc3\xa9tle\007\033[38;2;1;2;3m\xe2\x94\x80x";

	for (const char *p = s; *p; p++)
		ptyterm_output(a, (const guint8 *)p, 1);
	feed(b, s);
	for (const char *p = tail; *p; p++) {
		ptyterm_output(a, (const guint8 *)p, 1);
		/* A redraw at every byte: the queries must not mix in. */
		g_bytes_unref(ptyterm_redraw(a));
	}
	feed(b, tail);
	compare(a, b);
	CU_ASSERT_STRING_EQUAL(ptyterm_get_title(a), "t\xc3\xa9tle");
}

/* The primary screen under the alternate one comes back too: once the
 * app leaves the alternate screen, both terminals show the same primary
 * screen and cursor. */
static void test_primary_under_alt(void)
{
	g_autoptr(PtyTerm) a = ptyterm_new_model(12, 50);
	g_autoptr(PtyTerm) b = NULL;
	g_autoptr(PtyTerm) c = NULL;

	feed(a, "$ ls\r\n\033[34mdir\033[0m  file\r\n$ vim file");
	feed(a, "\033[?1049h\033[H\033[2Jvim's screen\033[5;3H~");
	b = replay(a);
	compare(a, b);
	feed(a, "\033[?1049l\r\n$ ");
	feed(b, "\033[?1049l\r\n$ ");
	compare(a, b);
	/* Resized while on the alternate screen: what fits is kept. */
	feed(a, "\033[?1049hless");
	ptyterm_resize(a, 10, 40);
	c = replay(a);
	feed(a, "\033[?1049l");
	feed(c, "\033[?1049l");
	compare(a, c);
}

/* Every cell in its own colours and attributes: the worst case for the
 * redraw's size, still exact. */
static void test_colourful(void)
{
	g_autoptr(PtyTerm) a = ptyterm_new_model(60, 250);
	g_autoptr(PtyTerm) b = NULL;
	g_autoptr(GBytes) bytes = NULL;
	GString *s = g_string_new("\033[H");

	for (int r = 0; r < 60; r++)
		for (int c = 0; c < 250; c++)
			g_string_append_printf(s, "\033[%d;%d;38;2;%d;%d;%d;48;5;%dm%c",
					       (r + c) % 2 ? 1 : 22,
					       (r * c) % 3 ? 4 : 24, r * 4,
					       c, (r + c) % 256, c % 256,
					       'A' + (r + c) % 26);
	ptyterm_output(a, (const guint8 *)s->str, s->len);
	g_string_free(s, TRUE);
	bytes = ptyterm_redraw(a);
	fprintf(stderr, " (%zu bytes for 60x250) ", g_bytes_get_size(bytes));
	b = replay(a);
	compare(a, b);
}

/* A redraw taken while the model holds the start of a sequence back ends
 * with it: a terminal that gets the redraw, then the rest of the output,
 * ends like the model. */
static void test_redraw_held(void)
{
	g_autoptr(PtyTerm) a = ptyterm_new_model(10, 40);
	g_autoptr(PtyTerm) b = NULL;
	g_autofree char *row = NULL;

	feed(a, "before \033[3");
	b = replay(a);
	feed(a, "1mred\033]2;ti");
	feed(b, "1mred\033]2;ti");
	g_clear_pointer(&b, ptyterm_free);
	b = replay(a);
	feed(a, "tle\007 \xe2\x94");
	feed(b, "tle\007 \xe2\x94");
	g_clear_pointer(&b, ptyterm_free);
	b = replay(a);
	feed(a, "\x80!");
	feed(b, "\x80!");
	compare(a, b);
	row = ptyterm_get_row(b, 0);
	CU_ASSERT_STRING_EQUAL(row, "before red \xe2\x94\x80!");
	CU_ASSERT_STRING_EQUAL(ptyterm_get_title(b), "title");
}

/* What the test shell writes, and the main loop that reads it. */
typedef struct {
	PtyTerm *term;		/* the pty */
	GMainLoop *loop;	/* runs until WANT shows up or time is out */
	GString *seen;		/* everything read from the master */
	const char *want;	/* the text waited for */
	gboolean timeout;	/* time ran out */
} PtyRun;

/* The master is readable. */
static gboolean on_master(int fd, GIOCondition cond, gpointer user)
{
	PtyRun *r = user;
	guint8 buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return G_SOURCE_CONTINUE;
	ptyterm_output(r->term, buf, n);
	g_string_append_len(r->seen, (const char *)buf, n);
	if (r->want != NULL && strstr(r->seen->str, r->want) != NULL)
		g_main_loop_quit(r->loop);
	return G_SOURCE_CONTINUE;
}

/* Time is out. */
static gboolean on_timeout(gpointer user)
{
	PtyRun *r = user;

	r->timeout = TRUE;
	g_main_loop_quit(r->loop);
	return G_SOURCE_CONTINUE;
}

/* Runs the loop until WANT was read (or 5 s). */
static gboolean wait_for(PtyRun *r, const char *want)
{
	guint t;

	r->want = want;
	if (strstr(r->seen->str, want) != NULL)
		return TRUE;
	r->timeout = FALSE;
	t = g_timeout_add(5000, on_timeout, r);
	g_main_loop_run(r->loop);
	g_source_remove(t);
	return !r->timeout;
}

/* A real pty: a shell on the slave (its controlling terminal) prints the
 * size it sees on each SIGWINCH; a kick to the same size shows it a
 * change, a resize shows it the new size. */
static void test_pty(void)
{
	PtyRun r = { 0 };
	g_autoptr(GError) error = NULL;
	g_autofree char *ttyline = NULL, *desc = NULL, *rows = NULL;
	const char *script =
		"stty -echo; echo \"tty $(tty)\"; "
		"echo \"sigpipe $(grep SigIgn /proc/$$/status)\"; "
		"trap 'echo \"size $(stty size)\"' WINCH; echo ready; "
		"while :; do sleep 0.01; done";
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	const char *slave;
	GPid pid;
	guint src;

	signal(SIGPIPE, SIG_IGN);
	r.term = ptyterm_open(24, 80, &error);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.term);
	slave = ptyterm_slave_name(r.term);
	CU_ASSERT_TRUE(g_str_has_prefix(slave, "/dev/pts/"));
	if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
			   ptyterm_spawn_setup, (gpointer)slave, &pid,
			   &error)) {
		CU_FAIL(error->message);
		ptyterm_free(r.term);
		return;
	}
	r.loop = g_main_loop_new(NULL, FALSE);
	r.seen = g_string_new(NULL);
	src = g_unix_fd_add(ptyterm_master(r.term), G_IO_IN, on_master, &r);
	CU_ASSERT_TRUE(wait_for(&r, "ready"));
	/* SIGPIPE, ignored here, is back to default in the child (only
	 * its bit: whatever else the shell ignores is the shell's). */
	{
		const char *ign = strstr(r.seen->str, "sigpipe SigIgn:");
		CU_ASSERT_PTR_NOT_NULL_FATAL(ign);
		guint64 mask = g_ascii_strtoull(ign + strlen("sigpipe SigIgn:"),
						NULL, 16);
		CU_ASSERT_EQUAL(mask & (G_GUINT64_CONSTANT(1) << (SIGPIPE - 1)),
				0);
		if (mask != 0)
			fprintf(stderr, "test-ptyterm: the shell ignores "
				"signals %#" G_GINT64_MODIFIER "x\n", mask);
	}
	ttyline = g_strdup_printf("tty %s", slave);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.seen->str, ttyline));
	desc = ptyterm_describe(r.term);
	CU_ASSERT_PTR_NOT_NULL(strstr(desc, "-echo"));

	/* Same size: the shell sees 23 rows, then 24. */
	ptyterm_kick(r.term, 24, 80);
	CU_ASSERT_TRUE(ptyterm_kicking(r.term));
	CU_ASSERT_TRUE(wait_for(&r, "size 24 80"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.seen->str, "size 23 80"));
	CU_ASSERT_TRUE(strstr(r.seen->str, "size 23 80") <
		       strstr(r.seen->str, "size 24 80"));
	CU_ASSERT_FALSE(ptyterm_kicking(r.term));

	/* Another size. */
	ptyterm_resize(r.term, 30, 100);
	CU_ASSERT_TRUE(wait_for(&r, "size 30 100"));
	/* The first attach at the app's size does not kick (nothing to
	 * repair); the next one does. */
	g_usleep((PTYTERM_KICK_MS + 50) * 1000);
	g_bytes_unref(ptyterm_attach(r.term, 30, 100));
	CU_ASSERT_FALSE(ptyterm_kicking(r.term));
	g_string_truncate(r.seen, 0);
	g_bytes_unref(ptyterm_attach(r.term, 30, 100));
	CU_ASSERT_TRUE(ptyterm_kicking(r.term));
	CU_ASSERT_TRUE(wait_for(&r, "size 30 100"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.seen->str, "size 29 100"));
	/* Back and forth at once: the second change is a kick, so the shell
	 * sees a change whenever it reads the size. */
	g_usleep((PTYTERM_KICK_MS + 50) * 1000);
	g_string_truncate(r.seen, 0);
	ptyterm_resize(r.term, 24, 80);
	CU_ASSERT_FALSE(ptyterm_kicking(r.term));
	ptyterm_resize(r.term, 30, 100);
	CU_ASSERT_TRUE(ptyterm_kicking(r.term));
	CU_ASSERT_TRUE(wait_for(&r, "size 30 100"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.seen->str, "size 29 100"));
	/* The model saw it all at the real size. */
	rows = ptyterm_get_row(r.term, 0);
	CU_ASSERT_TRUE(g_str_has_prefix(rows, "tty /dev/pts/"));

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	signal(SIGPIPE, SIG_DFL);
	g_source_remove(src);
	g_main_loop_unref(r.loop);
	g_string_free(r.seen, TRUE);
	ptyterm_free(r.term);
}

static CU_TestInfo tests[] = {
	{ "status line", test_status_line },
	{ "modes", test_modes },
	{ "more modes", test_more_modes },
	{ "split sequences", test_split },
	{ "redraw with a sequence held back", test_redraw_held },
	{ "a cell per colour", test_colourful },
	{ "primary screen under the alternate one", test_primary_under_alt },
	{ "pty kick and resize", test_pty },
	CU_TEST_INFO_NULL
};

UNIT_SUITE("ptyterm", tests)
