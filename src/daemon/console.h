/* SPDX-License-Identifier: ISC */
/*
 * console.h - what console.c shares with the embedded assets (generated
 * at build time from src/console/ by scripts/embed-assets.py) and with
 * api_console.c.
 */
#ifndef ECAD_CONSOLE_H
#define ECAD_CONSOLE_H

#include <stddef.h>

#include "ecad.h"

/*
 * One static file of the console: its path, type, bytes and version (16
 * hex digits of its SHA-256; the HTML pages name the other files as
 * "/app.js?v=VERSION").
 */
struct console_asset {
	const char *path; /* "/app.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *version;
};
extern const struct console_asset console_assets[];
extern const size_t console_nassets;

/* The sign-in link for token: "https://HOST:PORT/login#TOKEN". */
void console_link_url(const struct ecad *d, const char *token, char *buf,
    size_t len);

#endif
