#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "limits.h"
#include "log.h"

static const char *log_prog = "cimd-proxy";
/* Atomic: a threaded program (the relay) reloads its configuration, and
 * with it the level, while other threads log. */
static atomic_int log_level = CP_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
cp_log_init(const char *prog)
{
	log_prog = prog;
}

void
cp_log_set_level(enum cp_log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

bool
cp_log_enabled(enum cp_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
cp_log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static void
log_line(const char *tag, const char *fmt, va_list ap)
{
	char msg[CP_MAX_LOG_LINE];
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	size_t i;
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	/* A client-supplied value must not be able to forge log lines. */
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s cimd-proxy/%s %s: %s%s\n", stamp, log_prog, tag, msg,
	    (size_t)n >= sizeof(msg) ? " [truncated]" : "");
	fflush(stderr);
}

void
cp_log(enum cp_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!cp_log_enabled(level))
		return;
	va_start(ap, fmt);
	log_line(level_names[level], fmt, ap);
	va_end(ap);
}

void
cp_log_security(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("SECURITY", fmt, ap);
	va_end(ap);
}
