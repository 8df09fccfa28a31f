/* SPDX-License-Identifier: ISC */
/*
 * client.h - HTTPS/JSON client of the primary's API (libcurl).
 *
 * Over TLS the client presents this host's certificate (from struct
 * eca_cred, installed into libcurl's OpenSSL context) and verifies the
 * primary's certificate against this host's trust store and the primary's
 * name.  Over the control socket (a UNIX socket on the primary) no TLS is
 * used: the daemon checks the caller's credentials.
 */
#ifndef ECA_CLIENT_H
#define ECA_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "x509.h"

#define ECA_RESPONSE_MAX (8 * 1024 * 1024)

struct eca_client;

/*
 * Initialise libcurl once per program, before any thread and any client
 * (curl_global_init).  0 or ECA_ERR_INTERNAL.
 */
int eca_client_global_init(void) ECA_WUR;
/* Undo eca_client_global_init at exit, after every client is freed. */
void eca_client_global_cleanup(void);

/*
 * A client for the primary at ep (name checked against its certificate;
 * host:port is where to connect).  cred is borrowed and must outlive the
 * client.  timeout_ms bounds each request (connect + transfer).
 */
int eca_client_new_tls(const struct eca_endpoint *ep,
    const struct eca_cred *cred, long timeout_ms, struct eca_client **out,
    struct eca_err *err) ECA_WUR;
/* A client for the local control socket at path. */
int eca_client_new_unix(const char *path, long timeout_ms,
    struct eca_client **out, struct eca_err *err) ECA_WUR;
void eca_client_free(struct eca_client *c);

/*
 * Storm control: retry answers 429 BUSY.  Each retry waits the server's
 * Retry-After (1 s when absent, at most ECA_CLIENT_RETRY_AFTER_MAX) plus a
 * random 0..999 ms from RAND_bytes, so a crowd of hosts told to come back
 * does not come back in step.  At most total_ms are spent waiting in one
 * eca_client_request; past it the request fails with ECA_ERR_BUSY and a
 * remedy.  total_ms 0 (the default) turns retrying off: a 429 is returned
 * like any other status.
 */
#define ECA_CLIENT_RETRY_AFTER_MAX 60
void eca_client_set_busy_retry(struct eca_client *c, long total_ms);
/*
 * The wait before a retry, in ms: retry_after_s seconds (-1: absent, i.e.
 * 1 s; clamped to 0..ECA_CLIENT_RETRY_AFTER_MAX) plus jitter % 1000.
 */
long eca_client_busy_delay_ms(long retry_after_s, unsigned int jitter);
/* 429 answers retried by c so far (for figures and tests). */
unsigned long eca_client_busy_retries(const struct eca_client *c);

/*
 * One request: method ("GET", "POST", "DELETE"), path ("/v1/..."), body
 * (NULL for none).  On a transport failure returns ECA_ERR_UNREACHABLE (or
 * _TIMEOUT) naming the primary and the remedy.  Otherwise returns 0 with
 * *status the HTTP status and *resp the parsed JSON body (caller's, NULL
 * if the body was empty).  A response that is not JSON, or larger than
 * ECA_RESPONSE_MAX, is ECA_ERR_PROTOCOL.
 */
int eca_client_request(struct eca_client *c, const char *method,
    const char *path, const json_t *body, long *status, json_t **resp,
    struct eca_err *err) ECA_WUR;

/*
 * eca_client_request, and an answer outside 2xx is an error too: the
 * server's {"error"} (its code and message) in err, or ECA_ERR_PROTOCOL
 * for an answer without one.  0 only for a 2xx answer.  *resp keeps
 * whatever JSON came back (caller's), so that a caller can show the
 * server's object as it is (eca --json).
 */
int eca_client_call(struct eca_client *c, const char *method, const char *path,
    const json_t *body, long *status, json_t **resp,
    struct eca_err *err) ECA_WUR;

/*
 * eca_client_call (a GET or DELETE: no request body) for an answer the
 * caller decodes itself: on a 2xx answer *body and *len are the bytes
 * received, not parsed (c's buffer: valid until c's next request or
 * eca_client_free).  Any other answer is an error as in eca_client_call.
 * The roster's pages use it: their decoder reads the bytes in one pass.
 */
int eca_client_call_raw(struct eca_client *c, const char *method,
    const char *path, long *status, const char **body, size_t *len,
    struct eca_err *err) ECA_WUR;

#endif
