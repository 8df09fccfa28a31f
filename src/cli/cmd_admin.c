/* SPDX-License-Identifier: ISC */
/*
 * cmd_admin.c - primary administration: list, show, approve, reject,
 * remove, ban, unban.  On the primary itself these go through the
 * control socket; elsewhere over TLS with this host's certificate, which
 * the primary accepts only if its identity is an ADMIN_IDENTITY.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "wire.h"

#define PAGES_MAX 100000 /* a bound on a misbehaving server's paging */

/* host is canonical (cli_host_arg). */
static int
host_path(struct cli *cli, const char *host, const char *suffix, char *buf,
    size_t len)
{
	char esc[ECA_HOST_MAX * 3];

	if (!eca_hostname_is_canon(host) ||
	    cli_url_escape(host, esc, sizeof(esc)) != 0)
		return cli_usage(cli, "'%s' is not a valid host name", host);
	snprintf(buf, len, "/v1/enrollments/%s%s", esc, suffix);
	return 0;
}

/*
 * The NAT column: what the primary's broker knows of the host ("nat",
 * "online" in its record, docs/nat.md); "-" for other hosts.
 */
static const char *
nat_cell(const json_t *o)
{
	if (!json_is_true(json_object_get(o, "nat")))
		return "-";
	return json_is_true(json_object_get(o, "online")) ? "online" :
							    "offline";
}

static int
table_add_record(struct out_table *t, const struct eca_enrollment *rec,
    const char *nat)
{
	char fp[64], na[32];
	const char *cells[7];

	cells[0] = rec->host;
	cells[1] = eca_state_name(rec->state);
	cells[2] = out_dash(rec->host_id);
	cells[3] = eca_method_name(rec->method);
	cells[4] = out_fp_short(rec->cert.fingerprint, fp, sizeof(fp));
	cells[5] = out_time(rec->cert.not_after, na, sizeof(na));
	cells[6] = nat != NULL ? nat : "-";
	return out_table_add(t, cells);
}

/*
 * Fetch pages of the list into all until next is null or limit is reached
 * (nat: only the NAT hosts' records, limit counting those).
 */
static int
fetch_all(struct cli *cli, struct eca_client *c, const char *state, int nat,
    long limit, json_t *all, const char *who)
{
	const json_t *rec;
	json_t *resp = NULL, *page, *next;
	char path[ECA_HOST_MAX * 3 + 128], after[ECA_HOST_MAX * 3];
	char esc[ECA_HOST_MAX * 3];
	char what[ECA_HOST_MAX + 64];
	size_t i, got = 0, npages;
	long want;
	int r;

	after[0] = '\0';
	snprintf(what, sizeof(what), "cannot list the enrollments on %s", who);
	for (npages = 0; npages < PAGES_MAX; npages++) {
		want = ECA_LIST_PAGE_MAX;
		/* Filtered: whole pages, the limit counts what is kept. */
		if (!nat && limit > 0 && limit - (long)got < want)
			want = limit - (long)got;
		snprintf(path, sizeof(path),
		    "/v1/enrollments?limit=%ld%s%s%s%s", want,
		    state != NULL ? "&state=" : "", state != NULL ? state : "",
		    after[0] != '\0' ? "&after=" : "", after);
		if ((r = cli_request(cli, c, "GET", path, NULL, &resp, what)) !=
		    0)
			goto out;
		page =
		    resp != NULL ? json_object_get(resp, "enrollments") : NULL;
		if (!json_is_array(page)) {
			r = out_error(cli->json, ECA_ERR_PROTOCOL,
			    "%s: the "
			    "answer has no \"enrollments\" array",
			    what);
			goto out;
		}
		for (i = 0; i < json_array_size(page); i++) {
			if (limit > 0 && (long)got >= limit)
				break;
			rec = json_array_get(page, i);
			if (nat && !json_is_true(json_object_get(rec, "nat")))
				continue;
			if (json_array_append(all, (json_t *)rec) != 0) {
				r = out_error(cli->json, ECA_ERR_NOMEM,
				    "out of memory");
				goto out;
			}
			got++;
		}
		next = json_object_get(resp, "next");
		if (!json_is_string(next) || json_string_length(next) == 0 ||
		    json_array_size(page) == 0 ||
		    (limit > 0 && (long)got >= limit))
			break;
		/* A server repeating its cursor would loop forever. */
		if (cli_url_escape(json_string_value(next), esc, sizeof(esc)) !=
			0 ||
		    strcmp(esc, after) == 0) {
			r = out_error(cli->json, ECA_ERR_PROTOCOL,
			    "%s: bad "
			    "\"next\" cursor in the answer",
			    what);
			goto out;
		}
		memcpy(after, esc, sizeof(after));
		json_decref(resp);
		resp = NULL;
	}
	r = 0;
out:
	json_decref(resp);
	return r;
}

/* --state (upper case, in state) and --limit (0: all); 0 or usage. */
static int
list_args(struct cli *cli, const struct cli_args *a, char *state, size_t len,
    long *limit)
{
	const char *s;
	char *end;
	size_t i;

	state[0] = '\0';
	*limit = 0;
	if ((s = cli_opt(a, "--state")) != NULL) {
		for (i = 0; s[i] != '\0' && i + 1 < len; i++)
			state[i] = (char)toupper((unsigned char)s[i]);
		state[i] = '\0';
		if (s[i] != '\0' || eca_state_from_name(state) < 0)
			return cli_usage(cli,
			    "--state is one of ENROLLED, "
			    "CONFLICT, REMOVED, BANNED, REVOKED, not '%s'",
			    s);
	}
	if ((s = cli_opt(a, "--limit")) != NULL) {
		errno = 0;
		*limit = strtol(s, &end, 10);
		if (errno != 0 || end == s || *end != '\0' || *limit < 1 ||
		    *limit > 10000000)
			return cli_usage(cli,
			    "--limit is a number from 1 to "
			    "10000000, not '%s'",
			    s);
	}
	return 0;
}

/*
 * --nat: the NAT hosts online on a restricted broker session (not
 * enrolled, so not in the registry's list), into *out (the answer's
 * "sessions"); 0 or the exit code.
 */
static int
fetch_restricted(struct cli *cli, struct eca_client *c, const char *who,
    json_t **out)
{
	json_t *resp = NULL, *s;
	char what[ECA_HOST_MAX + 64];
	int r;

	snprintf(what, sizeof(what),
	    "cannot list the restricted broker sessions on %s", who);
	if ((r = cli_request(cli, c, "GET", "/v1/nat/restricted", NULL, &resp,
		 what)) != 0)
		return r;
	s = resp != NULL ? json_object_get(resp, "sessions") : NULL;
	if (!json_is_array(s)) {
		json_decref(resp);
		return out_error(cli->json, ECA_ERR_PROTOCOL,
		    "%s: the answer has no \"sessions\" array", what);
	}
	*out = json_incref(s);
	json_decref(resp);
	return 0;
}

/* A restricted session's row: not enrolled, online on the broker. */
static int
table_add_restricted(struct out_table *t, const json_t *o)
{
	const json_t *h = json_object_get(o, "host");
	const char *cells[7];

	if (!json_is_string(h))
		return 0;
	cells[0] = json_string_value(h);
	cells[1] = "NOT_ENROLLED";
	cells[2] = cells[3] = cells[4] = cells[5] = "-";
	cells[6] = "online (restricted)";
	return out_table_add(t, cells);
}

/*
 * The records of all, then the restricted sessions (NULL: none asked),
 * as a table on stdout; 0 or the exit code.
 */
static int
print_list(const json_t *all, const json_t *restricted)
{
	static const char *const hdr[] = {"HOST", "STATE", "HOST ID", "METHOD",
	    "FINGERPRINT", "EXPIRES", "NAT"};
	struct out_table *t;
	struct eca_enrollment rec = {0};
	struct eca_err err;
	size_t i;
	int r = 0;

	if ((t = out_table_new(7, hdr)) == NULL)
		return out_error(0, ECA_ERR_NOMEM, "out of memory");
	for (i = 0; i < json_array_size(all); i++) {
		eca_err_clear(&err);
		if (eca_wire_parse_enrollment(json_array_get(all, i), &rec,
			&err) != 0) {
			r = out_error(0, ECA_ERR_PROTOCOL,
			    "cannot read "
			    "enrollment %zu of the list: %s",
			    i + 1, err.msg);
			goto out;
		}
		r = table_add_record(t, &rec, nat_cell(json_array_get(all, i)));
		eca_enrollment_clear(&rec);
		if (r != 0) {
			r = out_error(0, ECA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < json_array_size(restricted); i++)
		if (table_add_restricted(t, json_array_get(restricted, i)) !=
		    0) {
			r = out_error(0, ECA_ERR_NOMEM, "out of memory");
			goto out;
		}
	out_table_print(t, stdout);
out:
	out_table_free(t);
	return r;
}

int
cmd_list(struct cli *cli, const struct cli_args *a)
{
	struct eca_client *c = NULL;
	json_t *all = NULL, *top = NULL, *restricted = NULL;
	const char *who;
	char state[32];
	long limit;
	int r, nat;

	if ((r = list_args(cli, a, state, sizeof(state), &limit)) != 0)
		return r;
	if ((r = cli_admin_client(cli, cli_opt(a, "--server"), &c, &who)) != 0)
		goto out;
	if ((all = json_array()) == NULL) {
		r = out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	nat = cli_opt(a, "--nat") != NULL;
	if ((r = fetch_all(cli, c, state[0] != '\0' ? state : NULL, nat, limit,
		 all, who)) != 0)
		goto out;
	/* Not enrolled: no state to filter by, none under --state. */
	if (nat && state[0] == '\0' &&
	    (r = fetch_restricted(cli, c, who, &restricted)) != 0)
		goto out;
	if (cli->json) {
		if ((top = json_pack("{s:O}", "enrollments", all)) == NULL ||
		    (restricted != NULL &&
			json_object_set(top, "restricted", restricted) != 0))
			r = out_error(cli->json, ECA_ERR_NOMEM,
			    "out of memory");
		else
			out_json(top);
	} else if (json_array_size(all) + json_array_size(restricted) == 0)
		printf("No enrollments%s%s%s on %s.\n",
		    nat ? " of NAT hosts" : "",
		    state[0] != '\0' ? " in state " : "", state, who);
	else
		r = print_list(all, restricted);
out:
	json_decref(top);
	json_decref(restricted);
	json_decref(all);
	eca_client_free(c);
	return r;
}

static void
print_cert(const char *title, const struct eca_certinfo *ci)
{
	char nb[32], na[32];

	printf("%s\n", title);
	printf("  Fingerprint:   %s\n", out_dash(ci->fingerprint));
	printf("  SPKI SHA-256:  %s\n", out_dash(ci->spki_fingerprint));
	printf("  Subject:       %s\n", out_dash(ci->subject));
	printf("  Issuer:        %s\n", out_dash(ci->issuer));
	printf("  Serial:        %s\n", out_dash(ci->serial));
	printf("  Valid:         %s to %s\n",
	    out_time(ci->not_before, nb, sizeof(nb)),
	    out_time(ci->not_after, na, sizeof(na)));
	printf("  Key:           %s, signed %s\n", out_dash(ci->key_desc),
	    out_dash(ci->sig_alg));
}

static const char *
jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "-";
}

/* Every waiting certificate, with what an administrator decides by. */
static void
print_candidates(const struct eca_enrollment *rec,
    const struct eca_candidate *cands, size_t n)
{
	char b1[32], b2[32], title[ECA_HOST_MAX + 64];
	size_t i;

	if (n == 0)
		return;
	printf("Waiting certificates: %zu (decide on each: `eca approve %s "
	       "--fingerprint FP` or `eca reject %s --fingerprint FP`)\n",
	    n, rec->host, rec->host);
	for (i = 0; i < n; i++) {
		snprintf(title, sizeof(title), "Candidate %zu:", i + 1);
		print_cert(title, &cands[i].cert);
		printf("  Received:      %s from %s (last seen %s)\n",
		    out_time(cands[i].at, b1, sizeof(b1)),
		    out_dash(cands[i].source),
		    out_time(cands[i].last_seen, b2, sizeof(b2)));
	}
}

static void
print_record(const struct eca_enrollment *rec,
    const struct eca_candidate *cands, size_t ncands, const json_t *history)
{
	static const char *const hdr[] = {"AT", "EVENT", "STATE", "FINGERPRINT",
	    "ACTOR", "SOURCE"};
	struct out_table *t;
	const json_t *h;
	const char *cells[6];
	char b1[32], b2[32], b3[32], fp[64], title[2 * ECA_HOST_MAX + 80];
	size_t i;

	printf("Host:          %s\n", rec->host);
	printf("Host ID:       %s\n", out_dash(rec->host_id));
	printf("State:         %s\n", eca_state_name(rec->state));
	printf("Role:          %s\n", eca_config_role_name(rec->role));
	printf("Method:        %s\n", eca_method_name(rec->method));
	printf("Primary:       %s\n", out_dash(rec->primary));
	printf("Enrolled at:   %s\n",
	    out_time(rec->enrolled_at, b1, sizeof(b1)));
	printf("Updated at:    %s\n",
	    out_time(rec->updated_at, b2, sizeof(b2)));
	printf("Last seen:     %s from %s\n",
	    out_time(rec->last_seen, b3, sizeof(b3)), out_dash(rec->source));
	print_cert("Enrolled certificate:", &rec->cert);
	if (ncands > 0)
		print_candidates(rec, cands, ncands);
	else if (rec->has_candidate) {
		/* A primary from before the list: its one summary. */
		snprintf(title, sizeof(title),
		    "Candidate certificate "
		    "(waiting: `eca approve %s` or `eca reject %s`):",
		    rec->host, rec->host);
		print_cert(title, &rec->candidate);
		printf("  Received:      %s from %s\n",
		    out_time(rec->candidate_at, b1, sizeof(b1)),
		    out_dash(rec->candidate_source));
	}
	printf("History:\n");
	if (json_array_size(history) == 0) {
		printf("  (none)\n");
		return;
	}
	if ((t = out_table_new(6, hdr)) == NULL)
		return;
	for (i = 0; i < json_array_size(history); i++) {
		h = json_array_get(history, i);
		cells[0] = jstr(h, "at");
		cells[1] = jstr(h, "event");
		cells[2] = jstr(h, "state");
		cells[3] = out_fp_short(
		    json_is_string(json_object_get(h, "fingerprint")) ?
			jstr(h, "fingerprint") :
			"",
		    fp, sizeof(fp));
		cells[4] = jstr(h, "actor");
		cells[5] = jstr(h, "source");
		if (out_table_add(t, cells) != 0)
			break;
	}
	out_table_print(t, stdout);
	out_table_free(t);
}

int
cmd_show(struct cli *cli, const struct cli_args *a)
{
	struct eca_client *c = NULL;
	struct eca_enrollment rec = {0};
	struct eca_candidate *cands = NULL;
	struct eca_err err;
	json_t *resp = NULL, *hresp = NULL, *hist, *top = NULL;
	const char *host = a->pos[0], *who;
	char path[ECA_HOST_MAX * 3 + 32], what[ECA_HOST_MAX * 2 + 64];
	char canon[ECA_HOST_MAX];
	size_t ncands = 0;
	int r;

	if ((r = cli_host_arg(cli, host, canon, sizeof(canon))) != 0)
		return r;
	host = canon;
	if ((r = host_path(cli, host, "", path, sizeof(path))) != 0)
		return r;
	if ((r = cli_admin_client(cli, cli_opt(a, "--server"), &c, &who)) != 0)
		goto out;
	snprintf(what, sizeof(what), "cannot show %s on %s", host, who);
	if ((r = cli_request(cli, c, "GET", path, NULL, &resp, what)) != 0)
		goto out;
	eca_err_clear(&err);
	if (resp == NULL || eca_wire_parse_enrollment(resp, &rec, &err) != 0 ||
	    eca_wire_parse_candidates(resp, &cands, &ncands, &err) != 0) {
		r = out_error(cli->json, ECA_ERR_PROTOCOL,
		    "%s: bad record in "
		    "the answer: %s",
		    what, err.msg);
		goto out;
	}
	(void)host_path(cli, host, "/history", path, sizeof(path));
	if ((r = cli_request(cli, c, "GET", path, NULL, &hresp, what)) != 0)
		goto out;
	hist = hresp != NULL ? json_object_get(hresp, "history") : NULL;
	if (!json_is_array(hist)) {
		r = out_error(cli->json, ECA_ERR_PROTOCOL,
		    "%s: the answer has "
		    "no \"history\" array",
		    what);
		goto out;
	}
	if (cli->json) {
		if ((top = json_pack("{s:O, s:O}", "enrollment", resp,
			 "history", hist)) == NULL) {
			r = out_error(cli->json, ECA_ERR_NOMEM,
			    "out of memory");
			goto out;
		}
		out_json(top);
	} else
		print_record(&rec, cands, ncands, hist);
	r = 0;
out:
	eca_candidates_free(cands, ncands);
	eca_enrollment_clear(&rec);
	json_decref(top);
	json_decref(resp);
	json_decref(hresp);
	eca_client_free(c);
	return r;
}

/*
 * approve, reject, remove, ban, unban: one call on HOST (with body, may
 * be NULL), then its outcome.
 */
static int
host_action(struct cli *cli, const struct cli_args *a, const char *method,
    const char *suffix, const char *verb, const json_t *body)
{
	struct eca_client *c = NULL;
	struct eca_enrollment rec = {0};
	json_t *resp = NULL, *j;
	const char *host = a->pos[0], *who, *outcome;
	char path[ECA_HOST_MAX * 3 + 32], what[ECA_HOST_MAX * 2 + 64];
	char canon[ECA_HOST_MAX];
	int r, have_rec = 0;

	if ((r = cli_host_arg(cli, host, canon, sizeof(canon))) != 0)
		return r;
	host = canon;
	if ((r = host_path(cli, host, suffix, path, sizeof(path))) != 0)
		return r;
	if ((r = cli_admin_client(cli, cli_opt(a, "--server"), &c, &who)) != 0)
		goto out;
	snprintf(what, sizeof(what), "cannot %s %s on %s", verb, host, who);
	if ((r = cli_request(cli, c, method, path, body, &resp, what)) != 0)
		goto out;
	if (cli->json) {
		out_json(resp);
		r = 0;
		goto out;
	}
	outcome = resp != NULL ?
	    json_string_value(json_object_get(resp, "outcome")) :
	    NULL;
	j = resp != NULL ? json_object_get(resp, "enrollment") : NULL;
	if (json_is_object(j))
		have_rec = eca_wire_parse_enrollment(j, &rec, NULL) == 0;
	if (outcome == NULL)
		outcome = "done";
	if (strcmp(outcome, "APPROVED") == 0)
		printf("Approved %s on %s: certificate %s is now enrolled",
		    host, who,
		    body != NULL ? json_string_value(
				       json_object_get(body, "fingerprint")) :
				   "-");
	else if (strcmp(outcome, "REJECTED") == 0)
		printf("Rejected certificate %s of %s on %s: the enrolled one "
		       "stays",
		    body != NULL ? json_string_value(
				       json_object_get(body, "fingerprint")) :
				   "-",
		    host, who);
	else if (strcmp(outcome, "REMOVED") == 0)
		printf("Removed the enrollment of %s from %s", host, who);
	else if (strcmp(outcome, "BANNED") == 0)
		printf("Banned %s on %s: it cannot enroll until `eca unban "
		       "%s`",
		    host, who, host);
	else if (strcmp(outcome, "UNBANNED") == 0)
		printf("Lifted the ban of %s on %s: it must enroll again", host,
		    who);
	else if (strcmp(outcome, "UNCHANGED") == 0 && strcmp(verb, "ban") == 0)
		printf("%s was already banned on %s", host, who);
	else
		printf("%s %s on %s: %s", verb, host, who, outcome);
	if (have_rec)
		printf(" (state %s, fingerprint %s)", eca_state_name(rec.state),
		    out_dash(rec.cert.fingerprint));
	printf("\n");
	if (have_rec && rec.ncandidates > 0)
		printf("%d other certificate(s) still wait for %s: see `eca "
		       "show %s`\n",
		    rec.ncandidates, host, host);
	r = 0;
out:
	eca_enrollment_clear(&rec);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

/*
 * Without --fingerprint: the one certificate waiting, said so; with more
 * than one the administrator must choose (listed on stderr, exit 2).
 */
static int
pick_candidate(struct cli *cli, const struct cli_args *a, const char *verb,
    char fp[ECA_FP_HEX_LEN + 1])
{
	struct eca_client *c = NULL;
	struct eca_enrollment rec = {0};
	struct eca_candidate *cands = NULL;
	struct eca_err err;
	json_t *resp = NULL;
	const char *host = a->pos[0], *who;
	char path[ECA_HOST_MAX * 3 + 32], what[ECA_HOST_MAX * 2 + 64];
	char b1[32];
	size_t n = 0, i;
	int r;

	if ((r = host_path(cli, host, "", path, sizeof(path))) != 0)
		return r;
	if ((r = cli_admin_client(cli, cli_opt(a, "--server"), &c, &who)) != 0)
		goto out;
	snprintf(what, sizeof(what), "cannot %s %s on %s", verb, host, who);
	if ((r = cli_request(cli, c, "GET", path, NULL, &resp, what)) != 0)
		goto out;
	eca_err_clear(&err);
	if (resp == NULL || eca_wire_parse_enrollment(resp, &rec, &err) != 0 ||
	    eca_wire_parse_candidates(resp, &cands, &n, &err) != 0) {
		r = out_error(cli->json, ECA_ERR_PROTOCOL,
		    "%s: bad record in "
		    "the answer: %s",
		    what, err.msg);
		goto out;
	}
	if (n == 0) {
		r = out_error(cli->json, ECA_ERR_NOT_FOUND,
		    "%s: no "
		    "certificate waits for %s (state %s)",
		    what, host, eca_state_name(rec.state));
		goto out;
	}
	if (n > 1) {
		out_note("%zu certificates wait for %s on %s; name the one to "
			 "%s with --fingerprint:",
		    n, host, who, verb);
		for (i = 0; i < n; i++)
			fprintf(stderr, "  %s  from %s at %s\n",
			    cands[i].cert.fingerprint,
			    out_dash(cands[i].source),
			    out_time(cands[i].at, b1, sizeof(b1)));
		r = out_error(cli->json, ECA_ERR_USAGE,
		    "%s: more than one "
		    "certificate waits (eca %s %s --fingerprint FP)",
		    what, verb, host);
		goto out;
	}
	snprintf(fp, ECA_FP_HEX_LEN + 1, "%s", cands[0].cert.fingerprint);
	/* Said where it cannot spoil --json's stdout. */
	if (cli->json)
		out_note("one certificate waits for %s: %s from %s at %s; "
			 "deciding on it",
		    host, fp, out_dash(cands[0].source),
		    out_time(cands[0].at, b1, sizeof(b1)));
	else
		printf("One certificate waits for %s: %s from %s at %s; "
		       "deciding on it.\n",
		    host, fp, out_dash(cands[0].source),
		    out_time(cands[0].at, b1, sizeof(b1)));
	r = 0;
out:
	eca_candidates_free(cands, n);
	eca_enrollment_clear(&rec);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

/*
 * Bulk approve/reject (--all or a glob): one API call per host in
 * CONFLICT, each with its one candidate's fingerprint, so the API's
 * fingerprint rule and one audit entry per host hold.
 */
struct bulk {
	struct cli *cli;
	struct eca_client *c;
	const char *who, *suffix, *verb;
	int dry;
	json_t *results; /* the JSON answer's "results" */
	size_t done, failed;
};

/* A host that could not be decided on: stderr and a result with error. */
static int bulk_fail(struct bulk *b, const char *host, const char *fp, int code,
    const char *fmt, ...) ECA_PRINTF(5, 6);

static int
bulk_fail(struct bulk *b, const char *host, const char *fp, int code,
    const char *fmt, ...)
{
	char msg[ECA_ERR_MSG_MAX + 256];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out_note("%s", msg);
	b->failed++;
	j = json_pack("{s:s, s:s?, s:s, s:s}", "host", host, "fingerprint", fp,
	    "error", msg, "code", eca_err_name(code));
	if (j == NULL || json_array_append_new(b->results, j) != 0)
		return ECA_ERR_NOMEM;
	return 0;
}

/* The one candidate of host in fp, or a reason (said) why not: 1. */
static int
bulk_candidate(struct bulk *b, const char *host, const char *path,
    char fp[ECA_FP_HEX_LEN + 1], int *nomem)
{
	struct eca_enrollment rec = {0};
	struct eca_candidate *cands = NULL;
	struct eca_err err;
	json_t *resp = NULL;
	size_t n = 0;
	long status;
	int r = 1;

	eca_err_clear(&err);
	if (eca_client_call(b->c, "GET", path, NULL, &status, &resp, &err) !=
	    0) {
		*nomem = bulk_fail(b, host, NULL,
		    err.code != 0 ? err.code : ECA_ERR_INTERNAL,
		    "cannot %s %s on %s: %s", b->verb, host, b->who, err.msg);
		goto out;
	}
	if (resp == NULL || eca_wire_parse_enrollment(resp, &rec, &err) != 0 ||
	    eca_wire_parse_candidates(resp, &cands, &n, &err) != 0) {
		*nomem = bulk_fail(b, host, NULL, ECA_ERR_PROTOCOL,
		    "cannot %s %s on %s: bad record in the answer: %s", b->verb,
		    host, b->who, err.msg);
		goto out;
	}
	if (n == 0) {
		*nomem = bulk_fail(b, host, NULL, ECA_ERR_NOT_FOUND,
		    "skipped %s: no certificate waits for it any more "
		    "(state %s)",
		    host, eca_state_name(rec.state));
		goto out;
	}
	if (n > 1) {
		*nomem = bulk_fail(b, host, NULL, ECA_ERR_FINGERPRINT_REQUIRED,
		    "skipped %s: %zu certificates wait for it; %s it with "
		    "--fingerprint (see `eca show %s`)",
		    host, n, b->verb, host);
		goto out;
	}
	snprintf(fp, ECA_FP_HEX_LEN + 1, "%s", cands[0].cert.fingerprint);
	r = 0;
out:
	eca_candidates_free(cands, n);
	eca_enrollment_clear(&rec);
	json_decref(resp);
	return r;
}

/* Decide on host (in CONFLICT); 0, or ECA_ERR_NOMEM. */
static int
bulk_one(struct bulk *b, const char *host)
{
	char path[ECA_HOST_MAX * 3 + 32], esc[ECA_HOST_MAX * 3];
	char fp[ECA_FP_HEX_LEN + 1];
	struct eca_err err;
	json_t *body = NULL, *resp = NULL, *j;
	const char *outcome;
	long status;
	int nomem = 0;

	if (cli_url_escape(host, esc, sizeof(esc)) != 0)
		return bulk_fail(b, host, NULL, ECA_ERR_PROTOCOL,
		    "cannot %s %s: the primary listed a bad host name", b->verb,
		    host);
	snprintf(path, sizeof(path), "/v1/enrollments/%s", esc);
	if (bulk_candidate(b, host, path, fp, &nomem) != 0)
		return nomem;
	if (b->dry)
		outcome = strcmp(b->verb, "approve") == 0 ? "WOULD_APPROVE" :
							    "WOULD_REJECT";
	else {
		snprintf(path, sizeof(path), "/v1/enrollments/%s%s", esc,
		    b->suffix);
		if ((body = json_pack("{s:s}", "fingerprint", fp)) == NULL)
			return ECA_ERR_NOMEM;
		eca_err_clear(&err);
		if (eca_client_call(b->c, "POST", path, body, &status, &resp,
			&err) != 0) {
			json_decref(body);
			json_decref(resp);
			return bulk_fail(b, host, fp,
			    err.code != 0 ? err.code : ECA_ERR_INTERNAL,
			    "cannot %s %s on %s: %s", b->verb, host, b->who,
			    err.msg);
		}
		json_decref(body);
		j = resp != NULL ? json_object_get(resp, "outcome") : NULL;
		outcome = json_is_string(j) ? json_string_value(j) : "DONE";
	}
	if (!b->cli->json) {
		if (b->dry)
			printf("Would %s %s on %s: certificate %s\n", b->verb,
			    host, b->who, fp);
		else if (strcmp(b->verb, "approve") == 0)
			printf("Approved %s on %s: certificate %s is now "
			       "enrolled\n",
			    host, b->who, fp);
		else
			printf("Rejected certificate %s of %s on %s: the "
			       "enrolled one stays\n",
			    fp, host, b->who);
	}
	b->done++;
	j = json_pack("{s:s, s:s, s:s}", "host", host, "fingerprint", fp,
	    "outcome", outcome);
	json_decref(resp);
	if (j == NULL || json_array_append_new(b->results, j) != 0)
		return ECA_ERR_NOMEM;
	return 0;
}

/* glob: NULL for --all, else a pattern over the hosts in CONFLICT. */
static int
bulk_decision(struct cli *cli, const struct cli_args *a, const char *suffix,
    const char *verb, const char *glob)
{
	struct bulk b = {.cli = cli, .suffix = suffix, .verb = verb};
	json_t *all = NULL, *top = NULL;
	const char *host;
	char pat[ECA_HOST_MAX * 2];
	size_t i;
	int r;

	b.dry = cli_opt(a, "--dry-run") != NULL;
	if (glob != NULL) {
		/* Host names are canonical in lower case. */
		for (i = 0; glob[i] != '\0' && i + 1 < sizeof(pat); i++)
			pat[i] = (char)tolower((unsigned char)glob[i]);
		pat[i] = '\0';
	}
	if ((r = cli_admin_client(cli, cli_opt(a, "--server"), &b.c, &b.who)) !=
	    0)
		goto out;
	if ((all = json_array()) == NULL ||
	    (b.results = json_array()) == NULL) {
		r = out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = fetch_all(cli, b.c, "CONFLICT", 0, 0, all, b.who)) != 0)
		goto out;
	for (i = 0; i < json_array_size(all); i++) {
		host = json_string_value(
		    json_object_get(json_array_get(all, i), "host"));
		if (host == NULL ||
		    (glob != NULL && fnmatch(pat, host, 0) != 0))
			continue;
		if (bulk_one(&b, host) != 0) {
			r = out_error(cli->json, ECA_ERR_NOMEM,
			    "out of memory");
			goto out;
		}
	}
	if (cli->json) {
		top = json_pack("{s:b, s:O}", "dry_run", b.dry, "results",
		    b.results);
		if ((r = out_json_end(top, top == NULL ? ECA_ERR_NOMEM : 0,
			 "the results")) != 0)
			goto out;
	} else if (b.done + b.failed == 0)
		printf("No host in CONFLICT on %s%s%s%s.\n", b.who,
		    glob != NULL ? " matches '" : "", glob != NULL ? glob : "",
		    glob != NULL ? "'" : "");
	else
		printf("%s %zu of %zu host(s) in CONFLICT on %s%s%s.\n",
		    b.dry ? "Would decide on" :
			    (strcmp(verb, "approve") == 0 ? "Approved" :
							    "Rejected"),
		    b.done, b.done + b.failed, b.who,
		    b.failed > 0 ? "; skipped or failed: " : "",
		    b.failed > 0 ? "see above" : "");
	r = b.failed > 0 ? ECA_EXIT_FAILURE : 0;
out:
	json_decref(b.results);
	json_decref(all);
	eca_client_free(b.c);
	return r;
}

static int
decision(struct cli *cli, const struct cli_args *a, const char *suffix,
    const char *verb)
{
	char fp[ECA_FP_HEX_LEN + 1];
	const char *given = cli_opt(a, "--fingerprint");
	const char *host = a->npos > 0 ? a->pos[0] : NULL;
	int all = cli_opt(a, "--all") != NULL;
	int glob = host != NULL && strpbrk(host, "*?[") != NULL;
	json_t *body = NULL;
	int r;

	if (all && host != NULL)
		return cli_usage(cli,
		    "give HOST (or a glob like 'media*') or --all, not both");
	if (!all && host == NULL)
		return cli_usage(cli,
		    "%s needs HOST, a quoted glob like 'media*', or --all",
		    verb);
	if ((all || glob) && given != NULL)
		return cli_usage(cli,
		    "--fingerprint names one host's certificate: %s that "
		    "host by name, not with %s",
		    verb, all ? "--all" : "a glob");
	if (all || glob)
		return bulk_decision(cli, a, suffix, verb, all ? NULL : host);
	if (cli_opt(a, "--dry-run") != NULL)
		return cli_usage(cli,
		    "--dry-run goes with --all or a glob; `eca show %s` "
		    "shows what waits for one host",
		    host);
	if (given != NULL) {
		if (eca_wire_fp_normalize(given, fp) != 0)
			return cli_usage(cli,
			    "--fingerprint is a SHA-256 "
			    "fingerprint (64 hex digits, colons allowed), "
			    "not '%s'",
			    given);
	} else if ((r = pick_candidate(cli, a, verb, fp)) != 0)
		return r;
	if ((body = json_pack("{s:s}", "fingerprint", fp)) == NULL)
		return out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
	r = host_action(cli, a, "POST", suffix, verb, body);
	json_decref(body);
	return r;
}

int
cmd_approve(struct cli *cli, const struct cli_args *a)
{
	return decision(cli, a, "/approve", "approve");
}

int
cmd_reject(struct cli *cli, const struct cli_args *a)
{
	return decision(cli, a, "/reject", "reject");
}

int
cmd_remove(struct cli *cli, const struct cli_args *a)
{
	return host_action(cli, a, "DELETE", "", "remove", NULL);
}

int
cmd_ban(struct cli *cli, const struct cli_args *a)
{
	return host_action(cli, a, "POST", "/ban", "ban", NULL);
}

int
cmd_unban(struct cli *cli, const struct cli_args *a)
{
	return host_action(cli, a, "POST", "/unban", "unban", NULL);
}
