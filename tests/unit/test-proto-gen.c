/*
 * test-proto-gen.c: the table generator refuses what it does not understand.
 *
 * Runs xproxy/gen-tables.py (from the repository root, where make check
 * runs the unit tests) over a copy of xcb-proto's XML with one construct
 * broken at a time, and checks that it exits non-zero with a one-line
 * message naming the message, and that the untouched copy still generates.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "tests/unit/unit.h"

#define GEN_SCRIPT "xproxy/gen-tables.py"

/* The xcb-proto XML directory (g_free), or NULL. */
static char *gen_xml_dir(void)
{
	char *argv[] = { "pkg-config", "--variable=xcbincludedir", "xcb-proto",
			 NULL };
	char *out = NULL;
	int status;

	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
			  G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
			  &status, NULL) || !g_spawn_check_wait_status(status,
								       NULL)) {
		g_free(out);
		return NULL;
	}
	g_strstrip(out);
	return out;
}

/* Copies the translated modules' XML from SRC into a new temporary
 * directory (g_free; remove with gen_cleanup) and applies the edit: in file
 * FILE, the first OLD becomes NEW (no edit when FILE is NULL). */
static char *gen_copy(const char *src, const char *file, const char *old,
		      const char *new)
{
	static const char *const files[] = {
		"xproto", "bigreq", "xc_misc", "ge", "xkb", "render", "xfixes",
		"shape", "randr", "xinput", "sync", "damage", "composite",
		"xtest", "screensaver", "dbe", "xinerama", "res",
	};
	char *dir = g_dir_make_tmp("xckpt-gen-XXXXXX", NULL);

	g_assert(dir);
	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *name = g_strconcat(files[i], ".xml", NULL);
		g_autofree char *from = g_build_filename(src, name, NULL);
		g_autofree char *to = g_build_filename(dir, name, NULL);
		g_autofree char *text = NULL;
		gsize len;

		g_assert(g_file_get_contents(from, &text, &len, NULL));
		if (file && strcmp(file, files[i]) == 0) {
			char *at = strstr(text, old);
			GString *s;

			g_assert(at);
			s = g_string_new_len(text, at - text);
			g_string_append(s, new);
			g_string_append(s, at + strlen(old));
			g_free(text);
			len = s->len;
			text = g_string_free(s, FALSE);
		}
		g_assert(g_file_set_contents(to, text, len, NULL));
	}
	return dir;
}

/* Removes DIR and its files. */
static void gen_cleanup(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(dir);
}

/* Runs the generator over DIR; returns its exit status and its stderr in
 * *ERR (g_free). */
static int gen_run(const char *dir, char **err)
{
	g_autofree char *c = g_build_filename(dir, "out.c", NULL);
	g_autofree char *h = g_build_filename(dir, "out.h", NULL);
	char *argv[] = { "/usr/bin/python3", GEN_SCRIPT, "--xml-dir",
			 (char *)dir, "--out-c", c, "--out-h", h, NULL };
	int status = -1;

	*err = NULL;
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
			  NULL, NULL, err, &status, NULL))
		return -1;
	g_unlink(c);
	g_unlink(h);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One broken construct: the file, the text replaced, its replacement and
 * what the error line must name. */
typedef struct {
	const char *file;	/* module */
	const char *old;	/* text replaced (first occurrence) */
	const char *new;	/* replacement */
	const char *expect;	/* substring of the error line */
} GenCase;

/* Each broken construct fails the generator with one line; the intact XML
 * passes. */
static void test_gen_rejects(void)
{
	static const GenCase cases[] = {
		/* An element the generator does not know. */
		{ "xproto", "<field type=\"WINDOW\" name=\"wid\" />",
		  "<field type=\"WINDOW\" name=\"wid\" /><frob />",
		  "CreateWindow" },
		/* An unknown type. */
		{ "render", "<field type=\"GLYPHSET\" name=\"gsid\" />",
		  "<field type=\"GLYPHSETX\" name=\"gsid\" />", "GLYPHSETX" },
		/* A list count naming no field. */
		{ "xproto", "<fieldref>children_len</fieldref>",
		  "<fieldref>kids_len</fieldref>", "kids_len" },
		/* An unknown operator. */
		{ "xinput", "<op op=\"*\">", "<op op=\"%\">", "%" },
		/* A list without a count in the middle of a request. */
		{ "xfixes", "<field type=\"REGION\" name=\"region\" />",
		  "<list type=\"CARD8\" name=\"junk\" />"
		  "<field type=\"REGION\" name=\"region\" />", "junk" },
		/* An ID inside a union without a selector rule. */
		{ "xproto", "<list type=\"CARD8\"  name=\"data8\" >",
		  "<field type=\"ATOM\" name=\"a\" />"
		  "<list type=\"CARD8\"  name=\"data8\" >",
		  "ClientMessageData" },
		/* A switch without an expression. */
		{ "xproto", "<switch name=\"value_list\">\n"
		  "        <fieldref>value_mask</fieldref>",
		  "<switch name=\"value_list\">", "value_list" },
	};
	g_autofree char *src = gen_xml_dir();

	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	CU_ASSERT_TRUE_FATAL(g_file_test(GEN_SCRIPT, G_FILE_TEST_EXISTS));
	/* The untouched copy generates. */
	{
		g_autofree char *dir = gen_copy(src, NULL, NULL, NULL);
		g_autofree char *err = NULL;

		CU_ASSERT_EQUAL(gen_run(dir, &err), 0);
		gen_cleanup(dir);
	}
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const GenCase *k = &cases[i];
		g_autofree char *dir = gen_copy(src, k->file, k->old, k->new);
		g_autofree char *err = NULL;
		int rc = gen_run(dir, &err);

		gen_cleanup(dir);
		if (rc != 1 || !err || !strstr(err, k->expect))
			fprintf(stderr, "\n  case %u: exit %d, stderr: %s", i,
				rc, err ? err : "");
		CU_ASSERT_EQUAL(rc, 1);
		CU_ASSERT_PTR_NOT_NULL(err && strstr(err, k->expect));
		/* One line. */
		CU_ASSERT(err && strchr(err, '\n') == err + strlen(err) - 1);
	}
}

static CU_TestInfo gen_tests[] = {
	{ "generator rejects what it does not know", test_gen_rejects },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("proto-gen", gen_tests)
