/* SPDX-License-Identifier: ISC */
/*
 * verdict.c - the one decision on a peer host's certificate.
 *
 * The checks run in the order verdict.h lists; the first that fails is
 * the reason.  Every message names the peer, the primary, the
 * fingerprints involved (shortened) and what to do about it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "verdict.h"

/* Hex characters of a fingerprint shown in messages. */
#define SHORT_FP 16

static const char *
or_default(const char *s, const char *def)
{
	return s != NULL && s[0] != '\0' ? s : def;
}

/* The first SHORT_FP characters of a hex fingerprint, or "(unknown)". */
static const char *
short_fp(const char *hex, char buf[SHORT_FP + 1])
{
	if (hex == NULL || hex[0] == '\0')
		return "(unknown)";
	memcpy(buf, hex, strnlen(hex, SHORT_FP));
	buf[strnlen(hex, SHORT_FP)] = '\0';
	return buf;
}

static int set(struct eca_verdict *, int, const char *, ...) ECA_PRINTF(3, 4);

static int
set(struct eca_verdict *out, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
	out->code = code;
	return code;
}

/* The remedy of NOT_ENROLLED, which depends on the enrollment rule. */
static int
not_enrolled(const struct eca_verdict_input *in, struct eca_verdict *out,
    const char *host, const char *primary, const char *what)
{
	if (in->nat && !in->autoenroll_allowed)
		return set(out, ECA_ERR_NOT_ENROLLED,
		    "%.253s %s with %.253s: communication with a NAT host does "
		    "not enroll automatically: run `eca enroll --server "
		    "%.253s` on %.253s",
		    host, what, primary, primary, host);
	if (in->autoenroll_allowed)
		return set(out, ECA_ERR_NOT_ENROLLED,
		    "%.253s %s with %.253s; it enrolls automatically on its "
		    "first communication, so retry (if it keeps failing, run "
		    "`eca enroll --server %.253s` on %.253s)",
		    host, what, primary, primary, host);
	return set(out, ECA_ERR_NOT_ENROLLED,
	    "%.253s %s with %.253s and %s communication does not enroll "
	    "automatically (%s): run `eca enroll --server %.253s` on %.253s",
	    host, what, primary, eca_purpose_name(in->purpose),
	    or_default(in->no_autoenroll_why, "manual enrollment is required"),
	    primary, host);
}

int
eca_verdict_check_cert(const struct eca_verdict_input *in,
    struct eca_cert_check *out)
{
	struct eca_peer_policy pol;

	memset(out, 0, sizeof(*out));
	eca_err_clear(&out->err);
	if (in == NULL || in->policy == NULL || in->leaf == NULL)
		out->code = eca_err_set(&out->err,
		    in == NULL || in->policy == NULL ? ECA_ERR_INTERNAL :
						       ECA_ERR_NO_CLIENT_CERT,
		    "no %s to check",
		    in == NULL || in->policy == NULL ? "peer policy" :
						       "certificate");
	else {
		pol = *in->policy;
		if (in->dn_map != NULL) {
			pol.dn_map = in->dn_map;
			pol.dn_map_arg = in->dn_map_arg;
		}
		out->code = eca_x509_check_peer(&pol, in->leaf, in->chain,
		    in->expected_host, &out->info, &out->err);
	}
	ERR_clear_error();
	return out->code;
}

/*
 * The roster entry's part of the verdict, once the certificate passed:
 * enrolled, not banned, not revoked, and the enrolled certificate.
 */
static int
judge_entry(const struct eca_verdict_input *in, struct eca_verdict *out,
    const char *host, const char *primary)
{
	const struct eca_roster_entry *e = in->entry;
	uint8_t fp[ECA_ROSTER_FP_LEN];
	char enrolled_hex[ECA_FP_HEX_LEN + 1];
	char s1[SHORT_FP + 1], s2[SHORT_FP + 1];

	if (e == NULL)
		return not_enrolled(in, out, host, primary, "is not enrolled");
	if (e->state == ECA_STATE_REMOVED)
		return not_enrolled(in, out, host, primary,
		    "is not enrolled (its enrollment was removed)");
	if (e->state == ECA_STATE_BANNED)
		return set(out, ECA_ERR_BANNED,
		    "%.253s is banned by "
		    "%.253s; an administrator of %.253s may lift the ban "
		    "with `eca unban %.253s`",
		    host, primary, primary, host);
	eca_roster_fp_to_hex(e->fingerprint, enrolled_hex);
	if (e->state == ECA_STATE_REVOKED)
		return set(out, ECA_ERR_REVOKED,
		    "the certificate %s enrolled "
		    "for %.253s with %.253s is revoked; install a new "
		    "certificate on %.253s and enroll it (`eca enroll "
		    "--server %.253s`)",
		    short_fp(enrolled_hex, s1), host, primary, host, primary);

	/* ENROLLED or CONFLICT: the enrolled certificate is the one. */
	if (eca_roster_fp_from_hex(out->peer.fingerprint, fp) == 0 &&
	    memcmp(fp, e->fingerprint, sizeof(fp)) == 0)
		return set(out, 0,
		    "%.253s presented certificate %s, the one "
		    "enrolled with %.253s",
		    host, short_fp(out->peer.fingerprint, s1), primary);
	if (e->state == ECA_STATE_CONFLICT)
		return set(out, ECA_ERR_CONFLICT,
		    "%.253s presented "
		    "certificate %s but %s is enrolled with %.253s, and the "
		    "new certificate waits for an administrator: `eca approve "
		    "%.253s --fingerprint FP` on %.253s accepts it, `eca "
		    "reject %.253s --fingerprint FP` keeps the enrolled one",
		    host, short_fp(out->peer.fingerprint, s1),
		    short_fp(enrolled_hex, s2), primary, host, primary, host);
	return set(out, ECA_ERR_FINGERPRINT_MISMATCH,
	    "%.253s presented "
	    "certificate %s but %s is enrolled with %.253s; if the "
	    "certificate was replaced, re-enroll it (`eca enroll --server "
	    "%.253s` on %.253s; a new key needs `eca approve %.253s "
	    "--fingerprint FP` on %.253s)",
	    host, short_fp(out->peer.fingerprint, s1),
	    short_fp(enrolled_hex, s2), primary, primary, host, host, primary);
}

int
eca_verdict_peer(const struct eca_verdict_input *in, struct eca_verdict *out)
{
	struct eca_cert_check local;
	const struct eca_cert_check *cc;
	const char *host, *primary;
	char s1[SHORT_FP + 1];

	memset(out, 0, sizeof(*out));
	if (in == NULL || in->policy == NULL)
		return set(out, ECA_ERR_INTERNAL,
		    "no peer policy to judge a peer's certificate with");
	host = or_default(in->expected_host, "the peer");
	primary = or_default(in->primary, "the primary");

	/* The certificate itself: present, trusted, valid, this host's. */
	if (in->leaf == NULL)
		return set(out, ECA_ERR_NO_CLIENT_CERT,
		    "%.253s presented no certificate; configure ECA_CERT_PATH "
		    "and ECA_PRIVATE_KEY_PATH on %.253s",
		    host, host);
	if ((cc = in->cert) == NULL) {
		(void)eca_verdict_check_cert(in, &local);
		cc = &local;
	}
	eca_certinfo_summary(&out->peer, &cc->info);
	/* Only its code and message are needed from here. */
	if (cc == &local)
		eca_certinfo_clear(&local.info);
	if (cc->code != 0)
		return set(out, cc->code,
		    "the certificate %s presented by "
		    "%.253s is refused: %s",
		    short_fp(out->peer.fingerprint, s1), host, cc->err.msg);

	/* The roster of the shared primary: fail closed when it is old. */
	if (in->roster_status != 0)
		return set(out, in->roster_status,
		    "cannot check %.253s "
		    "against the roster of %.253s: %s",
		    host, primary,
		    or_default(in->roster_err,
			eca_err_desc(in->roster_status)));

	return judge_entry(in, out, host, primary);
}
