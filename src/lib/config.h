/* SPDX-License-Identifier: ISC */
/*
 * config.h - eca.conf: `KEY = value` lines, `#` comments.
 *
 * Parsing follows "unset, then defaults, then validate": the keyword
 * table in config_table.c names each key, its type and whether it may
 * repeat; every error is reported as `file:line: message`.  Unknown keys
 * are errors.
 */
#ifndef ECA_CONFIG_H
#define ECA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ECA_DEFAULT_API_PORT "1556"
#define ECA_DEFAULT_PEER_PORT "1557"
#define ECA_DEFAULT_BROKER_PORT "1558"
#define ECA_DEFAULT_CONSOLE_PORT "1559"
#define ECA_CONFIG_MAX_SIZE (1024 * 1024)
#define ECA_MAX_SERVERS 32
#define ECA_MAX_PEERS 1024
#define ECA_MAX_ADMINS 64

enum eca_role { ECA_ROLE_CLIENT, ECA_ROLE_MEDIA, ECA_ROLE_PRIMARY };
enum eca_crl_check { ECA_CRL_DISABLE, ECA_CRL_LEAF, ECA_CRL_CHAIN };
/* Which certificate field names the host. */
enum eca_identity { ECA_ID_SAN, ECA_ID_CN, ECA_ID_DN };

/* `SERVER = name [host:port]` and `PEER = name host:port`. */
struct eca_endpoint {
	char *name;
	char *host; /* where to connect; defaults to name */
	char *port; /* defaults to the role's default port */
};

/*
 * The effective configuration.  All strings are owned by the struct and
 * freed by eca_config_free(); unset optional strings are NULL.  Each field
 * holds the key its comment names; the defaults and bounds are in one
 * place, the keyword table (config_table.c, docs/configuration.md).
 */
struct eca_config {
	char *path;	    /* file it came from, for messages */
	char *client_name;  /* CLIENT_NAME (required) */
	enum eca_role role; /* ROLE */
	struct eca_endpoint servers[ECA_MAX_SERVERS]; /* SERVER, 1st default */
	size_t nservers;
	struct eca_endpoint peers[ECA_MAX_PEERS]; /* PEER */
	size_t npeers;
	struct eca_endpoint listen; /* LISTEN host:port (peer listener) */
	/*
	 * NAT_CLIENT YES/NO; also set by NetBackup's spelling,
	 * ACCEPT_REVERSE_CONNECTION (docs/nat.md).
	 */
	int nat_client;
	int accept_reverse_connection; /* ACCEPT_REVERSE_CONNECTION */
	/*
	 * ENABLE_DIRECT_CONNECTION TRUE/FALSE (NetBackup's spelling): a host
	 * the roster does not flag as a NAT host is tried directly first,
	 * then through a reverse connection (docs/nat.md, "Choosing").
	 */
	int enable_direct_connection;
	int broker_heartbeat_seconds; /* BROKER_HEARTBEAT_SECONDS */
	/* The primary: reverse connection tokens and relays (docs/nat.md). */
	int nat_token_seconds; /* NAT_TOKEN_SECONDS */
	int relay_max_kbytes;  /* RELAY_MAX_KBYTES, both ways together */
	int relay_max_seconds; /* RELAY_MAX_SECONDS */
	char *state_dir;       /* STATE_DIR */

	/* S10: this host's external certificate. */
	char *cert_path;	   /* ECA_CERT_PATH */
	char *key_path;		   /* ECA_PRIVATE_KEY_PATH */
	char *trust_store_path;	   /* ECA_TRUST_STORE_PATH */
	char *key_passphrase_file; /* ECA_KEY_PASSPHRASEFILE */
	/*
	 * ECA_TRUST_PARTIAL_CHAIN: a certificate of the trust store is a
	 * trust anchor even when it is not self-signed (an issuing CA
	 * trusted without its root).
	 */
	int trust_partial_chain;
	enum eca_crl_check crl_check; /* ECA_CRL_CHECK */
	char *crl_path;		      /* ECA_CRL_PATH */
	int crl_path_sync_hours;      /* ECA_CRL_PATH_SYNC_HOURS */
	int crl_refresh_hours;	      /* ECA_CRL_REFRESH_HOURS */
	int crl_grace_hours;	      /* ECA_CRL_GRACE_HOURS */
	int crl_fail_open;	      /* ECA_CRL_FAIL_OPEN */
	/*
	 * ECA_CERT_EXPIRY_WARN_DAYS: this host's certificate within this
	 * many days of its end is a warning (health-check, /v1/health); 0
	 * never warns.
	 */
	int cert_expiry_warn_days;
	int disable_auto_enrollment; /* ECA_DISABLE_AUTO_ENROLLMENT */
	int roster_max_age;	     /* ECA_ROSTER_MAX_AGE, seconds */
	int roster_sync_seconds;     /* ECA_ROSTER_SYNC_SECONDS */

	/* Primary only. */
	struct eca_endpoint api_listen;	   /* API_LISTEN */
	struct eca_endpoint broker_listen; /* BROKER_LISTEN (docs/nat.md) */
	char *db;			   /* ECA_DB */
	char *db_password_file;	      /* ECA_DB_PASSWORD_FILE (PostgreSQL) */
	enum eca_identity identity;   /* ECA_IDENTITY */
	char *admins[ECA_MAX_ADMINS]; /* ADMIN_IDENTITY */
	size_t nadmins;
	/* METRICS_IDENTITY: may read GET /metrics, nothing else. */
	char *metrics_ids[ECA_MAX_ADMINS];
	size_t nmetrics_ids;
	/* METRICS_LISTEN: plain HTTP /metrics, loopback only; host NULL: none. */
	struct eca_endpoint metrics_listen;
	char *audit_log;		/* AUDIT_LOG */
	int allow_forced_reenrollment;	/* ECA_ALLOW_FORCED_REENROLLMENT */
	char *control_socket;		/* CONTROL_SOCKET */
	int workers;			/* WORKERS, 0 = one per core */
	int max_connections;		/* MAX_CONNECTIONS */
	int request_timeout;		/* REQUEST_TIMEOUT, seconds */
	int max_connections_per_source; /* MAX_CONNECTIONS_PER_SOURCE */
	int idle_timeout;		/* IDLE_TIMEOUT, seconds */
	int max_handshakes;		/* MAX_HANDSHAKES */
	int max_pending_enrollments;	/* MAX_PENDING_ENROLLMENTS */
	int group_commit_delay_us;	/* GROUP_COMMIT_DELAY_US */
	int busy_retry_after;		/* BUSY_RETRY_AFTER, seconds */
	/* The peer listener's bounds (docs/hardening.md). */
	int peer_max_connections_per_source; /* PEER_MAX_CONNECTIONS_... */
	int peer_max_handshakes;	     /* PEER_MAX_HANDSHAKES */
	int peer_enroll_waits_per_source;    /* PEER_ENROLL_WAITS_PER_SOURCE */

	/* The web console (docs/console.md); host NULL: none (NO). */
	struct eca_endpoint console_listen; /* CONSOLE_LISTEN */
	int console_link_minutes;	    /* CONSOLE_LINK_MINUTES */
	int console_idle_minutes;	    /* CONSOLE_IDLE_MINUTES */
	int console_session_hours;	    /* CONSOLE_SESSION_HOURS */
	char *console_cert_path; /* CONSOLE_CERT_PATH (NULL: ECA_CERT_PATH) */
	char *console_key_path;	 /* CONSOLE_PRIVATE_KEY_PATH */

	/* Daemon. */
	char *user;	 /* USER to drop to, started as root */
	char *pid_file;	 /* PID_FILE */
	char *log_level; /* LOG_LEVEL debug|info|warn|error */
};

/*
 * Parse the file at path.  On success *out is owned by the caller; on
 * failure *out is NULL and err holds `file:line: message`.
 */
int eca_config_load(const char *path, struct eca_config **out,
    struct eca_err *err) ECA_WUR;
/*
 * Same for a buffer (len bytes, need not be NUL-terminated); name is used
 * in messages.
 */
int eca_config_parse(const char *buf, size_t len, const char *name,
    struct eca_config **out, struct eca_err *err) ECA_WUR;
void eca_config_free(struct eca_config *cfg);
/*
 * Set key in a loaded cfg to value, parsed and checked as a line of the
 * file would be, for one run (`eca health-check --cert-path FILE` checks a
 * file before it is configured).  Only a key given once in a file; the
 * rules about the file as a whole are not run again.  ECA_ERR_CONFIG, the
 * message starting with origin (the option), if the key is unknown or
 * repeatable or the value is refused.
 */
int eca_config_override(struct eca_config *cfg, const char *key,
    const char *value, const char *origin, struct eca_err *err) ECA_WUR;

/*
 * The effective configuration as `KEY = value` lines (defaults filled in),
 * parseable again by eca_config_parse.  Caller frees with free().
 */
char *eca_config_dump(const struct eca_config *cfg);

/* The SERVER entry with this name, or the first one if name is NULL. */
const struct eca_endpoint *eca_config_server(const struct eca_config *cfg,
    const char *name);
/* Parse "YES"/"NO" (case-insensitive); -1 if neither. */
int eca_config_parse_bool(const char *s);

const char *eca_config_role_name(enum eca_role role);
/*
 * The role named s exactly as eca_config_role_name spells it (the API and
 * channels do; the ROLE key also takes other cases), or -1.
 */
int eca_config_role_from_name(const char *s);
const char *eca_config_crl_check_name(enum eca_crl_check c);
const char *eca_config_identity_name(enum eca_identity id);

#endif
