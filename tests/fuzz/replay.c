/*
 * Replays a fuzz target's seed corpus without libFuzzer, so `make check`
 * (gcc, sanitizers or valgrind) runs every seed.  The target's name is
 * the program name after "replay_"; seeds live in
 * $top_srcdir/tests/fuzz/corpus/<name>/.  One TAP line per seed.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEED (1 << 20)

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	const char *name = strrchr(argv[0], '/');
	char dir[4096], file[8192], **names = NULL, **more;
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;

	(void)argc;
	name = name ? name + 1 : argv[0];
	if (strncmp(name, "replay_", 7) == 0)
		name += 7;
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top ? top : ".", name);
	if ((d = opendir(dir)) == NULL) {
		printf("1..0 # SKIP no corpus at %s\n", dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			if ((more = realloc(names, (n + 1) * sizeof(*names))) == NULL)
				goto oom;
			names = more;
			if ((names[n] = strdup(de->d_name)) == NULL)
				goto oom;
			n++;
		}
	closedir(d);
	/* qsort's base is declared nonnull, and an empty corpus leaves names NULL. */
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp);
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		static uint8_t buf[MAX_SEED];
		size_t len;
		FILE *f;

		snprintf(file, sizeof(file), "%s/%s", dir, names[i]);
		if ((f = fopen(file, "rb")) == NULL) {
			printf("not ok %zu - %s: cannot open\n", i + 1, names[i]);
			continue;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		/* A crash aborts the program (sanitizers) and fails the test. */
		LLVMFuzzerTestOneInput(buf, len);
		printf("ok %zu - %s/%s\n", i + 1, name, names[i]);
		fflush(stdout);
		free(names[i]);
	}
	free(names);
	return 0;
oom:
	closedir(d);
	printf("Bail out! out of memory\n");
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 1;
}
