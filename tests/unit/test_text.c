/* SPDX-License-Identifier: ISC */
/*
 * test_text.c - the one sanitizer for peer-controlled text.  Hostile and
 * odd inputs first (escape sequences, line breaks, NUL, non-ASCII, cuts
 * that would split an escape), then plain text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "text.h"

struct tcase {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	size_t outlen;
	const char *want;
};

static const struct tcase cases[] = {
    /* Negative cases: what an attacker sends. */
    {"ESC sequence", "\x1b[2J\x1b]0;pwned\x07", 0, 64,
	"\\x1b[2J\\x1b]0;pwned\\x07"},
    {"fake log line", "/zz\n2026-01-01 ecad: ok", 0, 64,
	"/zz\\x0a2026-01-01 ecad: ok"},
    {"carriage return", "a\rb", 0, 16, "a\\x0db"},
    {"embedded NUL", "a\0b", 3, 16, "a\\x00b"},
    {"DEL", "\x7f", 0, 16, "\\x7f"},
    {"non-ASCII (UTF-8)", "caf\xc3\xa9", 0, 32, "caf\\xc3\\xa9"},
    {"invalid UTF-8", "\xff\xfe", 0, 32, "\\xff\\xfe"},
    {"backslash is escaped (unambiguous)", "a\\x41", 0, 32, "a\\x5cx41"},
    {"tab", "a\tb", 0, 16, "a\\x09b"},
    /* Cuts. */
    {"cut plain text", "abcdefghij", 0, 8, "abcd..."},
    {"cut never splits an escape", "ab\x1b\x1b\x1b", 0, 10, "ab\\x1b..."},
    {"cut drops a whole escape for the dots", "ab\x1b\x1b", 0, 9, "ab..."},
    {"escape exactly fits", "\x1b", 0, 5, "\\x1b"},
    {"escape one short", "\x1b", 0, 4, "..."},
    {"tiny buffer, no room for dots", "abcdef", 0, 3, "ab"},
    {"one byte buffer", "abc", 0, 1, ""},
    {"NULL input", NULL, 5, 8, ""},
    /* Plain text passes unchanged. */
    {"empty", "", 0, 8, ""},
    {"host name", "media1.example", 0, 64, "media1.example"},
    {"path", "/v1/enrollments/h-1", 0, 64, "/v1/enrollments/h-1"},
    {"exactly fits", "abc", 0, 4, "abc"},
};

static void
test_table(void **state)
{
	char out[128];
	size_t i, len, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];

		len = t->len != 0 || t->in == NULL ? t->len : strlen(t->in);
		memset(out, 'Z', sizeof(out));
		n = eca_text_sanitize(t->in, len, out, t->outlen);
		if (strcmp(out, t->want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
			    t->name, out, t->want);
		assert_int_equal(n, strlen(out));
		assert_true(n < t->outlen);
		/* Nothing written past the buffer. */
		assert_int_equal(out[t->outlen], 'Z');
	}
}

static void
test_zero_outlen_writes_nothing(void **state)
{
	char out[4] = {'Z', 'Z', 'Z', 'Z'};

	(void)state;
	assert_int_equal(eca_text_sanitize("abc", 3, out, 0), 0);
	assert_int_equal(out[0], 'Z');
	assert_int_equal(eca_text_sanitize("abc", 3, NULL, 4), 0);
}

static void
test_no_byte_outside_printable_ascii(void **state)
{
	char in[256], out[256 * ECA_TEXT_ESC_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)i;
	eca_text_sanitize(in, sizeof(in), out, sizeof(out));
	for (i = 0; out[i] != '\0'; i++)
		assert_true(out[i] >= 0x20 && out[i] < 0x7f);
	/* Every byte whole: 95 printable minus the backslash, the rest 4. */
	assert_int_equal(strlen(out), 94 + (256 - 94) * ECA_TEXT_ESC_LEN);
}

static void
test_hex_both_cases(void **state)
{
	const unsigned char raw[] = {0x00, 0x9f, 0xa0, 0xff};
	char out[2 * sizeof(raw) + 1];

	(void)state;
	eca_text_hex(raw, 0, out, 0);
	assert_string_equal(out, "");
	eca_text_hex(raw, sizeof(raw), out, 0);
	assert_string_equal(out, "009fa0ff");
	eca_text_hex(raw, sizeof(raw), out, 1);
	assert_string_equal(out, "009FA0FF");
}

static void
test_times_are_utc_in_two_spellings(void **state)
{
	char buf[ECA_TEXT_TIME_LEN], small[8];

	(void)state;
	eca_text_rfc3339(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	eca_text_rfc3339(1796229890, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-02T16:44:50Z");
	eca_text_utc(1796229890, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-02 16:44:50 UTC");
	/* Too small for the date: the seconds, cut, never garbage. */
	eca_text_rfc3339(1796229890, small, sizeof(small));
	assert_string_equal(small, "1796229");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_zero_outlen_writes_nothing),
	    cmocka_unit_test(test_no_byte_outside_printable_ascii),
	    cmocka_unit_test(test_hex_both_cases),
	    cmocka_unit_test(test_times_are_utc_in_two_spellings),
	};

	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
