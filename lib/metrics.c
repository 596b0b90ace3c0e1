#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "metrics.h"

/* "cimdmet" and the layout version: a file of another layout is refused,
 * never reinterpreted. */
#define LAYOUT_MAGIC    UINT64_C(0x636d6d6574720001)
#define FILE_NAME       "metrics.shm"
#define PREFIX          "cimd_proxy_"

/* The file: fixed, every slot 8-byte aligned, zero meaning "none yet". */
struct layout {
	uint64_t magic;
	int64_t slot[CP_M_COUNT];
	uint64_t requests[CP_METRICS_NENDPOINTS][CP_METRICS_NSTATUSES];
	uint64_t bucket[CP_METRICS_NBUCKETS];  /* per bucket, not cumulative */
	uint64_t upstream_usec;                /* the histogram's sum */
};

struct slot_desc {
	const char *family, *labels, *type, *help;
};

static const struct slot_desc slots[CP_M_COUNT] = {
#define CP_METRIC_DESC(id, fam, lab, type, help) { fam, lab, type, help },
	CP_METRICS_LIST(CP_METRIC_DESC)
#undef CP_METRIC_DESC
};

static const char *const endpoints[CP_METRICS_NENDPOINTS] = { CP_METRICS_ENDPOINTS };
static const int statuses[] = { CP_METRICS_STATUSES };
static const double buckets[] = { CP_METRICS_BUCKETS };
_Static_assert(sizeof(statuses) / sizeof(statuses[0]) + 1 == CP_METRICS_NSTATUSES,
    "CP_METRICS_NSTATUSES counts the statuses and other");
_Static_assert(sizeof(buckets) / sizeof(buckets[0]) + 1 == CP_METRICS_NBUCKETS,
    "CP_METRICS_NBUCKETS counts the buckets and +Inf");

/* This process's mapping, and the file it maps (to notice a change).
 * The threads of a relay process count concurrently: map is read with
 * an acquire load (MAP()), and cp_metrics_setup, the only writer while
 * requests run, holds setup_lock.  A mapping setup replaces (the
 * configuration named another file, or turned metrics off) is retired,
 * never unmapped, since another thread may still be adding to it: one
 * small mapping per such change.  cp_metrics_close, for tests and exit,
 * does unmap. */
static struct layout *map;
static char map_path[CP_MAX_URL];
static char failed_path[CP_MAX_URL];    /* logged once */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
#define MAP()   __atomic_load_n(&map, __ATOMIC_ACQUIRE)

bool
cp_metrics_file(const struct cp_config *cfg, char *out, size_t len)
{
	int n;

	if (cfg->store_kind == CP_STORE_BDB && cfg->store_path != NULL)
		n = snprintf(out, len, "%s/" FILE_NAME, cfg->store_path);
	else
		n = snprintf(out, len, "%s/lib/cimd-proxy/" FILE_NAME, CP_LOCALSTATEDIR);
	return n > 0 && (size_t)n < len;
}

void
cp_metrics_close(void)
{
	struct layout *m = __atomic_exchange_n(&map, NULL, __ATOMIC_ACQ_REL);

	if (m != NULL)
		munmap(m, sizeof(*m));
	map_path[0] = '\0';
}

enum cp_status
cp_metrics_open(const char *path)
{
	enum cp_status rc = CP_ERR_IO;
	struct stat st;
	struct layout *m = MAP_FAILED;
	uint64_t zero = 0;
	int fd;

	cp_metrics_close();
	if (strlen(path) >= sizeof(map_path))
		return CP_ERR_LIMIT;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return CP_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	/* Every process sizes it to the same length: growing a new file is
	 * idempotent and a file of the right size is left alone.  Any other
	 * size is another layout. */
	if (st.st_size == 0 && ftruncate(fd, (off_t)sizeof(*m)) != 0)
		goto out;
	if (st.st_size != 0 && st.st_size != (off_t)sizeof(*m)) {
		rc = CP_ERR_INVALID;
		goto out;
	}
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto out;
	/* The first process stamps the layout; the rest check it. */
	if (!__atomic_compare_exchange_n(&m->magic, &zero, LAYOUT_MAGIC, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) && zero != LAYOUT_MAGIC) {
		rc = CP_ERR_INVALID;
		goto out;
	}
	__atomic_store_n(&map, m, __ATOMIC_RELEASE);
	m = MAP_FAILED;
	memcpy(map_path, path, strlen(path) + 1);
	rc = CP_OK;
out:
	if (m != MAP_FAILED)
		munmap(m, sizeof(*m));
	close(fd);
	return rc;
}

/* Forgets the current mapping without unmapping it (above). */
static void
retire(void)
{
	__atomic_store_n(&map, NULL, __ATOMIC_RELEASE);
	map_path[0] = '\0';
}

enum cp_status
cp_metrics_setup(const struct cp_config *cfg)
{
	char path[CP_MAX_URL];
	enum cp_status rc = CP_OK;

	pthread_mutex_lock(&setup_lock);
	if (cfg->metrics_path == NULL) {
		retire();
		goto out;
	}
	if (!cp_metrics_file(cfg, path, sizeof(path))) {
		rc = CP_ERR_LIMIT;
		goto out;
	}
	if (MAP() != NULL && strcmp(path, map_path) == 0)
		goto out;
	if (strcmp(path, failed_path) == 0) {
		rc = CP_ERR_IO;
		goto out;
	}
	retire();
	if ((rc = cp_metrics_open(path)) != CP_OK) {
		cp_log(CP_LOG_ERROR, "metrics file %s unusable (%s): metrics are not "
		    "counted; the directory must be writable by the programs' user",
		    path, rc == CP_ERR_INVALID ? "another layout: remove it" :
		    strerror(errno));
		memcpy(failed_path, path, strlen(path) + 1);
	}
out:
	pthread_mutex_unlock(&setup_lock);
	return rc;
}

void
cp_metrics_add(enum cp_metric m, int64_t n)
{
	struct layout *l = MAP();

	if (l != NULL && (unsigned)m < CP_M_COUNT)
		__atomic_fetch_add(&l->slot[m], n, __ATOMIC_RELAXED);
}

int64_t
cp_metrics_get(enum cp_metric m)
{
	struct layout *l;

	if ((l = MAP()) == NULL || (unsigned)m >= CP_M_COUNT)
		return 0;
	return __atomic_load_n(&l->slot[m], __ATOMIC_RELAXED);
}

void
cp_metrics_request(const char *endpoint, int status)
{
	struct layout *l;
	size_t e, s;

	if ((l = MAP()) == NULL)
		return;
	for (e = 0; e < CP_METRICS_NENDPOINTS - 1; e++)
		if (endpoint != NULL && strcmp(endpoint, endpoints[e]) == 0)
			break;
	for (s = 0; s < CP_METRICS_NSTATUSES - 1; s++)
		if (status == statuses[s])
			break;
	__atomic_fetch_add(&l->requests[e][s], 1, __ATOMIC_RELAXED);
}

void
cp_metrics_upstream(uint64_t usec)
{
	struct layout *l;
	size_t b;

	if ((l = MAP()) == NULL)
		return;
	for (b = 0; b < CP_METRICS_NBUCKETS - 1; b++)
		if ((double)usec <= buckets[b] * 1e6)
			break;
	__atomic_fetch_add(&l->bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->upstream_usec, usec, __ATOMIC_RELAXED);
}

static enum cp_status
family_head(struct cp_buf *out, const char *family, const char *type, const char *help)
{
	return cp_buf_printf(out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n",
	    family, help, family, type);
}

enum cp_status
cp_metrics_expose(struct cp_buf *out)
{
	struct layout *l;
	enum cp_status rc = CP_OK;
	uint64_t cum = 0, v;
	size_t i, e, s;

	if ((l = MAP()) == NULL)
		return CP_ERR_INVALID;
	for (i = 0; i < CP_M_COUNT && rc == CP_OK; i++) {
		if (slots[i].type != NULL)
			rc = family_head(out, slots[i].family, slots[i].type, slots[i].help);
		if (rc == CP_OK)
			rc = cp_buf_printf(out, PREFIX "%s%s%s%s %" PRId64 "\n",
			    slots[i].family, slots[i].labels ? "{" : "",
			    slots[i].labels ? slots[i].labels : "",
			    slots[i].labels ? "}" : "",
			    __atomic_load_n(&l->slot[i], __ATOMIC_RELAXED));
	}
	if (rc == CP_OK)
		rc = family_head(out, "requests_total", "counter",
		    "Requests answered, by endpoint and HTTP status.");
	for (e = 0; e < CP_METRICS_NENDPOINTS && rc == CP_OK; e++)
		for (s = 0; s < CP_METRICS_NSTATUSES && rc == CP_OK; s++) {
			if ((v = __atomic_load_n(&l->requests[e][s], __ATOMIC_RELAXED)) == 0)
				continue;
			if (s < CP_METRICS_NSTATUSES - 1)
				rc = cp_buf_printf(out, PREFIX "requests_total{endpoint=\"%s\","
				    "status=\"%d\"} %" PRIu64 "\n", endpoints[e], statuses[s], v);
			else
				rc = cp_buf_printf(out, PREFIX "requests_total{endpoint=\"%s\","
				    "status=\"other\"} %" PRIu64 "\n", endpoints[e], v);
		}
	if (rc == CP_OK)
		rc = family_head(out, "upstream_seconds", "histogram",
		    "Time to the gateway's answer headers, per relayed request.");
	/* The count is the +Inf bucket, so the three agree even while other
	 * processes add. */
	for (i = 0; i < CP_METRICS_NBUCKETS && rc == CP_OK; i++) {
		cum += __atomic_load_n(&l->bucket[i], __ATOMIC_RELAXED);
		if (i < CP_METRICS_NBUCKETS - 1)
			rc = cp_buf_printf(out, PREFIX "upstream_seconds_bucket{le=\"%g\"} %"
			    PRIu64 "\n", buckets[i], cum);
		else
			rc = cp_buf_printf(out, PREFIX "upstream_seconds_bucket{le=\"+Inf\"} %"
			    PRIu64 "\n", cum);
	}
	v = __atomic_load_n(&l->upstream_usec, __ATOMIC_RELAXED);
	if (rc == CP_OK)
		rc = cp_buf_printf(out, PREFIX "upstream_seconds_sum %" PRIu64 ".%06" PRIu64
		    "\n" PREFIX "upstream_seconds_count %" PRIu64 "\n",
		    v / 1000000, v % 1000000, cum);
	return rc;
}

bool
cp_cidr_match(const struct cp_cidr *blocks, size_t n, const char *addr)
{
	unsigned char a[16], a4[4];
	bool have4 = false;
	size_t i, j, full;
	const unsigned char *p;
	static const unsigned char mapped[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (addr == NULL)
		return false;
	if (inet_pton(AF_INET, addr, a4) == 1)
		have4 = true;
	else if (inet_pton(AF_INET6, addr, a) == 1) {
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(a4, a + 12, 4);
			have4 = true;
		}
	} else
		return false;
	for (i = 0; i < n; i++) {
		if (blocks[i].family == AF_INET && have4)
			p = a4;
		else if (blocks[i].family == AF_INET6 && !have4)
			p = a;
		else
			continue;
		full = blocks[i].prefix / 8;
		for (j = 0; j < full; j++)
			if (p[j] != blocks[i].addr[j])
				break;
		if (j < full)
			continue;
		if (blocks[i].prefix % 8 != 0 &&
		    ((p[full] ^ blocks[i].addr[full]) &
		    (unsigned char)(0xff << (8 - blocks[i].prefix % 8))) != 0)
			continue;
		return true;
	}
	return false;
}
