/* SPDX-License-Identifier: ISC */
/* test_verdict.c - the one verdict on a peer's certificate, reason by reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509.h>

#include "roster.h"
#include "testca.h"
#include "verdict.h"

#define PEER "media1.example"
#define PRIMARY "primary.example"

struct fx {
	struct testca *ca;
	X509_STORE *trust;
	STACK_OF(X509) *chain;
	X509 *leaf;
	struct eca_certinfo info;
	struct eca_peer_policy policy;
	struct eca_roster_entry entry;
	struct eca_verdict_input in;
};

static int
setup(void **state)
{
	struct testca_leaf_opts o;
	struct fx *f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ca = testca_new("Verdict");
	f->trust = X509_STORE_new();
	assert_non_null(f->trust);
	assert_int_equal(X509_STORE_add_cert(f->trust, f->ca->root), 1);
	f->chain = sk_X509_new_null();
	assert_non_null(f->chain);
	assert_true(sk_X509_push(f->chain, f->ca->inter) > 0);
	X509_up_ref(f->ca->inter);
	memset(&o, 0, sizeof(o));
	o.cn = PEER;
	o.san = PEER;
	testca_leaf(f->ca, &o, &f->leaf, NULL);
	assert_int_equal(eca_x509_info(f->leaf, &f->info, NULL), 0);

	f->policy.trust = f->trust;
	f->policy.identity = ECA_ID_SAN;
	memset(&f->entry, 0, sizeof(f->entry));
	snprintf(f->entry.host, sizeof(f->entry.host), "%s", PEER);
	snprintf(f->entry.host_id, sizeof(f->entry.host_id),
	    "0e5c7f0a-5a0f-4c1e-9a55-0b1d1c2e3f40");
	f->entry.state = ECA_STATE_ENROLLED;
	assert_int_equal(
	    eca_roster_fp_from_hex(f->info.fingerprint, f->entry.fingerprint),
	    0);
	f->entry.version = 7;

	f->in.policy = &f->policy;
	f->in.leaf = f->leaf;
	f->in.chain = f->chain;
	f->in.expected_host = PEER;
	f->in.primary = PRIMARY;
	f->in.entry = &f->entry;
	f->in.purpose = ECA_PURPOSE_BACKUP;
	f->in.autoenroll_allowed = 1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	X509_free(f->leaf);
	sk_X509_pop_free(f->chain, X509_free);
	X509_STORE_free(f->trust);
	testca_free(f->ca);
	free(f);
	return 0;
}

/* Judge, check the code, and that the message names the peer. */
static struct eca_verdict
judge(struct fx *f, int code)
{
	struct eca_verdict v;

	assert_int_equal(eca_verdict_peer(&f->in, &v), code);
	assert_int_equal(v.code, code);
	assert_true(strlen(v.message) > 0);
	if (code != ECA_ERR_INTERNAL)
		assert_non_null(strstr(v.message, PEER));
	return v;
}

/* Judge and check the code only. */
static struct eca_verdict
judge_any(struct fx *f, int code)
{
	struct eca_verdict v;

	assert_int_equal(eca_verdict_peer(&f->in, &v), code);
	assert_int_equal(v.code, code);
	return v;
}

/* An entry whose enrolled certificate is some other one. */
static void
other_fp(struct fx *f)
{
	memset(f->entry.fingerprint, 0xab, sizeof(f->entry.fingerprint));
}

static void
test_missing_policy_is_an_internal_error(void **state)
{
	struct fx *f = *state;

	f->in.policy = NULL;
	judge(f, ECA_ERR_INTERNAL);
}

static void
test_peer_without_certificate_is_refused_no_client_cert(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	f->in.leaf = NULL;
	v = judge(f, ECA_ERR_NO_CLIENT_CERT);
	assert_non_null(strstr(v.message, "ECA_CERT_PATH"));
}

static void
test_certificate_from_another_ca_is_refused_untrusted(void **state)
{
	struct fx *f = *state;
	struct testca *other = testca_new("Other");
	struct testca_leaf_opts o;
	X509 *leaf;
	struct eca_verdict v;

	memset(&o, 0, sizeof(o));
	o.cn = PEER;
	o.san = PEER;
	testca_leaf(other, &o, &leaf, NULL);
	f->in.leaf = leaf;
	/* Checked before the roster: a stale roster does not mask it. */
	f->in.roster_status = ECA_ERR_ROSTER_STALE;
	v = judge(f, ECA_ERR_UNTRUSTED);
	/* The refusal names the fingerprint it refused. */
	assert_true(strlen(v.peer.fingerprint) == ECA_FP_HEX_LEN);
	assert_non_null(strstr(v.message, "refused"));
	X509_free(leaf);
	testca_free(other);
}

static void
test_expired_certificate_is_refused_expired(void **state)
{
	struct fx *f = *state;
	struct testca_leaf_opts o;
	X509 *leaf;

	memset(&o, 0, sizeof(o));
	o.cn = PEER;
	o.san = PEER;
	o.not_before = -7200;
	o.not_after = -3600;
	testca_leaf(f->ca, &o, &leaf, NULL);
	f->in.leaf = leaf;
	judge(f, ECA_ERR_EXPIRED);
	X509_free(leaf);
}

static void
test_certificate_of_another_host_is_refused_identity_mismatch(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	f->in.expected_host = "media2.example";
	assert_int_equal(eca_verdict_peer(&f->in, &v),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_non_null(strstr(v.message, "media2.example"));
}

static void
test_stale_roster_is_refused_roster_stale(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	f->in.roster_status = ECA_ERR_ROSTER_STALE;
	f->in.roster_err = "the roster was last synced 9999 s ago";
	v = judge(f, ECA_ERR_ROSTER_STALE);
	assert_non_null(strstr(v.message, "9999 s ago"));
	assert_non_null(strstr(v.message, PRIMARY));
}

static void
test_peer_missing_from_roster_without_autoenroll_needs_eca_enroll(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	f->in.entry = NULL;
	f->in.autoenroll_allowed = 0;
	f->in.purpose = ECA_PURPOSE_REPLICATION;
	f->in.no_autoenroll_why =
	    "replication between media servers needs manual enrollment";
	v = judge(f, ECA_ERR_NOT_ENROLLED);
	assert_non_null(strstr(v.message,
	    "run `eca enroll --server " PRIMARY "` on " PEER));
	assert_non_null(strstr(v.message, "replication between media"));
	assert_null(strstr(v.message, "retry"));
}

static void
test_peer_missing_from_roster_with_autoenroll_is_told_to_retry(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	f->in.entry = NULL;
	v = judge(f, ECA_ERR_NOT_ENROLLED);
	assert_non_null(strstr(v.message, "retry"));
	assert_non_null(strstr(v.message, PRIMARY));
}

static void
test_removed_peer_is_refused_not_enrolled(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	f->entry.state = ECA_STATE_REMOVED;
	v = judge(f, ECA_ERR_NOT_ENROLLED);
	assert_non_null(strstr(v.message, "removed"));
}

static void
test_banned_peer_is_refused_banned_even_with_its_certificate(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	f->entry.state = ECA_STATE_BANNED;
	v = judge(f, ECA_ERR_BANNED);
	assert_non_null(strstr(v.message, "eca unban " PEER));
	/* Banned wins over a fingerprint mismatch. */
	other_fp(f);
	judge(f, ECA_ERR_BANNED);
}

static void
test_revoked_enrollment_is_refused_revoked(void **state)
{
	struct fx *f = *state;

	f->entry.state = ECA_STATE_REVOKED;
	judge(f, ECA_ERR_REVOKED);
}

static void
test_other_certificate_than_enrolled_is_refused_fingerprint_mismatch(
    void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;
	char shown[17];

	other_fp(f);
	v = judge(f, ECA_ERR_FINGERPRINT_MISMATCH);
	/* Both fingerprints, short, and the remedy. */
	memcpy(shown, f->info.fingerprint, 16);
	shown[16] = '\0';
	assert_non_null(strstr(v.message, shown));
	assert_non_null(strstr(v.message, "abababababababab"));
	assert_non_null(strstr(v.message, "eca approve " PEER));
	assert_non_null(strstr(v.message, PRIMARY));
}

static void
test_candidate_certificate_in_conflict_is_refused_conflict(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	other_fp(f);
	f->entry.state = ECA_STATE_CONFLICT;
	v = judge(f, ECA_ERR_CONFLICT);
	assert_non_null(strstr(v.message, "eca approve " PEER));
	assert_non_null(strstr(v.message, "eca reject " PEER));
}

static void
test_enrolled_certificate_is_accepted_while_a_candidate_waits(void **state)
{
	struct fx *f = *state;

	f->entry.state = ECA_STATE_CONFLICT;
	judge(f, 0);
}

static void
test_certificate_check_without_certificate_is_no_client_cert(void **state)
{
	struct fx *f = *state;
	struct eca_cert_check cc;

	f->in.leaf = NULL;
	assert_int_equal(eca_verdict_check_cert(&f->in, &cc),
	    ECA_ERR_NO_CLIENT_CERT);
	assert_int_equal(cc.code, ECA_ERR_NO_CLIENT_CERT);
	f->in.policy = NULL;
	assert_int_equal(eca_verdict_check_cert(&f->in, &cc), ECA_ERR_INTERNAL);
}

static void
test_refusal_of_a_certificate_check_already_run_stands(void **state)
{
	struct fx *f = *state;
	struct eca_cert_check cc;
	struct eca_verdict v;

	/* The check ran (elsewhere) and refused: the verdict repeats it. */
	memset(&cc, 0, sizeof(cc));
	cc.info = f->info;
	cc.code = eca_err_set(&cc.err, ECA_ERR_UNTRUSTED, "checked before");
	f->in.cert = &cc;
	v = judge(f, ECA_ERR_UNTRUSTED);
	assert_non_null(strstr(v.message, "checked before"));
	assert_string_equal(v.peer.fingerprint, f->info.fingerprint);
}

static void
test_certificate_check_run_first_gives_the_same_verdict(void **state)
{
	struct fx *f = *state;
	struct eca_cert_check cc;
	struct eca_verdict alone, with;

	alone = judge(f, 0);
	assert_int_equal(eca_verdict_check_cert(&f->in, &cc), 0);
	assert_string_equal(cc.info.fingerprint, f->info.fingerprint);
	f->in.cert = &cc;
	with = judge(f, 0);
	assert_string_equal(with.message, alone.message);
	assert_string_equal(with.peer.fingerprint, alone.peer.fingerprint);

	/* The same for a refusal found by the check itself. */
	f->in.expected_host = "other.example";
	f->in.cert = NULL;
	alone = judge_any(f, ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(eca_verdict_check_cert(&f->in, &cc),
	    ECA_ERR_IDENTITY_MISMATCH);
	f->in.cert = &cc;
	with = judge_any(f, ECA_ERR_IDENTITY_MISMATCH);
	assert_string_equal(with.message, alone.message);
}

static void
test_enrolled_certificate_is_accepted(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	v = judge(f, 0);
	assert_string_equal(v.peer.fingerprint, f->info.fingerprint);
	assert_string_equal(v.peer.cn, PEER);
}

/* ECA_IDENTITY = DN: the input's mapping (the shared primary's roster). */
static int
map_peer(void *arg, const char *subject, char *host, size_t size)
{
	if (arg == NULL || strstr(subject, "CN=" PEER) == NULL)
		return ECA_ERR_NOT_FOUND;
	snprintf(host, size, "%s", (const char *)arg);
	return 0;
}

static void
test_dn_rule_judges_through_the_mapping(void **state)
{
	struct fx *f = *state;
	struct eca_verdict v;

	f->policy.identity = ECA_ID_DN;
	/* no mapping: refused with the remedy */
	v = judge(f, ECA_ERR_IDENTITY_MISMATCH);
	assert_non_null(strstr(v.message, "eca map add"));
	/* mapped to another host: refused */
	f->in.dn_map = map_peer;
	f->in.dn_map_arg = (void *)"other.example";
	v = judge(f, ECA_ERR_IDENTITY_MISMATCH);
	assert_non_null(strstr(v.message, "other.example"));
	/* mapped to the peer: the enrolled certificate is accepted */
	f->in.dn_map_arg = (void *)PEER;
	judge(f, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_missing_policy_is_an_internal_error),
	    T(test_peer_without_certificate_is_refused_no_client_cert),
	    T(test_certificate_from_another_ca_is_refused_untrusted),
	    T(test_expired_certificate_is_refused_expired),
	    T(test_certificate_of_another_host_is_refused_identity_mismatch),
	    T(test_stale_roster_is_refused_roster_stale),
	    T(test_peer_missing_from_roster_without_autoenroll_needs_eca_enroll),
	    T(test_peer_missing_from_roster_with_autoenroll_is_told_to_retry),
	    T(test_removed_peer_is_refused_not_enrolled),
	    T(test_banned_peer_is_refused_banned_even_with_its_certificate),
	    T(test_revoked_enrollment_is_refused_revoked),
	    T(test_other_certificate_than_enrolled_is_refused_fingerprint_mismatch),
	    T(test_candidate_certificate_in_conflict_is_refused_conflict),
	    T(test_enrolled_certificate_is_accepted_while_a_candidate_waits),
	    T(test_certificate_check_without_certificate_is_no_client_cert),
	    T(test_refusal_of_a_certificate_check_already_run_stands),
	    T(test_certificate_check_run_first_gives_the_same_verdict),
	    T(test_enrolled_certificate_is_accepted),
	    T(test_dn_rule_judges_through_the_mapping),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
