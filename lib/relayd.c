#include "config.h"

#define _GNU_SOURCE             /* pthread_getattr_np */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>
#include <gnutls/gnutls.h>

#include "ctx.h"
#include "log.h"
#include "relay.h"
#include "relayd.h"

/* sd_listen_fds(3): the first socket systemd passes. */
#define SD_LISTEN_FDS_START 3

/* A user with open streams (max_streams_per_user). */
struct user_streams {
	struct user_streams *next;
	unsigned open;
	time_t logged;                  /* last refusal logged */
	char id[];
};

#define USER_BUCKETS 4096

static struct {
	pthread_mutex_t mu;             /* guards everything below */
	const struct cp_endpoint *ep;
	int listen_fd;
	unsigned threads, idle, busy, max_threads;
	bool stopping;
	pthread_cond_t drained;
	unsigned streams;               /* open streams, all users */
	size_t n_users;
	struct user_streams *users[USER_BUCKETS];
	time_t total_logged;            /* last refusal at max_streams logged */
} d = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.drained = PTHREAD_COND_INITIALIZER,
	.listen_fd = -1,
};

#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_suppressions(void);

/* ThreadSanitizer (configure --enable-tsan) reads these from the program
 * itself, whichever server starts it (servers run with a cleared
 * environment, so TSAN_OPTIONS would not reach them).  Left out: lock-order
 * inversions among Berkeley DB's own latches.  In every such report of
 * relay-tsan.test, each edge of the cycle is a pthread_rwlock_* call made
 * by libdb (its latches in the environment region; our locks are all
 * plain mutexes), so no cycle involves a lock of ours: its latch order is
 * its own protocol.  Ours can join no cycle with them either, since libdb
 * calls back into us while holding a latch only for the expiry index key
 * and error messages (store_bdb.c), which take no lock of ours.
 * Everything else, data races above all, stays reported. */
const char *
__tsan_default_suppressions(void)
{
	return "deadlock:libdb-5.3.so\n";
}
#endif

unsigned
cp_relayd_default_max_streams(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1000;
	n = rl.rlim_cur > CP_RELAYD_FD_SLACK + CP_RELAYD_FDS_PER_STREAM ?
	    (rl.rlim_cur - CP_RELAYD_FD_SLACK) / CP_RELAYD_FDS_PER_STREAM : 1;
	return n > CP_RELAYD_MAX_DEFAULT_STREAMS ? CP_RELAYD_MAX_DEFAULT_STREAMS : (unsigned)n;
}

static unsigned
max_streams_of(const struct cp_config *cfg)
{
	return cfg && cfg->max_streams ? cfg->max_streams : cp_relayd_default_max_streams();
}

/* FNV-1a: spreads user ids over the buckets. */
static size_t
bucket_of(const char *id)
{
	unsigned long h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % USER_BUCKETS;
}

static struct user_streams **
user_slot(const char *id)
{
	struct user_streams **u;

	for (u = &d.users[bucket_of(id)]; *u; u = &(*u)->next)
		if (strcmp((*u)->id, id) == 0)
			break;
	return u;
}

enum cp_status
cp_relayd_stream_enter(const struct cp_config *cfg, const char *user_id,
    unsigned *retry_after)
{
	struct user_streams **slot, *u;
	time_t now = time(NULL);
	unsigned max = max_streams_of(cfg);
	size_t n;
	enum cp_status rc = CP_ERR_LIMIT;

	/* A client told to wait longer than a heartbeat would come back
	 * after a freed slot was long taken again. */
	*retry_after = cfg->heartbeat_seconds;
	pthread_mutex_lock(&d.mu);
	slot = user_slot(user_id);
	if (d.streams >= max) {
		if (now - d.total_logged >= CP_RELAYD_LOG_SECONDS) {
			d.total_logged = now;
			cp_log(CP_LOG_WARN, "max_streams (%u) reached: new streams answered 503 "
			    "(logged once a minute)", max);
		}
		goto out;
	}
	if (*slot == NULL) {
		n = strlen(user_id);
		if (d.n_users >= CP_RELAYD_MAX_USERS || (u = calloc(1, sizeof(*u) + n + 1)) == NULL)
			goto out;
		memcpy(u->id, user_id, n + 1);
		*slot = u;
		d.n_users++;
	}
	u = *slot;
	if (u->open >= cfg->max_streams_per_user) {
		if (now - u->logged >= CP_RELAYD_LOG_SECONDS) {
			u->logged = now;
			cp_log(CP_LOG_WARN, "user %.64s has max_streams_per_user (%u) open: new "
			    "streams answered 503 (logged once a minute per user)", user_id,
			    cfg->max_streams_per_user);
		}
		goto out;
	}
	u->open++;
	d.streams++;
	rc = CP_OK;
out:
	pthread_mutex_unlock(&d.mu);
	return rc;
}

void
cp_relayd_stream_leave(const char *user_id)
{
	struct user_streams **slot, *u;

	pthread_mutex_lock(&d.mu);
	slot = user_slot(user_id);
	if ((u = *slot) != NULL && u->open > 0) {
		d.streams--;
		/* Kept while a refusal was logged in the last minute, so a
		 * client retrying in a loop is not logged each time. */
		if (--u->open == 0 && time(NULL) - u->logged >= CP_RELAYD_LOG_SECONDS) {
			*slot = u->next;
			free(u);
			d.n_users--;
		}
	}
	pthread_mutex_unlock(&d.mu);
}

/* Serves one accepted request; the configuration is the request's
 * CIMD_PROXY_CONF parameter (Apache's PassEnv), else the process's. */
static void
serve(FCGX_Request *fcgx)
{
	const char *path = FCGX_GetParam("CIMD_PROXY_CONF", fcgx->envp);
	struct cp_req req;
	enum cp_status rc;
	bool stopping;

	if (path == NULL || *path == '\0')
		path = cp_conf_path();
	pthread_mutex_lock(&d.mu);
	stopping = d.stopping;
	pthread_mutex_unlock(&d.mu);
	rc = cp_req_init(&req, fcgx, fcgx->envp, NULL);
	(void)cp_ctx_begin(&req, path, req.ctx_err, sizeof(req.ctx_err));
	if (rc != CP_OK) {
		req.cfg = NULL;
		cp_resp_oauth_error(&req, 400, "invalid_request", "malformed request line");
	} else if (stopping) {
		cp_resp_header(&req, "Retry-After", "1");
		cp_relay_error(&req, 503, -32603, "the relay is restarting; try again");
	} else
		cp_endpoint_serve(d.ep, &req);
	cp_req_free(&req);
}

static void *worker(void *arg);

/* The lowest usable address of this relay thread's stack (above its
 * guard page); NULL outside relay threads. */
static __thread char *stack_low;

static void
stack_low_set(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return;
	if (pthread_attr_getstack(&attr, &addr, &size) == 0)
		stack_low = addr;
	pthread_attr_destroy(&attr);
}

void
cp_relayd_stack_trim(void)
{
	volatile char here = 0;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo, hi;

	if (stack_low == NULL)
		return;
	/* The stack grows down: from its low end up to a page boundary
	 * CP_RELAYD_STACK_KEEP below this frame. */
	lo = ((uintptr_t)stack_low + page - 1) & ~(page - 1);
	hi = ((uintptr_t)&here - CP_RELAYD_STACK_KEEP) & ~(page - 1);
	if (hi > lo && madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
		cp_log(CP_LOG_DEBUG, "relay thread stack not trimmed: %s", strerror(errno));
	(void)here;
}

/* Starts one more worker (d.mu held). */
static void
spawn(void)
{
	pthread_attr_t attr;
	pthread_t tid;

	if (d.threads >= d.max_threads || pthread_attr_init(&attr) != 0)
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, CP_RELAYD_STACK_BYTES);
	if (pthread_create(&tid, &attr, worker, NULL) == 0) {
		d.threads++;
		d.idle++;
	} else
		cp_log(CP_LOG_ERROR, "cannot start a relay thread (%u running): %s",
		    d.threads, strerror(errno));
	pthread_attr_destroy(&attr);
}

static void *
worker(void *arg)
{
	FCGX_Request fcgx;

	(void)arg;
	stack_low_set();
	if (FCGX_InitRequest(&fcgx, d.listen_fd, 0) != 0) {
		pthread_mutex_lock(&d.mu);
		d.threads--;
		d.idle--;
		pthread_mutex_unlock(&d.mu);
		return NULL;
	}
	for (;;) {
		if (FCGX_Accept_r(&fcgx) < 0)
			break;
		pthread_mutex_lock(&d.mu);
		d.idle--;
		d.busy++;
		while (d.idle < CP_RELAYD_SPARE_THREADS && d.threads < d.max_threads &&
		    !d.stopping) {
			unsigned before = d.threads;
			spawn();
			if (d.threads == before)
				break;
		}
		pthread_mutex_unlock(&d.mu);
		serve(&fcgx);
		FCGX_Finish_r(&fcgx);
		pthread_mutex_lock(&d.mu);
		d.busy--;
		d.idle++;
		if (d.busy == 0)
			pthread_cond_signal(&d.drained);
		pthread_mutex_unlock(&d.mu);
	}
	FCGX_Free(&fcgx, 1);
	pthread_mutex_lock(&d.mu);
	d.threads--;
	d.idle--;
	pthread_mutex_unlock(&d.mu);
	return NULL;
}

/* The listening socket: --listen, systemd's, or fd 0 (-1: none). */
static int
listen_socket(const char *listen_addr)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd;

	if (listen_addr) {
		if ((fd = FCGX_OpenSocket(listen_addr, CP_RELAYD_BACKLOG)) < 0)
			cp_log(CP_LOG_ERROR, "cannot listen on %s", listen_addr);
		return fd;
	}
	if (pid && fds && strtol(pid, NULL, 10) == (long)getpid() && strcmp(fds, "1") == 0)
		return SD_LISTEN_FDS_START;
	return FCGX_IsCGI() ? -1 : 0;
}

static int
run(const char *listen_addr, unsigned max_streams)
{
	struct timespec until;
	sigset_t sigs;
	int sig;

	if (FCGX_Init() != 0 || (d.listen_fd = listen_socket(listen_addr)) < 0) {
		cp_log(CP_LOG_ERROR, "cannot initialise FastCGI");
		return 1;
	}
	/* Blocked before any thread starts, so all inherit the mask and
	 * only sigwait below sees them.  A client that went away must show
	 * up as a failed write, not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	pthread_mutex_lock(&d.mu);
	d.max_threads = max_streams + CP_RELAYD_CALL_RESERVE;
	while (d.threads < CP_RELAYD_SPARE_THREADS) {
		unsigned before = d.threads;
		spawn();
		if (d.threads == before)
			break;
	}
	sig = d.threads > 0;
	pthread_mutex_unlock(&d.mu);
	if (!sig)
		return 1;
	cp_log(CP_LOG_INFO, "relay ready: up to %u threads", d.max_threads);
	do {
		if (sigwait(&sigs, &sig) != 0)
			return 1;
	} while (sig == SIGHUP);
	cp_log(CP_LOG_INFO, "relay stopping (signal %d)", sig);
	cp_relay_stop();
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CP_RELAYD_DRAIN_SECONDS;
	pthread_mutex_lock(&d.mu);
	d.stopping = true;
	while (d.busy > 0 && pthread_cond_timedwait(&d.drained, &d.mu, &until) == 0)
		;
	if (d.busy > 0)
		cp_log(CP_LOG_WARN, "relay exits with %u requests unfinished", d.busy);
	pthread_mutex_unlock(&d.mu);
	return 0;
}

int
cp_relayd_main(int argc, char **argv, const struct cp_endpoint *ep)
{
	const char *listen_addr = NULL;
	char *plain[] = { argv[0], NULL };
	struct cp_config cfg;
	char err[1024];
	unsigned max_streams;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_addr = argv[++i];
		else
			return cp_endpoint_main(argc, argv, ep);
	}
	if (listen_addr == NULL && (getenv("LISTEN_FDS") == NULL) && FCGX_IsCGI())
		return cp_endpoint_main(1, plain, ep);
	cp_log_init(ep->name);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || gnutls_global_init() < 0) {
		cp_log(CP_LOG_ERROR, "cannot initialise libcurl or GnuTLS");
		return 1;
	}
	d.ep = ep;
	/* The process's own file sizes the thread pool and sets log_level
	 * before any thread runs; requests load theirs through ctx.h. */
	if (cp_conf_load(cp_conf_path(), &cfg, err, sizeof(err)) == CP_OK) {
		cp_log_set_level(cfg.log_level);
		max_streams = max_streams_of(&cfg);
		cp_conf_free(&cfg);
	} else
		max_streams = max_streams_of(NULL);
	/* Threads still waiting in accept end with the process. */
	return run(listen_addr, max_streams);
}
