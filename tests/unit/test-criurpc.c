/*
 * test-criurpc.c: CRIU's RPC messages (src/criurpc.c) against bytes written
 * out by hand from protobuf's wire format and CRIU's images/rpc.proto.
 */
#include <string.h>

#include "src/criurpc.h"
#include "tests/unit/unit.h"

/* Whether GBytes B holds exactly the N bytes at WANT. */
static gboolean tcr_equal(GBytes *b, const guint8 *want, gsize n)
{
	gsize len;
	const guint8 *p = g_bytes_get_data(b, &len);

	return len == n && memcmp(p, want, n) == 0;
}

/* A restore request, field by field. */
static void test_restore_request(void)
{
	const char *const external[] = { "mnt[]", NULL };
	const int fds[] = { 9 };
	const char *const keys[] = { "k" };
	CriurpcOpts r = { .images_dir_fd = 5, .work_dir_fd = 7,
			     .log_file = "r.log", .log_level = 3, .root = "/",
			     .external = external, .inherit_fds = fds,
			     .inherit_keys = keys, .n_inherit = 1,
			     .file_locks = TRUE, .tcp_close = TRUE,
			     .rst_sibling = TRUE, .notify_scripts = TRUE };
	static const guint8 want[] = {
		0x08, 0x02,			/* criu_req.type = RESTORE */
		0x12, 43,			/* criu_req.opts, 43 bytes: */
		0x08, 0x05,			/* images_dir_fd (1) = 5 */
		0x40, 0x01,			/* file_locks (8) */
		0x48, 0x03,			/* log_level (9) = 3 */
		0x52, 0x05, 'r', '.', 'l', 'o', 'g',	/* log_file (10) */
		0x60, 0x01,			/* notify_scripts (12) */
		0x6a, 0x01, '/',		/* root (13) */
		0x88, 0x01, 0x07,		/* work_dir_fd (17) = 7 */
		0xd0, 0x01, 0x01,		/* rst_sibling (26) */
		0xda, 0x01, 0x05,		/* inherit_fd (27), 5 bytes: */
		0x0a, 0x01, 'k',		/*   key (1) */
		0x10, 0x09,			/*   fd (2) = 9 */
		0xaa, 0x02, 0x05, 'm', 'n', 't', '[', ']', /* external (37) */
		0xa0, 0x03, 0x01,		/* tcp_close (52) */
	};
	g_autoptr(GBytes) b = criurpc_request(CRIURPC_RESTORE, &r);

	CU_ASSERT_TRUE(tcr_equal(b, want, sizeof(want)));
}

/* A dump request: the pid and --leave-running, no work directory. */
static void test_dump_request(void)
{
	CriurpcOpts r = { .images_dir_fd = 5, .work_dir_fd = -1, .pid = 300,
			  .leave_running = TRUE, .log_level = 3 };
	static const guint8 want[] = {
		0x08, 0x01,			/* criu_req.type = DUMP */
		0x12, 9,			/* criu_req.opts, 9 bytes: */
		0x08, 0x05,			/* images_dir_fd (1) = 5 */
		0x10, 0xac, 0x02,		/* pid (2) = 300 */
		0x18, 0x01,			/* leave_running (3) */
		0x48, 0x03,			/* log_level (9) = 3 */
	};
	g_autoptr(GBytes) b = criurpc_request(CRIURPC_DUMP, &r);

	CU_ASSERT_TRUE(tcr_equal(b, want, sizeof(want)));
}

/* The reply to a notification, yes and no. */
static void test_notify_reply(void)
{
	static const guint8 yes[] = { 0x08, 0x06, 0x18, 0x01 };
	static const guint8 no[] = { 0x08, 0x06, 0x18, 0x00 };
	g_autoptr(GBytes) y = criurpc_notify_reply(TRUE);
	g_autoptr(GBytes) n = criurpc_notify_reply(FALSE);

	CU_ASSERT_TRUE(tcr_equal(y, yes, sizeof(yes)));
	CU_ASSERT_TRUE(tcr_equal(n, no, sizeof(no)));
}

/* Responses: a notification, a restore with fields this code does not
 * know (skipped), a failure with CRIU's errno and message. */
static void test_responses(void)
{
	static const guint8 notify[] = {
		0x08, 0x06, 0x10, 0x01,		/* type NOTIFY, success */
		0x2a, 0x10,			/* notify (5), 16 bytes: */
		0x0a, 0x0c, 'p', 'o', 's', 't', '-', 'r', 'e', 's', 't',
		'o', 'r', 'e',			/*   script (1) */
		0x10, 0x2a,			/*   pid (2) = 42 */
	};
	static const guint8 restore[] = {
		0x08, 0x02, 0x10, 0x01,		/* type RESTORE, success */
		0x58, 0x00,			/* status (11): unknown here */
		0x7d, 1, 2, 3, 4,		/* field 15, fixed32: unknown */
		0x22, 0x03, 0x08, 0xd2, 0x09,	/* restore (4): pid 1234 */
	};
	static const guint8 failed[] = {
		0x08, 0x02, 0x10, 0x00,		/* type RESTORE, failure */
		0x38, 0x11,			/* cr_errno (7) = 17 */
		0x4a, 0x04, 'o', 'o', 'p', 's',	/* cr_errmsg (9) */
	};
	g_auto(CriurpcResp) r = { 0 };

	CU_ASSERT_TRUE_FATAL(criurpc_parse_response(notify, sizeof(notify),
						    &r, NULL));
	CU_ASSERT_EQUAL(r.type, CRIURPC_NOTIFY);
	CU_ASSERT_TRUE(r.success);
	CU_ASSERT_STRING_EQUAL(r.script, "post-restore");
	criurpc_resp_clear(&r);

	CU_ASSERT_TRUE_FATAL(criurpc_parse_response(restore, sizeof(restore),
						    &r, NULL));
	CU_ASSERT_EQUAL(r.type, CRIURPC_RESTORE);
	CU_ASSERT_TRUE(r.success);
	CU_ASSERT_EQUAL(r.pid, 1234);
	CU_ASSERT_PTR_NULL(r.script);
	criurpc_resp_clear(&r);

	CU_ASSERT_TRUE_FATAL(criurpc_parse_response(failed, sizeof(failed),
						    &r, NULL));
	CU_ASSERT_FALSE(r.success);
	CU_ASSERT_EQUAL(r.cr_errno, 17);
	CU_ASSERT_STRING_EQUAL(r.errmsg, "oops");
}

/* Malformed responses are refused with an error, never half-read. */
static void test_malformed(void)
{
	static const guint8 no_type[] = { 0x10, 0x01 };
	static const guint8 long_len[] = { 0x08, 0x02, 0x4a, 0x09, 'x' };
	static const guint8 cut_varint[] = { 0x08, 0x82 };
	static const guint8 group[] = { 0x08, 0x02, 0x0b };
	static const guint8 bad_inner[] = { 0x08, 0x02, 0x22, 0x02, 0x08,
					    0xff };
	static const guint8 field_zero[] = { 0x00, 0x01 };
	static const struct { const guint8 *p; gsize n; } cases[] = {
		{ no_type, sizeof(no_type) },
		{ long_len, sizeof(long_len) },
		{ cut_varint, sizeof(cut_varint) },
		{ group, sizeof(group) },
		{ bad_inner, sizeof(bad_inner) },
		{ field_zero, sizeof(field_zero) },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(CriurpcResp) r = { 0 };
		g_autoptr(GError) err = NULL;

		CU_ASSERT_FALSE(criurpc_parse_response(cases[i].p, cases[i].n,
						       &r, &err));
		CU_ASSERT_PTR_NOT_NULL(err);
		CU_ASSERT_PTR_NULL(r.errmsg);
	}
}

static CU_TestInfo tcr_tests[] = {
	{ "restore request, field by field", test_restore_request },
	{ "dump request", test_dump_request },
	{ "notify reply", test_notify_reply },
	{ "responses, unknown fields skipped", test_responses },
	{ "malformed responses refused", test_malformed },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE("criurpc", tcr_tests)
