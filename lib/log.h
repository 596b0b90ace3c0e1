/*
 * Logging to stderr, which every supported web server puts in its error
 * log.  One line per event, control bytes replaced, length capped.
 * Never pass a secret (key, code, token, verifier, cookie) to these.
 */
#ifndef CP_LOG_H
#define CP_LOG_H

#include <stdbool.h>

enum cp_log_level {
	CP_LOG_ERROR = 0,
	CP_LOG_WARN,
	CP_LOG_INFO,
	CP_LOG_DEBUG
};

/* Names the program in every line (e.g. "token"); prog is not copied. */
void cp_log_init(const char *prog);
void cp_log_set_level(enum cp_log_level level);
bool cp_log_enabled(enum cp_log_level level);
/* Parses "error", "warn", "info", "debug"; -1 when unknown. */
int cp_log_level_parse(const char *s);

void cp_log(enum cp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A security event (refused binding, tampered state, ...): always logged,
 * tagged so operators can alert on it. */
void cp_log_security(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
