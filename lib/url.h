/*
 * URL parsing through libcurl's URL API (never by hand), and the small
 * predicates the rest of the library builds its URL rules on.
 */
#ifndef CP_URL_H
#define CP_URL_H

#include <stdbool.h>

#include "status.h"

/* The parts of an absolute URL, as libcurl splits it, not percent-decoded.
 * Absent parts are NULL; path is "/" when the URL has none. */
struct cp_url {
	char *scheme;
	char *user;
	char *password;
	char *host;      /* IPv6 literals keep their brackets */
	char *port;      /* only when written in the URL */
	char *path;
	char *query;
	char *fragment;
};

/* Parses s (NUL-terminated) into u; caller calls cp_url_free.  Refuses
 * control bytes, spaces and backslashes before libcurl sees them.
 * Returns CP_ERR_SYNTAX for anything that is not an absolute URL. */
enum cp_status cp_url_parse(const char *s, struct cp_url *u);
void cp_url_free(struct cp_url *u);

/* True for the loopback host names RFC 8252 section 7.3 covers plus
 * "localhost": "127.0.0.1", "[::1]", "localhost". */
bool cp_url_host_is_loopback(const char *host);

/* True when every byte of s is visible ASCII (0x21-0x7e). */
bool cp_is_visible_ascii(const char *s, size_t len);

#endif
