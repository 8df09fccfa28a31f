/* SPDX-License-Identifier: ISC */
/*
 * ecad_log.c - where ecad's log goes: stderr with a timestamp in the
 * foreground, the systemd journal with fields when run by systemd, else
 * syslog.  The library logs through the sink installed here (log.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include "eca-config.h"
#if ECA_HAVE_SYSTEMD
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#endif

#include "ecad_impl.h"
#include "log.h"
#include "text.h"

static const char *
level_name(enum eca_log_level l)
{
	switch (l) {
	case ECA_LOG_DEBUG:
		return "debug";
	case ECA_LOG_INFO:
		return "info";
	case ECA_LOG_WARN:
		return "warn";
	default:
		return "error";
	}
}

/*
 * The function name is for developers: shown at debug level only.  Every
 * other message says what happened on its own.  The time is RFC 3339 UTC
 * (text.h) with milliseconds before its Z: 2026-12-02T16:44:50.123Z.
 */
static void
log_stderr(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *msg, void *arg)
{
	struct timeval tv;
	char ts[ECA_TEXT_TIME_LEN];
	size_t n;

	(void)arg;
	(void)fields;
	gettimeofday(&tv, NULL);
	eca_text_rfc3339(tv.tv_sec, ts, sizeof(ts));
	if ((n = strlen(ts)) > 0 && ts[n - 1] == 'Z')
		ts[n - 1] = '\0';
	fprintf(stderr, "%s.%03ldZ ecad[%ld] %s: %s%s%s\n", ts,
	    (long)tv.tv_usec / 1000, (long)getpid(), level_name(level),
	    level == ECA_LOG_DEBUG ? func : "",
	    level == ECA_LOG_DEBUG ? ": " : "", msg);
}

static const int syslog_prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};

static void
log_syslog(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *msg, void *arg)
{
	(void)arg;
	(void)fields;
	if (level == ECA_LOG_DEBUG)
		syslog(LOG_DEBUG, "debug: %s: %s", func, msg);
	else
		syslog(syslog_prio[level], "%s: %s", level_name(level), msg);
}

#if ECA_HAVE_SYSTEMD
#define JOURNAL_FIELDS_MAX 8   /* fields of one message */
#define JOURNAL_FIELD_LEN 1100 /* "NAME=" + a 1024-byte message */

struct journal_entry {
	char buf[4 + JOURNAL_FIELDS_MAX][JOURNAL_FIELD_LEN];
	struct iovec iov[4 + JOURNAL_FIELDS_MAX];
	size_t n;
};

/* One NAME=value field (cut at JOURNAL_FIELD_LEN); empty values left out. */
static void
journal_add(struct journal_entry *e, const char *name, const char *value)
{
	int len;

	if (value == NULL || value[0] == '\0' ||
	    e->n >= sizeof(e->iov) / sizeof(e->iov[0]))
		return;
	len = snprintf(e->buf[e->n], JOURNAL_FIELD_LEN, "%s=%s", name, value);
	if (len < 0)
		return;
	e->iov[e->n].iov_base = e->buf[e->n];
	e->iov[e->n].iov_len =
	    len < JOURNAL_FIELD_LEN ? (size_t)len : JOURNAL_FIELD_LEN - 1;
	e->n++;
}

/*
 * The journal: the message, its priority, the function as CODE_FUNC, and
 * the decision's fields (HOST, FINGERPRINT, REASON, PRIMARY) apart, so
 * that `journalctl -u ecad HOST=db7.example.com` finds a host's verdicts.
 */
static void
log_journal(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *msg, void *arg)
{
	static const char *const prio[] = {"7", "6", "4", "3"};
	struct journal_entry e;
	size_t i;

	(void)arg;
	e.n = 0;
	journal_add(&e, "MESSAGE", msg);
	journal_add(&e, "PRIORITY", prio[level]);
	journal_add(&e, "SYSLOG_IDENTIFIER", "ecad");
	journal_add(&e, "CODE_FUNC", func);
	for (i = 0;
	     fields != NULL && fields[i].name != NULL && i < JOURNAL_FIELDS_MAX;
	     i++)
		journal_add(&e, fields[i].name, fields[i].value);
	(void)sd_journal_sendv(e.iov, (int)e.n);
}

/*
 * systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected
 * to stderr; it counts only if stderr is still that stream (a child with
 * stderr redirected to a file inherits the variable).
 */
static int
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}
#endif

static enum eca_log_level
log_level_of(const char *s)
{
	if (s == NULL)
		return ECA_LOG_INFO;
	if (strcasecmp(s, "debug") == 0)
		return ECA_LOG_DEBUG;
	if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		return ECA_LOG_WARN;
	if (strcasecmp(s, "error") == 0)
		return ECA_LOG_ERROR;
	return ECA_LOG_INFO;
}

void
ecad_log_setup(struct ecad *d)
{
	enum eca_log_level min = log_level_of(d->cfg->log_level);

#if ECA_HAVE_SYSTEMD
	if (d->foreground && (d->journal || stderr_is_journal()))
		eca_log_set_sink(log_journal, NULL, min);
	else
#endif
	    if (d->foreground)
		eca_log_set_sink(log_stderr, NULL, min);
	else {
		openlog("ecad", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		eca_log_set_sink(log_syslog, NULL, min);
	}
}
