/* SPDX-License-Identifier: ISC */
/*
 * test_config.c - eca.conf parser: every refusal first (with its code and
 * its `file:LINE:`), then defaults, every key, repeatables, IPv6 and the
 * dump round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char tmpdir[] = "/tmp/eca-test-config.XXXXXX";
static char conf_path[sizeof(tmpdir) + 32];

static int
group_setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/eca.conf", tmpdir);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	return rmdir(tmpdir);
}

static void
write_file(const char *text, size_t len)
{
	FILE *f;

	f = fopen(conf_path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	/* Whatever the umask, the loader refuses world-writable files. */
	assert_int_equal(chmod(conf_path, 0644), 0);
}

/* Load text through a real file, as ecad -f does. */
static int
load_text(const char *text, struct eca_config **cfg, struct eca_err *err)
{
	write_file(text, strlen(text));
	return eca_config_load(conf_path, cfg, err);
}

/*
 * The file is refused with ECA_ERR_CONFIG, the message starts with
 * `PATH:LINE: ` (or `PATH: ` when line is 0) and contains needle.
 */
static void
assert_refused_len(const char *text, size_t len, size_t line,
    const char *needle)
{
	struct eca_config *cfg = (struct eca_config *)0x1;
	struct eca_err err;
	char prefix[256];
	int r;

	write_file(text, len);
	memset(&err, 0, sizeof(err));
	r = eca_config_load(conf_path, &cfg, &err);
	if (r != ECA_ERR_CONFIG || strstr(err.msg, needle) == NULL)
		print_error("got %d '%s', wanted '%s'\n", r, err.msg, needle);
	assert_int_equal(r, ECA_ERR_CONFIG);
	assert_int_equal(err.code, ECA_ERR_CONFIG);
	assert_null(cfg);
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%zu: ", conf_path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", conf_path);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
		print_error("message '%s' does not start with '%s'\n", err.msg,
		    prefix);
	assert_int_equal(strncmp(err.msg, prefix, strlen(prefix)), 0);
	assert_non_null(strstr(err.msg, needle));
}

static void
assert_refused(const char *text, size_t line, const char *needle)
{
	assert_refused_len(text, strlen(text), line, needle);
}

#define HOST "CLIENT_NAME = host1.example.com\n"
#define CREDS                                                                  \
	"ECA_CERT_PATH = /etc/eca/cert.pem\n"                                  \
	"ECA_PRIVATE_KEY_PATH = /etc/eca/key.pem\n"                            \
	"ECA_TRUST_STORE_PATH = /etc/eca/ca.pem\n"

/* ---- refusals, one per rule ---- */

static void
test_unknown_key_is_refused_with_its_line(void **state)
{
	(void)state;
	assert_refused(HOST "# comment\nNO_SUCH_KEY = 1\n", 3,
	    "unknown key 'NO_SUCH_KEY'");
}

static void
test_lower_case_key_is_unknown(void **state)
{
	(void)state;
	assert_refused("client_name = host1\n", 1, "unknown key 'client_name'");
}

static void
test_line_without_equals_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "\nSTATE_DIR /var/lib/eca\n", 3, "missing '='");
	assert_refused(HOST "SERVER\n", 2, "missing '='");
	assert_refused("= value\n", 1, "missing key");
}

static void
test_empty_value_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "USER =\n", 2, "USER has an empty value");
	assert_refused(HOST "USER =   \t \n", 2, "empty value");
}

static void
test_non_repeatable_key_given_twice_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "ROLE = media\n\nROLE = client\n", 4,
	    "ROLE given twice (first on line 2)");
	assert_refused(HOST "STATE_DIR = /a\nSTATE_DIR = /a\n", 3,
	    "given twice");
}

static void
test_bad_yes_no_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "NAT_CLIENT = maybe\n", 2,
	    "'maybe' is not YES or NO");
	assert_refused(HOST "ECA_DISABLE_AUTO_ENROLLMENT = 1\n", 2,
	    "not YES or NO");
	assert_refused(HOST "ECA_ALLOW_FORCED_REENROLLMENT = true\n", 2,
	    "not YES or NO");
}

/* NetBackup's ACCEPT_REVERSE_CONNECTION = TRUE is NAT_CLIENT = YES. */
static void
test_nat_client_and_its_netbackup_spelling(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_refused(HOST "ACCEPT_REVERSE_CONNECTION = YES\n", 2,
	    "ACCEPT_REVERSE_CONNECTION: 'YES' is not one of FALSE, TRUE");
	assert_refused(HOST "BROKER_HEARTBEAT_SECONDS = 0\n", 2,
	    "BROKER_HEARTBEAT_SECONDS");
	assert_int_equal(
	    load_text(HOST "ACCEPT_REVERSE_CONNECTION = TRUE\n", &cfg, &err),
	    0);
	assert_int_equal(cfg->nat_client, 1);
	assert_int_equal(cfg->broker_heartbeat_seconds, 15);
	assert_string_equal(cfg->broker_listen.port, ECA_DEFAULT_BROKER_PORT);
	eca_config_free(cfg);
	assert_int_equal(load_text(HOST "NAT_CLIENT = YES\n"
					"ACCEPT_REVERSE_CONNECTION = FALSE\n",
			     &cfg, &err),
	    0);
	assert_int_equal(cfg->nat_client, 1);
	eca_config_free(cfg);
	assert_int_equal(load_text(HOST, &cfg, &err), 0);
	assert_int_equal(cfg->nat_client, 0);
	eca_config_free(cfg);
}

static void
test_bad_enum_value_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "ROLE = master\n", 2,
	    "ROLE: 'master' is not one of client, media, primary");
	assert_refused(HOST "ECA_CRL_CHECK = FULL\n", 2,
	    "is not one of DISABLE, LEAF, CHAIN (or their numbers");
	/* NetBackup's numbers stop at CHAIN's 2; other keys take none. */
	assert_refused(HOST "ECA_CRL_CHECK = 3\n", 2,
	    "'3' is not one of DISABLE, LEAF, CHAIN");
	assert_refused(HOST "ECA_CRL_CHECK = 01\n", 2, "is not one of");
	assert_refused(HOST "ECA_CRL_CHECK = -1\n", 2, "is not one of");
	assert_refused(HOST "ROLE = 0\n", 2,
	    "ROLE: '0' is not one of client, media, primary");
	assert_refused(HOST "ECA_IDENTITY = EMAIL\n", 2,
	    "is not one of SAN, CN, DN");
	assert_refused(HOST "LOG_LEVEL = verbose\n", 2,
	    "is not one of debug, info, warn, error");
}

static void
test_bad_number_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "WORKERS = four\n", 2, "'four' is not a number");
	assert_refused(HOST "WORKERS = 4x\n", 2, "'4x' is not a number");
	assert_refused(HOST "WORKERS = +4\n", 2, "not a number");
	assert_refused(HOST "WORKERS = 0x10\n", 2, "not a number");
	assert_refused(HOST "IDLE_TIMEOUT = 1 0\n", 2, "not a number");
	assert_refused(HOST "IDLE_TIMEOUT = -\n", 2, "not a number");
}

static void
test_out_of_range_number_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "ECA_CRL_PATH_SYNC_HOURS = 0\n", 2,
	    "out of range (1 to 8760)");
	assert_refused(HOST "ECA_CRL_REFRESH_HOURS = 8761\n", 2,
	    "out of range (0 to 8760)");
	assert_refused(HOST "ECA_CRL_REFRESH_HOURS = -1\n", 2,
	    "out of range (0 to 8760)");
	assert_refused(HOST "WORKERS = 257\n", 2, "out of range (0 to 256)");
	assert_refused(HOST "WORKERS = -1\n", 2, "out of range");
	assert_refused(HOST "MAX_CONNECTIONS = 0\n", 2, "out of range");
	assert_refused(HOST "MAX_CONNECTIONS = 1000001\n", 2, "out of range");
	assert_refused(HOST "REQUEST_TIMEOUT = 3601\n", 2, "out of range");
	assert_refused(HOST "PEER_MAX_CONNECTIONS_PER_SOURCE = 0\n", 2,
	    "out of range");
	assert_refused(HOST "PEER_MAX_HANDSHAKES = 0\n", 2, "out of range");
	assert_refused(HOST "PEER_ENROLL_WAITS_PER_SOURCE = 0\n", 2,
	    "out of range");
	assert_refused(HOST "IDLE_TIMEOUT = 86401\n", 2, "out of range");
	assert_refused(HOST "IDLE_TIMEOUT = 99999999999999999999999\n", 2,
	    "out of range");
}

/* NetBackup documents ECA_CRL_CHECK = 0, 1, 2 for DISABLE, LEAF, CHAIN. */
static void
test_crl_check_numbers_are_netbackup_levels(void **state)
{
	static const struct {
		const char *text;
		enum eca_crl_check want;
	} cases[] = {
	    {HOST "ECA_CRL_CHECK = 0\n", ECA_CRL_DISABLE},
	    {HOST "ECA_CRL_CHECK = 1\n", ECA_CRL_LEAF},
	    {HOST "ECA_CRL_CHECK = 2\n", ECA_CRL_CHAIN},
	};
	struct eca_config *cfg = NULL;
	struct eca_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(load_text(cases[i].text, &cfg, &err), 0);
		assert_int_equal(cfg->crl_check, cases[i].want);
		eca_config_free(cfg);
		cfg = NULL;
	}
}

/* ECA_CRL_REFRESH_HOURS = 0: NetBackup's "no periodic refresh", kept as 0. */
static void
test_crl_refresh_hours_zero_is_accepted(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(
	    load_text(HOST "ECA_CRL_REFRESH_HOURS = 0\n", &cfg, &err), 0);
	assert_int_equal(cfg->crl_refresh_hours, 0);
	eca_config_free(cfg);
}

/* A value from the command line, checked as the file's would be. */
static void
test_override_sets_one_key_as_the_file_would(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(
	    load_text(HOST CREDS "ECA_CRL_CHECK = CHAIN\n", &cfg, &err), 0);
	memset(&err, 0, sizeof(err));
	assert_int_equal(
	    eca_config_override(cfg, "NO_SUCH_KEY", "1", "--x", &err),
	    ECA_ERR_CONFIG);
	assert_string_equal(err.msg,
	    "--x: NO_SUCH_KEY cannot be set for one run");
	assert_int_equal(eca_config_override(cfg, "SERVER", "p1", "--x", &err),
	    ECA_ERR_CONFIG);
	assert_int_equal(eca_config_override(cfg, "ECA_CRL_CHECK", "FULL",
			     "--crl-check-level", &err),
	    ECA_ERR_CONFIG);
	assert_non_null(strstr(err.msg,
	    "--crl-check-level: ECA_CRL_CHECK: 'FULL' is not one of"));
	assert_int_equal(cfg->crl_check, ECA_CRL_CHAIN);
	assert_int_equal(eca_config_override(cfg, "ECA_CRL_CHECK", "0",
			     "--crl-check-level", &err),
	    0);
	assert_int_equal(cfg->crl_check, ECA_CRL_DISABLE);
	assert_int_equal(eca_config_override(cfg, "ECA_CERT_PATH",
			     "/tmp/other.pem", "--cert-path", &err),
	    0);
	assert_string_equal(cfg->cert_path, "/tmp/other.pem");
	eca_config_free(cfg);
}

static void
test_bad_host_port_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "LISTEN = 0.0.0.0\n", 2, "has no port");
	assert_refused(HOST "LISTEN = 0.0.0.0:0\n", 2,
	    "port '0' is not a number from 1 to 65535");
	assert_refused(HOST "LISTEN = 0.0.0.0:65536\n", 2, "port '65536'");
	assert_refused(HOST "LISTEN = 0.0.0.0:https\n", 2, "port 'https'");
	assert_refused(HOST "LISTEN = 0.0.0.0:\n", 2, "port ''");
	assert_refused(HOST "API_LISTEN = :1556\n", 2,
	    "empty or too long host");
	assert_refused(HOST "API_LISTEN = ::1:1556\n", 2,
	    "write IPv6 addresses in brackets");
	assert_refused(HOST "API_LISTEN = [::1\n", 2, "no closing ']'");
	assert_refused(HOST "API_LISTEN = [::1]\n", 2, "no port after");
	assert_refused(HOST "API_LISTEN = [::1]1556\n", 2, "no port after");
	assert_refused(HOST "API_LISTEN = []:1556\n", 2,
	    "not a valid IPv6 address");
	assert_refused(HOST "API_LISTEN = [not:v6]:1556\n", 2,
	    "not a valid IPv6 address");
	assert_refused(HOST "API_LISTEN = bad/host:1556\n", 2,
	    "not a valid host name or address");
	assert_refused(HOST "SERVER = p1 p1.example.com:99999\n", 2,
	    "port '99999'");
	assert_refused(HOST "PEER = h2 h2.example.com\n", 2, "has no port");
	/* "*" means every address: for listening only. */
	assert_refused(HOST "SERVER = p1 *:1556\n", 2,
	    "'*' is not a valid host name or address");
}

static void
test_bad_server_and_peer_entries_are_refused(void **state)
{
	(void)state;
	assert_refused(HOST "SERVER = bad!name\n", 2,
	    "SERVER: 'bad!name' is not a valid host name");
	assert_refused(HOST "SERVER = p1 p1:1556 extra\n", 2, "too many words");
	assert_refused(HOST "SERVER = p1\nSERVER = P1 other:1556\n", 3,
	    "SERVER: 'p1' is listed twice");
	assert_refused(HOST "PEER = h2\n", 2, "PEER: 'h2' needs an address");
	assert_refused(HOST "PEER = -h2 h2:1557\n", 2, "not a valid host name");
}

static char *
repeat_lines(const char *fmt, int n)
{
	char *buf, *p;
	size_t cap = (size_t)n * 64 + sizeof(HOST);
	int i;

	buf = malloc(cap);
	assert_non_null(buf);
	p = buf + snprintf(buf, cap, "%s", HOST);
	for (i = 0; i < n; i++)
		p += snprintf(p, cap - (size_t)(p - buf), fmt, i, i);
	return buf;
}

static void
test_metrics_listen_off_loopback_is_refused(void **state)
{
	static const char *const bad[] = {"0.0.0.0:9465", "*:9465",
	    "192.0.2.1:9465", "[::]:9465", "[2001:db8::1]:9465",
	    "metrics.example.com:9465", "[::ffff:192.0.2.1]:9465"};
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), HOST "METRICS_LISTEN = %s\n",
		    bad[i]);
		assert_refused(text, 0, "is not a loopback address");
	}
	assert_refused(HOST "METRICS_IDENTITY = -bad-.example\n", 2,
	    "METRICS_IDENTITY");
}

static void
test_metrics_keys_are_read(void **state)
{
	static const char *const good[] = {"127.0.0.1:9465", "127.1.2.3:1",
	    "[::1]:9465", "localhost:9465", "[::ffff:127.0.0.1]:9465"};
	struct eca_config *cfg = NULL;
	struct eca_err err;
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), HOST "METRICS_LISTEN = %s\n",
		    good[i]);
		assert_int_equal(load_text(text, &cfg, &err), 0);
		assert_non_null(cfg->metrics_listen.host);
		eca_config_free(cfg);
	}
	assert_int_equal(load_text(HOST "METRICS_IDENTITY = Mon.Example\n"
					"METRICS_IDENTITY = CN=Mon,O=x\n"
					"ADMIN_IDENTITY = adm.example\n",
			     &cfg, &err),
	    0);
	assert_int_equal(cfg->nmetrics_ids, 2);
	assert_string_equal(cfg->metrics_ids[0], "mon.example");
	assert_string_equal(cfg->metrics_ids[1], "CN=Mon,O=x");
	/* A list of its own: no administrator by being a monitor. */
	assert_int_equal(cfg->nadmins, 1);
	assert_null(cfg->metrics_listen.host);
	eca_config_free(cfg);
}

static void
test_too_many_repeatable_entries_are_refused(void **state)
{
	char *text;

	(void)state;
	text = repeat_lines("SERVER = p%d h%d:1556\n", ECA_MAX_SERVERS + 1);
	assert_refused(text, ECA_MAX_SERVERS + 2,
	    "too many SERVER entries (at most 32)");
	free(text);
	text = repeat_lines("PEER = p%d h%d:1557\n", ECA_MAX_PEERS + 1);
	assert_refused(text, ECA_MAX_PEERS + 2,
	    "too many PEER entries (at most 1024)");
	free(text);
	text = repeat_lines("ADMIN_IDENTITY = CN=admin%d,O=x%d\n",
	    ECA_MAX_ADMINS + 1);
	assert_refused(text, ECA_MAX_ADMINS + 2,
	    "too many ADMIN_IDENTITY entries (at most 64)");
	free(text);
}

static void
test_line_longer_than_4096_bytes_is_refused(void **state)
{
	char text[8192];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), HOST "# ");
	memset(text + n, 'x', 4095);
	n += 4095;
	text[n++] = '\n';
	text[n] = '\0';
	/* The comment line is 4097 bytes: even comments are capped. */
	assert_refused(text, 2, "line is 4097 bytes, longer than the limit");
}

static void
test_overlong_value_is_refused(void **state)
{
	char text[4096];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), HOST "AUDIT_LOG = /");
	memset(text + n, 'a', 3000);
	n += 3000;
	text[n++] = '\n';
	text[n] = '\0';
	assert_refused(text, 2, "longer than the limit of 2048");
}

static void
test_nul_byte_is_refused(void **state)
{
	static const char text[] = HOST "USER = ec\0a\n";

	(void)state;
	assert_refused_len(text, sizeof(text) - 1, 2, "NUL byte at column 10");
}

static void
test_control_character_in_value_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "USER = ec\033a\n", 2, "control character");
}

static void
test_unprintable_key_is_refused_without_echo(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_refused(HOST "\033[2JUSER = x\n", 2, "unprintable characters");
	assert_int_equal(load_text(HOST "\033[2J = x\n", &cfg, &err),
	    ECA_ERR_CONFIG);
	assert_null(strchr(err.msg, '\033'));
}

static void
test_file_larger_than_the_limit_is_refused(void **state)
{
	char *text;
	size_t len = ECA_CONFIG_MAX_SIZE + 1, i;

	(void)state;
	text = malloc(len);
	assert_non_null(text);
	/* Valid comment lines: only the size is wrong. */
	for (i = 0; i < len; i++)
		text[i] = (i % 64 == 63) ? '\n' : '#';
	assert_refused_len(text, len, 0, "larger than the limit of 1048576");
	free(text);
}

static void
test_bad_database_url_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "ECA_DB = mysql://db/eca\n", 2,
	    "neither sqlite:PATH nor a postgresql:// URI");
	assert_refused(HOST "ECA_DB = sqlite:\n", 2, "needs a file path");
	assert_refused(HOST "ECA_DB = /var/lib/eca/registry.db\n", 2,
	    "neither sqlite:PATH");
}

static void
test_invalid_client_name_is_refused(void **state)
{
	(void)state;
	assert_refused("\nCLIENT_NAME = host one\n", 2,
	    "CLIENT_NAME: 'host one' is not a valid host name");
	assert_refused("CLIENT_NAME = -host\n", 1, "not a valid host name");
	/* Host names have one spelling: these have none. */
	assert_refused("ROLE = media\nCLIENT_NAME = host1.example.com.\n", 2,
	    "CLIENT_NAME: 'host1.example.com.' is not a valid host name: it "
	    "ends with a dot");
	assert_refused("CLIENT_NAME = host_1.example.com\n", 1,
	    "'_' is not allowed");
	assert_refused(HOST "SERVER = P1.example..com\n", 2,
	    "SERVER: 'P1.example..com' is not a valid host name: it has an "
	    "empty label");
	assert_refused(HOST "PEER = Media_1 10.0.0.5:1557\n", 2,
	    "PEER: 'Media_1' is not a valid host name");
	assert_refused(HOST "ADMIN_IDENTITY = Admin.Example.COM.\n", 2,
	    "ADMIN_IDENTITY: 'Admin.Example.COM.' is not a valid host name");
	assert_refused(HOST "ADMIN_IDENTITY = Backup Admin\n", 2,
	    "ADMIN_IDENTITY: 'Backup Admin' is not a valid host name");
	/* Two spellings of one peer are one peer, listed twice. */
	assert_refused(HOST "PEER = media1 10.0.0.5:1557\n"
			    "PEER = MEDIA1 10.0.0.6:1557\n",
	    3,
	    "PEER: 'media1' is listed "
	    "twice");
}

/*
 * Names that identify hosts are kept in canonical form (lower case), so
 * every comparison downstream is byte for byte; a DN is kept as written.
 */
static void
test_host_names_in_mixed_case_are_folded(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;
	char *d;

	(void)state;
	assert_int_equal(
	    load_text("CLIENT_NAME = MEDIA1.It.Test\n"
		      "ROLE = primary\n"
		      "ECA_CERT_PATH = /c\nECA_PRIVATE_KEY_PATH = /k\n"
		      "ECA_TRUST_STORE_PATH = /t\n"
		      "SERVER = Primary1.IT.test\n"
		      "SERVER = media1.it.TEST\n"
		      "PEER = Client1.It.Test Client1.It.Test:1557\n"
		      "ADMIN_IDENTITY = Admin-WS1.Example.COM\n"
		      "ADMIN_IDENTITY = CN=Backup Admin,O=Example Corp\n",
		&cfg, &err),
	    0);
	assert_string_equal(cfg->client_name, "media1.it.test");
	/* The primary found itself among the SERVER lines: not added twice. */
	assert_int_equal(cfg->nservers, 2);
	assert_string_equal(cfg->servers[0].name, "primary1.it.test");
	assert_string_equal(cfg->servers[1].name, "media1.it.test");
	assert_string_equal(cfg->peers[0].name, "client1.it.test");
	/* Where to connect is an address, not an identity: as written. */
	assert_string_equal(cfg->peers[0].host, "Client1.It.Test");
	assert_string_equal(cfg->admins[0], "admin-ws1.example.com");
	assert_string_equal(cfg->admins[1], "CN=Backup Admin,O=Example Corp");
	/* Any spelling of a SERVER name finds it. */
	assert_ptr_equal(eca_config_server(cfg, "PRIMARY1.it.test"),
	    &cfg->servers[0]);
	assert_null(eca_config_server(cfg, "primary1.it.test."));
	/* The dump is canonical and parses back the same. */
	assert_non_null(d = eca_config_dump(cfg));
	assert_non_null(strstr(d, "CLIENT_NAME = media1.it.test\n"));
	assert_null(strstr(d, "MEDIA1"));
	free(d);
	eca_config_free(cfg);
}

static void
test_missing_client_name_is_refused_without_line(void **state)
{
	(void)state;
	assert_refused("ROLE = media\n", 0, "CLIENT_NAME is required");
	assert_refused("", 0, "CLIENT_NAME is required");
}

static void
test_primary_without_certificate_keys_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "ROLE = primary\n", 0,
	    "ROLE primary requires ECA_CERT_PATH, ECA_PRIVATE_KEY_PATH and "
	    "ECA_TRUST_STORE_PATH");
	assert_refused(HOST "ROLE = primary\n"
			    "ECA_CERT_PATH = /c\nECA_PRIVATE_KEY_PATH = /k\n",
	    0, "(ECA_TRUST_STORE_PATH missing)");
}

static void
test_partial_certificate_keys_are_refused(void **state)
{
	(void)state;
	assert_refused(HOST "ECA_CERT_PATH = /c\n", 0,
	    "must be set together or not at all");
	assert_refused(HOST "ROLE = media\nECA_TRUST_STORE_PATH = /t\n"
			    "ECA_PRIVATE_KEY_PATH = /k\n",
	    0, "(ECA_CERT_PATH missing)");
}

static void
test_passphrase_file_without_key_is_refused(void **state)
{
	(void)state;
	assert_refused(HOST "ECA_KEY_PASSPHRASEFILE = /etc/eca/pass\n", 0,
	    "ECA_KEY_PASSPHRASEFILE requires ECA_PRIVATE_KEY_PATH");
}

static void
test_state_dir_too_long_for_derived_paths_is_refused(void **state)
{
	char text[4096];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), HOST "STATE_DIR = /");
	memset(text + n, 's', 2040);
	n += 2040;
	text[n++] = '\n';
	text[n] = '\0';
	assert_refused(text, 0, "STATE_DIR is too long to derive ECA_DB");
}

static void
test_missing_file_is_refused(void **state)
{
	struct eca_config *cfg = (struct eca_config *)0x1;
	struct eca_err err;
	char path[sizeof(tmpdir) + 32];

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	assert_int_equal(eca_config_load(path, &cfg, &err), ECA_ERR_CONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "cannot open"));
	/* A directory is not a configuration file either. */
	assert_int_equal(eca_config_load(tmpdir, &cfg, &err), ECA_ERR_CONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

static void
test_world_writable_file_is_refused(void **state)
{
	struct eca_config *cfg = (struct eca_config *)0x1;
	struct eca_err err;

	(void)state;
	write_file(HOST, strlen(HOST));
	assert_int_equal(chmod(conf_path, 0666), 0);
	assert_int_equal(eca_config_load(conf_path, &cfg, &err),
	    ECA_ERR_CONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, "writable by any user"));
	assert_int_equal(chmod(conf_path, 0644), 0);
	assert_int_equal(eca_config_load(conf_path, &cfg, &err), 0);
	eca_config_free(cfg);
}

static void
test_refusal_without_error_buffer_still_returns_code(void **state)
{
	struct eca_config *cfg = (struct eca_config *)0x1;
	static const char text[] = "BOGUS = 1\n";

	(void)state;
	assert_int_equal(
	    eca_config_parse(text, sizeof(text) - 1, "x", &cfg, NULL),
	    ECA_ERR_CONFIG);
	assert_null(cfg);
}

/* ---- accepted files ---- */

static void
test_minimal_file_gets_every_default(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(load_text(HOST, &cfg, &err), 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, conf_path);
	assert_string_equal(cfg->client_name, "host1.example.com");
	assert_int_equal(cfg->role, ECA_ROLE_CLIENT);
	assert_int_equal(cfg->nservers, 0);
	assert_null(eca_config_server(cfg, NULL));
	assert_int_equal(cfg->npeers, 0);
	assert_null(cfg->listen.name);
	assert_string_equal(cfg->listen.host, "0.0.0.0");
	assert_string_equal(cfg->listen.port, ECA_DEFAULT_PEER_PORT);
	assert_int_equal(cfg->nat_client, 0);
	assert_string_equal(cfg->state_dir, "/var/lib/eca");
	assert_null(cfg->cert_path);
	assert_null(cfg->key_path);
	assert_null(cfg->trust_store_path);
	assert_null(cfg->key_passphrase_file);
	assert_int_equal(cfg->crl_check, ECA_CRL_LEAF);
	assert_null(cfg->crl_path);
	assert_int_equal(cfg->crl_path_sync_hours, 1);
	assert_int_equal(cfg->crl_refresh_hours, 24);
	assert_int_equal(cfg->disable_auto_enrollment, 0);
	assert_string_equal(cfg->api_listen.host, "0.0.0.0");
	assert_string_equal(cfg->api_listen.port, ECA_DEFAULT_API_PORT);
	assert_string_equal(cfg->db, "sqlite:/var/lib/eca/registry.db");
	assert_int_equal(cfg->identity, ECA_ID_SAN);
	assert_int_equal(cfg->nadmins, 0);
	assert_null(cfg->audit_log);
	assert_int_equal(cfg->allow_forced_reenrollment, 0);
	assert_string_equal(cfg->control_socket, "/var/lib/eca/ecad.sock");
	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->max_connections, 4096);
	assert_int_equal(cfg->request_timeout, 10);
	assert_int_equal(cfg->peer_max_connections_per_source, 64);
	assert_int_equal(cfg->peer_max_handshakes, 256);
	assert_int_equal(cfg->peer_enroll_waits_per_source, 4);
	assert_int_equal(cfg->idle_timeout, 60);
	assert_null(cfg->user);
	assert_string_equal(cfg->pid_file, "/var/lib/eca/ecad.pid");
	assert_string_equal(cfg->log_level, "info");
	eca_config_free(cfg);
}

static const char full_text[] =
    "# A primary with every key set.\n"
    "CLIENT_NAME = primary1.example.com\n"
    "ROLE = Primary\n"
    "SERVER = primary1.example.com\n"
    "SERVER = backup-primary 192.0.2.7:2556\n"
    "SERVER = v6primary [2001:db8::7]:1556\n"
    "PEER = media1 10.0.0.5:1557\n"
    "PEER = media2 [::1]:11557\n"
    "LISTEN = [::]:1557\n"
    "NAT_CLIENT = no\n"
    "ECA_CERT_PATH = /etc/eca/host cert.pem\n"
    "ECA_PRIVATE_KEY_PATH = /etc/eca/key.pem\n"
    "ECA_TRUST_STORE_PATH = /etc/ssl/certs\n"
    "ECA_KEY_PASSPHRASEFILE = /etc/eca/pass\n"
    "ECA_CRL_CHECK = chain\n"
    "ECA_CRL_PATH = /etc/eca/crls\n"
    "ECA_CRL_PATH_SYNC_HOURS = 8760\n"
    "ECA_CRL_REFRESH_HOURS = 12\n"
    "ECA_DISABLE_AUTO_ENROLLMENT = YES\n"
    "API_LISTEN = 127.0.0.1:8443\n"
    "ECA_DB = postgresql://eca@db.example.com/eca?sslmode=verify-full\n"
    "ECA_IDENTITY = DN\n"
    "ADMIN_IDENTITY = CN=Backup Admin,OU=Ops,O=Example Corp\n"
    "ADMIN_IDENTITY = admin2.example.com\n"
    "AUDIT_LOG = /var/log/eca/audit.log\n"
    "ECA_ALLOW_FORCED_REENROLLMENT = Yes\n"
    "CONTROL_SOCKET = /run/eca/ctl.sock\n"
    "WORKERS = 256\n"
    "MAX_CONNECTIONS = 1000000\n"
    "REQUEST_TIMEOUT = 3600\n"
    "IDLE_TIMEOUT = 1\n"
    "USER = _eca\n"
    "PID_FILE = /run/eca/ecad.pid\n"
    "LOG_LEVEL = DEBUG\n"
    "STATE_DIR = /srv/eca\n";

static void
test_every_key_is_parsed(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(load_text(full_text, &cfg, &err), 0);
	assert_string_equal(cfg->client_name, "primary1.example.com");
	assert_int_equal(cfg->role, ECA_ROLE_PRIMARY);
	assert_int_equal(cfg->nservers, 3);
	assert_int_equal(cfg->npeers, 2);
	assert_string_equal(cfg->listen.host, "::");
	assert_string_equal(cfg->listen.port, "1557");
	assert_int_equal(cfg->nat_client, 0);
	assert_string_equal(cfg->state_dir, "/srv/eca");
	assert_string_equal(cfg->cert_path, "/etc/eca/host cert.pem");
	assert_string_equal(cfg->key_path, "/etc/eca/key.pem");
	assert_string_equal(cfg->trust_store_path, "/etc/ssl/certs");
	assert_string_equal(cfg->key_passphrase_file, "/etc/eca/pass");
	assert_int_equal(cfg->crl_check, ECA_CRL_CHAIN);
	assert_string_equal(cfg->crl_path, "/etc/eca/crls");
	assert_int_equal(cfg->crl_path_sync_hours, 8760);
	assert_int_equal(cfg->crl_refresh_hours, 12);
	assert_int_equal(cfg->disable_auto_enrollment, 1);
	assert_string_equal(cfg->api_listen.host, "127.0.0.1");
	assert_string_equal(cfg->api_listen.port, "8443");
	assert_string_equal(cfg->db,
	    "postgresql://eca@db.example.com/eca?sslmode=verify-full");
	assert_int_equal(cfg->identity, ECA_ID_DN);
	assert_int_equal(cfg->nadmins, 2);
	assert_string_equal(cfg->admins[0],
	    "CN=Backup Admin,OU=Ops,O=Example Corp");
	assert_string_equal(cfg->admins[1], "admin2.example.com");
	assert_string_equal(cfg->audit_log, "/var/log/eca/audit.log");
	assert_int_equal(cfg->allow_forced_reenrollment, 1);
	assert_string_equal(cfg->control_socket, "/run/eca/ctl.sock");
	assert_int_equal(cfg->workers, 256);
	assert_int_equal(cfg->max_connections, 1000000);
	assert_int_equal(cfg->request_timeout, 3600);
	assert_int_equal(cfg->idle_timeout, 1);
	assert_string_equal(cfg->user, "_eca");
	assert_string_equal(cfg->pid_file, "/run/eca/ecad.pid");
	assert_string_equal(cfg->log_level, "debug");
	eca_config_free(cfg);
}

static void
test_server_entries_keep_order_and_default_port(void **state)
{
	const struct eca_endpoint *ep;
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(load_text(full_text, &cfg, &err), 0);
	assert_string_equal(cfg->servers[0].name, "primary1.example.com");
	assert_string_equal(cfg->servers[0].host, "primary1.example.com");
	assert_string_equal(cfg->servers[0].port, ECA_DEFAULT_API_PORT);
	assert_string_equal(cfg->servers[1].name, "backup-primary");
	assert_string_equal(cfg->servers[1].host, "192.0.2.7");
	assert_string_equal(cfg->servers[1].port, "2556");

	ep = eca_config_server(cfg, NULL);
	assert_ptr_equal(ep, &cfg->servers[0]);
	ep = eca_config_server(cfg, "BACKUP-primary");
	assert_ptr_equal(ep, &cfg->servers[1]);
	assert_null(eca_config_server(cfg, "nosuch"));
	assert_null(eca_config_server(NULL, NULL));

	assert_string_equal(cfg->peers[0].name, "media1");
	assert_string_equal(cfg->peers[0].host, "10.0.0.5");
	assert_string_equal(cfg->peers[0].port, "1557");
	eca_config_free(cfg);
}

static void
test_primary_is_a_host_of_its_own_domain(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	/* No SERVER line for itself: it gets one, first, on its API address. */
	assert_int_equal(
	    load_text("CLIENT_NAME = p1.example.com\n"
		      "ROLE = primary\n" CREDS "API_LISTEN = 0.0.0.0:2556\n"
		      "SERVER = other.example.com 192.0.2.9:1556\n",
		&cfg, &err),
	    0);
	assert_int_equal(cfg->nservers, 2);
	assert_string_equal(cfg->servers[0].name, "p1.example.com");
	assert_string_equal(cfg->servers[0].host, "127.0.0.1");
	assert_string_equal(cfg->servers[0].port, "2556");
	assert_string_equal(cfg->servers[1].name, "other.example.com");
	eca_config_free(cfg);
	/* An explicit line is kept as written, not doubled. */
	assert_int_equal(load_text("CLIENT_NAME = p1.example.com\n"
				   "ROLE = primary\n" CREDS
				   "SERVER = P1.example.com 127.0.0.5:1556\n",
			     &cfg, &err),
	    0);
	assert_int_equal(cfg->nservers, 1);
	assert_string_equal(cfg->servers[0].host, "127.0.0.5");
	eca_config_free(cfg);
	/* Other roles get nothing implicit. */
	assert_int_equal(load_text(HOST, &cfg, &err), 0);
	assert_int_equal(cfg->nservers, 0);
	eca_config_free(cfg);
}

static void
test_ipv6_addresses_are_taken_without_brackets(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(load_text(full_text, &cfg, &err), 0);
	assert_string_equal(cfg->servers[2].host, "2001:db8::7");
	assert_string_equal(cfg->servers[2].port, "1556");
	assert_string_equal(cfg->peers[1].host, "::1");
	assert_string_equal(cfg->peers[1].port, "11557");
	eca_config_free(cfg);
}

static void
test_layout_variants_are_accepted(void **state)
{
	/* Not NUL-terminated on purpose: the parser must honour len. */
	static const char text[] = "\n"
				   "   # indented comment\n"
				   "\t\n"
				   "CLIENT_NAME=h1\r\n"
				   "  USER\t=\t eca user  \r\n"
				   "AUDIT_LOG = /var/log/#not-a-comment\n"
				   "ADMIN_IDENTITY = CN=a=b\n"
				   "STATE_DIR = /srv/eca/\n"
				   "API_LISTEN = *:443\n"
				   "LOG_LEVEL = warn"
				   "GARBAGE BEYOND LEN";
	size_t len = sizeof(text) - 1 - strlen("GARBAGE BEYOND LEN");
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_config_parse(text, len, "mem", &cfg, &err), 0);
	assert_string_equal(cfg->path, "mem");
	assert_string_equal(cfg->client_name, "h1");
	assert_string_equal(cfg->user, "eca user");
	assert_string_equal(cfg->audit_log, "/var/log/#not-a-comment");
	assert_string_equal(cfg->admins[0], "CN=a=b");
	assert_string_equal(cfg->log_level, "warn");
	assert_string_equal(cfg->api_listen.host, "*");
	assert_string_equal(cfg->api_listen.port, "443");
	/* STATE_DIR came late and with a slash; derived paths follow it. */
	assert_string_equal(cfg->db, "sqlite:/srv/eca/registry.db");
	assert_string_equal(cfg->control_socket, "/srv/eca/ecad.sock");
	assert_string_equal(cfg->pid_file, "/srv/eca/ecad.pid");
	eca_config_free(cfg);
}

static void
test_explicit_paths_win_over_state_dir_defaults(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(load_text(HOST "ECA_DB = sqlite:/data/r.db\n"
					"STATE_DIR = /srv\n",
			     &cfg, &err),
	    0);
	assert_string_equal(cfg->db, "sqlite:/data/r.db");
	assert_string_equal(cfg->pid_file, "/srv/ecad.pid");
	eca_config_free(cfg);
}

static void
test_root_state_dir_gives_single_slash_paths(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(load_text(HOST "STATE_DIR = /\n", &cfg, &err), 0);
	assert_string_equal(cfg->pid_file, "/ecad.pid");
	assert_string_equal(cfg->db, "sqlite:/registry.db");
	eca_config_free(cfg);
}

static void
test_complete_credentials_are_accepted_on_a_client(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(load_text(HOST CREDS "SERVER = p1\n", &cfg, &err), 0);
	assert_string_equal(cfg->cert_path, "/etc/eca/cert.pem");
	eca_config_free(cfg);
}

/* Field-by-field equality of two configurations (path excepted). */
static void
assert_str_eq_or_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
assert_endpoint_equal(const struct eca_endpoint *a,
    const struct eca_endpoint *b)
{
	assert_str_eq_or_null(a->name, b->name);
	assert_str_eq_or_null(a->host, b->host);
	assert_str_eq_or_null(a->port, b->port);
}

static void
assert_config_equal(const struct eca_config *a, const struct eca_config *b)
{
	size_t i;

	assert_str_eq_or_null(a->client_name, b->client_name);
	assert_int_equal(a->role, b->role);
	assert_int_equal(a->nservers, b->nservers);
	for (i = 0; i < a->nservers; i++)
		assert_endpoint_equal(&a->servers[i], &b->servers[i]);
	assert_int_equal(a->npeers, b->npeers);
	for (i = 0; i < a->npeers; i++)
		assert_endpoint_equal(&a->peers[i], &b->peers[i]);
	assert_endpoint_equal(&a->listen, &b->listen);
	assert_endpoint_equal(&a->console_listen, &b->console_listen);
	assert_int_equal(a->console_link_minutes, b->console_link_minutes);
	assert_int_equal(a->console_idle_minutes, b->console_idle_minutes);
	assert_int_equal(a->console_session_hours, b->console_session_hours);
	assert_str_eq_or_null(a->console_cert_path, b->console_cert_path);
	assert_str_eq_or_null(a->console_key_path, b->console_key_path);
	assert_int_equal(a->nat_client, b->nat_client);
	assert_str_eq_or_null(a->state_dir, b->state_dir);
	assert_str_eq_or_null(a->cert_path, b->cert_path);
	assert_str_eq_or_null(a->key_path, b->key_path);
	assert_str_eq_or_null(a->trust_store_path, b->trust_store_path);
	assert_str_eq_or_null(a->key_passphrase_file, b->key_passphrase_file);
	assert_int_equal(a->crl_check, b->crl_check);
	assert_str_eq_or_null(a->crl_path, b->crl_path);
	assert_int_equal(a->crl_path_sync_hours, b->crl_path_sync_hours);
	assert_int_equal(a->crl_refresh_hours, b->crl_refresh_hours);
	assert_int_equal(a->disable_auto_enrollment,
	    b->disable_auto_enrollment);
	assert_endpoint_equal(&a->api_listen, &b->api_listen);
	assert_str_eq_or_null(a->db, b->db);
	assert_int_equal(a->identity, b->identity);
	assert_int_equal(a->nadmins, b->nadmins);
	for (i = 0; i < a->nadmins; i++)
		assert_string_equal(a->admins[i], b->admins[i]);
	assert_int_equal(a->nmetrics_ids, b->nmetrics_ids);
	for (i = 0; i < a->nmetrics_ids; i++)
		assert_string_equal(a->metrics_ids[i], b->metrics_ids[i]);
	assert_endpoint_equal(&a->metrics_listen, &b->metrics_listen);
	assert_str_eq_or_null(a->audit_log, b->audit_log);
	assert_int_equal(a->allow_forced_reenrollment,
	    b->allow_forced_reenrollment);
	assert_str_eq_or_null(a->control_socket, b->control_socket);
	assert_int_equal(a->workers, b->workers);
	assert_int_equal(a->max_connections, b->max_connections);
	assert_int_equal(a->request_timeout, b->request_timeout);
	assert_int_equal(a->idle_timeout, b->idle_timeout);
	assert_str_eq_or_null(a->user, b->user);
	assert_str_eq_or_null(a->pid_file, b->pid_file);
	assert_str_eq_or_null(a->log_level, b->log_level);
}

static void
assert_round_trip(const char *text)
{
	struct eca_config *a = NULL, *b = NULL;
	struct eca_err err;
	char *d1, *d2;

	assert_int_equal(eca_config_parse(text, strlen(text), "orig", &a, &err),
	    0);
	d1 = eca_config_dump(a);
	assert_non_null(d1);
	if (eca_config_parse(d1, strlen(d1), "dump", &b, &err) != 0)
		print_error("dump does not parse: %s\n%s", err.msg, d1);
	assert_non_null(b);
	assert_config_equal(a, b);
	d2 = eca_config_dump(b);
	assert_non_null(d2);
	assert_string_equal(d1, d2);
	free(d1);
	free(d2);
	eca_config_free(a);
	eca_config_free(b);
}

static void
test_dump_of_full_config_parses_back_equal(void **state)
{
	(void)state;
	assert_round_trip(full_text);
}

static void
test_dump_of_minimal_config_parses_back_equal(void **state)
{
	(void)state;
	assert_round_trip(HOST);
	assert_round_trip(HOST "STATE_DIR = /\n");
	assert_round_trip(HOST "LISTEN = *:1557\nAPI_LISTEN = [::]:1556\n");
	assert_round_trip(HOST "METRICS_LISTEN = [::1]:9465\n"
			       "METRICS_IDENTITY = mon.example\n"
			       "METRICS_IDENTITY = CN=Mon,O=x\n");
}

/* The web console's keys: defaults, NO, bounds, the dump. */
static void
test_console_keys(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;
	char *d;

	(void)state;
	assert_refused(HOST "CONSOLE_LISTEN = 1558\n", 2, "has no port");
	assert_refused(HOST "CONSOLE_LINK_MINUTES = 0\n", 2,
	    "CONSOLE_LINK_MINUTES");
	assert_refused(HOST "CONSOLE_LINK_MINUTES = 61\n", 2,
	    "CONSOLE_LINK_MINUTES");
	assert_refused(HOST "CONSOLE_SESSION_HOURS = 169\n", 2,
	    "CONSOLE_SESSION_HOURS");
	assert_refused(HOST "CONSOLE_CERT_PATH = /c.pem\n", 0,
	    "CONSOLE_CERT_PATH and CONSOLE_PRIVATE_KEY_PATH must be set "
	    "together");
	assert_int_equal(load_text(HOST, &cfg, &err), 0);
	assert_string_equal(cfg->console_listen.host, "127.0.0.1");
	assert_string_equal(cfg->console_listen.port, ECA_DEFAULT_CONSOLE_PORT);
	assert_int_equal(cfg->console_link_minutes, 5);
	assert_int_equal(cfg->console_idle_minutes, 30);
	assert_int_equal(cfg->console_session_hours, 12);
	eca_config_free(cfg);
	assert_int_equal(load_text(HOST "CONSOLE_LISTEN = no\n", &cfg, &err),
	    0);
	assert_null(cfg->console_listen.host);
	assert_non_null(d = eca_config_dump(cfg));
	assert_non_null(strstr(d, "CONSOLE_LISTEN = NO\n"));
	free(d);
	eca_config_free(cfg);
	assert_round_trip(HOST "CONSOLE_LISTEN = NO\n");
	assert_round_trip(HOST "CONSOLE_LISTEN = [::1]:8444\n"
			       "CONSOLE_LINK_MINUTES = 1\n"
			       "CONSOLE_CERT_PATH = /c.pem\n"
			       "CONSOLE_PRIVATE_KEY_PATH = /c.key\n");
}

static void
test_dump_shows_defaults_and_omits_unset_keys(void **state)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;
	char *d;

	(void)state;
	assert_int_equal(
	    load_text(HOST "SERVER = p1\nSERVER = p2 [::1]:9\n", &cfg, &err),
	    0);
	d = eca_config_dump(cfg);
	assert_non_null(d);
	assert_non_null(strstr(d, "CLIENT_NAME = host1.example.com\n"));
	assert_non_null(strstr(d, "ROLE = client\n"));
	assert_non_null(
	    strstr(d, "SERVER = p1 p1:1556\nSERVER = p2 [::1]:9\n"));
	assert_non_null(strstr(d, "LISTEN = 0.0.0.0:1557\n"));
	assert_non_null(strstr(d, "ECA_CRL_CHECK = LEAF\n"));
	assert_non_null(strstr(d, "ECA_CRL_REFRESH_HOURS = 24\n"));
	assert_non_null(strstr(d, "ECA_DISABLE_AUTO_ENROLLMENT = NO\n"));
	assert_non_null(
	    strstr(d, "ECA_DB = sqlite:/var/lib/eca/registry.db\n"));
	assert_non_null(strstr(d, "ECA_IDENTITY = SAN\n"));
	assert_non_null(strstr(d, "LOG_LEVEL = info\n"));
	assert_null(strstr(d, "ECA_CERT_PATH"));
	assert_null(strstr(d, "ECA_CRL_PATH ="));
	assert_null(strstr(d, "USER"));
	assert_null(strstr(d, "AUDIT_LOG"));
	assert_null(strstr(d, "ADMIN_IDENTITY"));
	assert_null(strstr(d, "\nPEER = ")); /* PEER_MAX_... are other keys */
	free(d);
	eca_config_free(cfg);
	assert_null(eca_config_dump(NULL));
}

static void
test_yes_no_and_names_are_spelled_as_documented(void **state)
{
	(void)state;
	assert_int_equal(eca_config_parse_bool("YES"), 1);
	assert_int_equal(eca_config_parse_bool("yes"), 1);
	assert_int_equal(eca_config_parse_bool("No"), 0);
	assert_int_equal(eca_config_parse_bool("Y"), -1);
	assert_int_equal(eca_config_parse_bool(""), -1);
	assert_int_equal(eca_config_parse_bool(NULL), -1);
	assert_string_equal(eca_config_role_name(ECA_ROLE_PRIMARY), "primary");
	assert_string_equal(eca_config_role_name(ECA_ROLE_MEDIA), "media");
	assert_string_equal(eca_config_role_name(ECA_ROLE_CLIENT), "client");
	assert_string_equal(eca_config_role_name((enum eca_role)7), "unknown");
	/* The API's and the channels' spelling only: exact, lower case. */
	assert_int_equal(eca_config_role_from_name(NULL), -1);
	assert_int_equal(eca_config_role_from_name(""), -1);
	assert_int_equal(eca_config_role_from_name("Primary"), -1);
	assert_int_equal(eca_config_role_from_name("unknown"), -1);
	assert_int_equal(eca_config_role_from_name("client"), ECA_ROLE_CLIENT);
	assert_int_equal(eca_config_role_from_name("media"), ECA_ROLE_MEDIA);
	assert_int_equal(eca_config_role_from_name("primary"),
	    ECA_ROLE_PRIMARY);
	assert_string_equal(eca_config_crl_check_name(ECA_CRL_DISABLE),
	    "DISABLE");
	assert_string_equal(eca_config_crl_check_name(ECA_CRL_CHAIN), "CHAIN");
	assert_string_equal(eca_config_identity_name(ECA_ID_CN), "CN");
	assert_string_equal(eca_config_identity_name(ECA_ID_DN), "DN");
	eca_config_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unknown_key_is_refused_with_its_line),
	    cmocka_unit_test(test_nat_client_and_its_netbackup_spelling),
	    cmocka_unit_test(test_lower_case_key_is_unknown),
	    cmocka_unit_test(test_line_without_equals_is_refused),
	    cmocka_unit_test(test_empty_value_is_refused),
	    cmocka_unit_test(test_non_repeatable_key_given_twice_is_refused),
	    cmocka_unit_test(test_bad_yes_no_is_refused),
	    cmocka_unit_test(test_bad_enum_value_is_refused),
	    cmocka_unit_test(test_bad_number_is_refused),
	    cmocka_unit_test(test_out_of_range_number_is_refused),
	    cmocka_unit_test(test_crl_check_numbers_are_netbackup_levels),
	    cmocka_unit_test(test_crl_refresh_hours_zero_is_accepted),
	    cmocka_unit_test(test_override_sets_one_key_as_the_file_would),
	    cmocka_unit_test(test_bad_host_port_is_refused),
	    cmocka_unit_test(test_bad_server_and_peer_entries_are_refused),
	    cmocka_unit_test(test_too_many_repeatable_entries_are_refused),
	    cmocka_unit_test(test_metrics_listen_off_loopback_is_refused),
	    cmocka_unit_test(test_metrics_keys_are_read),
	    cmocka_unit_test(test_line_longer_than_4096_bytes_is_refused),
	    cmocka_unit_test(test_overlong_value_is_refused),
	    cmocka_unit_test(test_nul_byte_is_refused),
	    cmocka_unit_test(test_control_character_in_value_is_refused),
	    cmocka_unit_test(test_unprintable_key_is_refused_without_echo),
	    cmocka_unit_test(test_file_larger_than_the_limit_is_refused),
	    cmocka_unit_test(test_bad_database_url_is_refused),
	    cmocka_unit_test(test_invalid_client_name_is_refused),
	    cmocka_unit_test(test_host_names_in_mixed_case_are_folded),
	    cmocka_unit_test(test_missing_client_name_is_refused_without_line),
	    cmocka_unit_test(test_primary_without_certificate_keys_is_refused),
	    cmocka_unit_test(test_primary_is_a_host_of_its_own_domain),
	    cmocka_unit_test(test_partial_certificate_keys_are_refused),
	    cmocka_unit_test(test_passphrase_file_without_key_is_refused),
	    cmocka_unit_test(
		test_state_dir_too_long_for_derived_paths_is_refused),
	    cmocka_unit_test(test_missing_file_is_refused),
	    cmocka_unit_test(test_world_writable_file_is_refused),
	    cmocka_unit_test(
		test_refusal_without_error_buffer_still_returns_code),
	    cmocka_unit_test(test_minimal_file_gets_every_default),
	    cmocka_unit_test(test_every_key_is_parsed),
	    cmocka_unit_test(test_server_entries_keep_order_and_default_port),
	    cmocka_unit_test(test_ipv6_addresses_are_taken_without_brackets),
	    cmocka_unit_test(test_layout_variants_are_accepted),
	    cmocka_unit_test(test_explicit_paths_win_over_state_dir_defaults),
	    cmocka_unit_test(test_root_state_dir_gives_single_slash_paths),
	    cmocka_unit_test(
		test_complete_credentials_are_accepted_on_a_client),
	    cmocka_unit_test(test_dump_of_full_config_parses_back_equal),
	    cmocka_unit_test(test_dump_of_minimal_config_parses_back_equal),
	    cmocka_unit_test(test_dump_shows_defaults_and_omits_unset_keys),
	    cmocka_unit_test(test_console_keys),
	    cmocka_unit_test(test_yes_no_and_names_are_spelled_as_documented),
	};

	return cmocka_run_group_tests_name("config", tests, group_setup,
	    group_teardown);
}
