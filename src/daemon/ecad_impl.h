/* SPDX-License-Identifier: ISC */
/*
 * ecad_impl.h - what the files of ecad's main program share (the rest of
 * the daemon sees only ecad.h):
 *
 *   ecad.c       options, the start-up phases, signals, main()
 *   ecad_log.c   the log sinks: stderr, the systemd journal, syslog
 *   ecad_snap.c  the configuration, its snapshot and SIGHUP's reload
 *   ecad_proc.c  daemonizing, the pid file, dropping privileges, thread
 *                names
 */
#ifndef ECAD_IMPL_H
#define ECAD_IMPL_H

#include "ecad.h"

/* Install the log sink for d's options and LOG_LEVEL. */
void ecad_log_setup(struct ecad *d);

/*
 * Phase: the configuration and credentials (also all of -t and -T):
 * d->cfg and d->snap.  0, or -1 with the reason printed on stderr.
 */
int ecad_config_load(struct ecad *d);
/* SIGHUP: new configuration and credentials, or keep the old ones. */
void ecad_reload(struct ecad *d);

/*
 * Double fork and setsid; the original process waits on a pipe for
 * "ready" (exit 0) or the start-up error (printed, exit 1), so a script
 * that runs `ecad -f FILE` learns whether it started.  d->ready_fd is the
 * pipe's end.  0, or -1 with the reason printed.
 */
int ecad_daemonize(struct ecad *d);
/* Refuse to start when PID_FILE names a live ecad. */
int ecad_pidfile_check(struct ecad *d, struct eca_err *err) ECA_WUR;
int ecad_pidfile_write(struct ecad *d, struct eca_err *err) ECA_WUR;
void ecad_pidfile_remove(struct ecad *d);
/*
 * Phase: as root with USER set, hand the state to USER and become it for
 * good (and check that root cannot be regained).  d->admin_uid is the
 * uid the daemon runs as after it.
 */
int ecad_drop_privileges(struct ecad *d, struct eca_err *err) ECA_WUR;

#endif
