/* SPDX-License-Identifier: ISC */
/*
 * purpose.h - what a host-to-host communication is for.  The purpose is
 * named in the caller's HELLO (channel.h), decides whether it enrolls
 * hosts automatically (host.h, eca_autoenroll_rule) and which remedy a
 * refusal names (verdict.h); it has its own header so that those modules
 * need not include the channel's.
 */
#ifndef ECA_PURPOSE_H
#define ECA_PURPOSE_H

enum eca_purpose {
	ECA_PURPOSE_BACKUP,
	ECA_PURPOSE_RESTORE,
	ECA_PURPOSE_REPLICATION,
	ECA_PURPOSE_CONSOLE,
	ECA_PURPOSE_CONTROL,
	ECA_PURPOSE_PING,
	/*
	 * Remote enrollment (`eca enroll --remote-host`): a primary asks the
	 * host to enroll its own certificate with it.  Only the host's
	 * primary may call it; never an automatic enrollment (host.c).
	 */
	ECA_PURPOSE_ENROLL,
};

/* Its name on the wire and in messages ("backup", ...; "unknown"). */
const char *eca_purpose_name(enum eca_purpose p);
/* The purpose of a name, or -1 if unknown (names are case-sensitive). */
int eca_purpose_from_name(const char *name);
/* 1 if p is one of the purposes above, else 0. */
int eca_purpose_valid(int p);

#endif
