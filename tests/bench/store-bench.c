/*
 * store-bench: p50 and p99 of each store operation, one process, one
 * handle, as a FastCGI process uses it.  Figures, not a test.
 *
 *   store-bench bdb:<directory>
 *   store-bench postgresql:<conninfo>
 *
 * Each operation runs BENCH_OPS times on distinct keys with values of
 * BENCH_VALUE bytes (about a binding record's size).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define BENCH_OPS   2000
#define BENCH_VALUE 2048

static double samples[BENCH_OPS];

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *backend, const char *op, int failures)
{
	qsort(samples, BENCH_OPS, sizeof(samples[0]), cmp);
	printf("%-10s %-5s p50 %8.0f us  p99 %8.0f us%s\n", backend, op,
	    samples[BENCH_OPS / 2], samples[BENCH_OPS * 99 / 100],
	    failures ? "  (some operations failed)" : "");
}

int
main(int argc, char **argv)
{
	static char value[BENCH_VALUE];
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_buf b;
	const char *name;
	char key[32];
	time_t exp = time(NULL) + 600;
	double t;
	int i, fail;

	if (argc != 2 || strchr(argv[1], ':') == NULL) {
		fprintf(stderr, "usage: store-bench bdb:<dir> | postgresql:<conninfo>\n");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = strncmp(argv[1], "bdb:", 4) == 0 ? CP_STORE_BDB : CP_STORE_POSTGRESQL;
	cfg.store_path = strchr(argv[1], ':') + 1;
	name = cfg.store_kind == CP_STORE_BDB ? "bdb" : "postgresql";
	memset(value, 'v', sizeof(value));
	if (cp_store_open(&cfg, &st) != CP_OK)
		return 1;
	cp_buf_init(&b, BENCH_VALUE);

#define LOOP(op, call) do { \
		for (fail = 0, i = 0; i < BENCH_OPS; i++) { \
			snprintf(key, sizeof(key), "bench-%d-%ld", i, (long)exp); \
			cp_buf_reset(&b); \
			t = now_us(); \
			fail += (call) != CP_OK; \
			samples[i] = now_us() - t; \
		} \
		report(name, op, fail); \
	} while (0)

	LOOP("put", cp_store_put(st, CP_NS_BINDING, key, strlen(key), value, sizeof(value), exp));
	LOOP("get", cp_store_get(st, CP_NS_BINDING, key, strlen(key), &b, NULL));
	LOOP("swap", cp_store_swap(st, CP_NS_BINDING, key, strlen(key), value, sizeof(value),
	    value, sizeof(value) - 1, exp));
	LOOP("take", cp_store_take(st, CP_NS_BINDING, key, strlen(key), &b));
	LOOP("once", cp_store_once(st, key, strlen(key), exp));
	cp_buf_free(&b);
	cp_store_close(st);
	return 0;
}
