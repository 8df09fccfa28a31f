/* SPDX-License-Identifier: ISC */
/*
 * purpose.c - the names of the purposes of a communication (purpose.h).
 */
#include "purpose.h"

#include <stddef.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const purpose_names[] = {
    [ECA_PURPOSE_BACKUP] = "backup",
    [ECA_PURPOSE_RESTORE] = "restore",
    [ECA_PURPOSE_REPLICATION] = "replication",
    [ECA_PURPOSE_CONSOLE] = "console",
    [ECA_PURPOSE_CONTROL] = "control",
    [ECA_PURPOSE_PING] = "ping",
    [ECA_PURPOSE_ENROLL] = "enroll",
};

int
eca_purpose_valid(int p)
{
	return p >= 0 && (size_t)p < NELEM(purpose_names);
}

const char *
eca_purpose_name(enum eca_purpose p)
{
	if (!eca_purpose_valid((int)p))
		return "unknown";
	return purpose_names[p];
}

int
eca_purpose_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < NELEM(purpose_names); i++)
		if (strcmp(name, purpose_names[i]) == 0)
			return (int)i;
	return -1;
}
