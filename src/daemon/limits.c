/* SPDX-License-Identifier: ISC */
/*
 * limits.c - the bounds the API (server.c) and the peer listener (peer.c)
 * share against hostile load: a count per key (open connections per
 * source address, enrollment waits per source and per certificate) and a
 * count of handshakes in progress.  One copy, so both listeners refuse
 * the same way (docs/hardening.md).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ecad.h"

#define KEYMAP_BUCKETS 1024

/*
 * Entries exist only while their count is above zero, so the table holds
 * at most one entry per connection (or wait) that is counted.
 */
struct keyent {
	unsigned char key[ECAD_KEY_LEN];
	int count;
	struct keyent *next;
};

struct ecad_keymap {
	pthread_mutex_t lock;
	struct keyent *b[KEYMAP_BUCKETS];
};

static size_t
key_hash(const unsigned char key[ECAD_KEY_LEN])
{
	uint32_t h = 2166136261u;
	size_t i;

	/* FNV-1a; the table is small and the keys are not secret. */
	for (i = 0; i < ECAD_KEY_LEN; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % KEYMAP_BUCKETS;
}

int
ecad_keymap_new(struct ecad_keymap **out)
{
	struct ecad_keymap *m;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return ECA_ERR_NOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

void
ecad_keymap_free(struct ecad_keymap *m)
{
	struct keyent *e, *next;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < KEYMAP_BUCKETS; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int
ecad_keymap_take(struct ecad_keymap *m, const unsigned char key[ECAD_KEY_LEN],
    int max, int *count)
{
	struct keyent *e;
	size_t h = key_hash(key);
	int r = 1;

	pthread_mutex_lock(&m->lock);
	for (e = m->b[h]; e != NULL; e = e->next)
		if (memcmp(e->key, key, ECAD_KEY_LEN) == 0)
			break;
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			r = -1;
		else {
			memcpy(e->key, key, ECAD_KEY_LEN);
			e->next = m->b[h];
			m->b[h] = e;
		}
	}
	if (e != NULL) {
		if (e->count >= max)
			r = 0;
		else
			e->count++;
		if (count != NULL)
			*count = e->count;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

void
ecad_keymap_put(struct ecad_keymap *m, const unsigned char key[ECAD_KEY_LEN])
{
	struct keyent *e, **pe;

	pthread_mutex_lock(&m->lock);
	for (pe = &m->b[key_hash(key)]; (e = *pe) != NULL; pe = &e->next) {
		if (memcmp(e->key, key, ECAD_KEY_LEN) != 0)
			continue;
		if (--e->count <= 0) {
			*pe = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&m->lock);
}

int
ecad_addr_key(const struct sockaddr *sa, unsigned char key[ECAD_KEY_LEN],
    char *text, size_t len)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	memset(key, 0, ECAD_KEY_LEN);
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
		if (text != NULL &&
		    inet_ntop(AF_INET, &sin->sin_addr, text, (socklen_t)len) ==
			NULL)
			snprintf(text, len, "?");
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(key, &sin6->sin6_addr, 16);
		if (text != NULL &&
		    inet_ntop(AF_INET6, &sin6->sin6_addr, text,
			(socklen_t)len) == NULL)
			snprintf(text, len, "?");
	} else
		return -1;
	return 0;
}

int
ecad_slot_take(atomic_llong *inuse, long long max, long long *now)
{
	long long n;

	n = atomic_fetch_add(inuse, 1) + 1;
	if (now != NULL)
		*now = n;
	if (n <= max)
		return 1;
	atomic_fetch_sub(inuse, 1);
	return 0;
}

void
ecad_slot_put(atomic_llong *inuse)
{
	atomic_fetch_sub(inuse, 1);
}
