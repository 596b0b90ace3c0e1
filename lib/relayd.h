/*
 * The relay's server: one process answering many /mcp requests at once.
 *
 * Why threads and not an event loop: every step of a relayed request
 * but the wait on the gateway (reading the body, verifying the token,
 * the store) is blocking code shared with the other endpoints, and an
 * MCP stream spends its life in one wait.  So each request gets a thread
 * of its own (libfcgi's FCGX_Accept_r is thread-safe: each thread
 * accepts on the shared listening socket with its own FCGX_Request), and
 * the thread's wait covers the gateway transfer and the client's
 * connection together (relay.c).  What an idle stream holds is its
 * thread's touched stack, its FCGX_Request buffers and one libcurl
 * transfer with its connection; everything else is allocated per use.
 *
 * Threads are started as they are needed: CP_RELAYD_SPARE_THREADS wait
 * in accept, and when one takes a request another is started, up to
 * max_streams + CP_RELAYD_CALL_RESERVE.  Streams are counted and capped
 * at max_streams (cp_relayd_stream_enter), so the reserve always remains
 * for tool calls.
 *
 * The listening socket: --listen PATH|HOST:PORT opens one; else a socket
 * passed by systemd (LISTEN_FDS, sd_listen_fds(3)); else fd 0, where
 * lighttpd's bin-path and mod_fcgid hand one over.  Without any, the
 * program runs as plain CGI: one request per process.
 *
 * SIGTERM or SIGINT: no more requests are taken, every open stream ends
 * cleanly within CP_RELAY_WAIT_MS (its client sees the end of the
 * response and reconnects), and the process exits once they are done,
 * at the latest after CP_RELAYD_DRAIN_SECONDS.  libfcgi's own handlers
 * would leave the process running (FCGX_Init installs them), so the
 * signals are blocked in every thread and taken by sigwait.
 */
#ifndef CP_RELAYD_H
#define CP_RELAYD_H

#include <stdbool.h>

#include "endpoint.h"

/* A thread's stack (reserved address space; only touched pages cost
 * memory).  libcurl with GnuTLS, json-c and the request's own buffers
 * (CP_RELAY_INLINE_BODY on the stack) use under 64 KB; sanitizer builds
 * need several times that. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CP_RELAYD_STACK_BYTES   (4 * 1024 * 1024)
#else
#define CP_RELAYD_STACK_BYTES   (256 * 1024)
#endif
/* What cp_relayd_stack_trim keeps below its caller's frame: its own
 * frame and madvise's. */
#define CP_RELAYD_STACK_KEEP    4096
#define CP_RELAYD_SPARE_THREADS 8       /* idle threads waiting in accept */
#define CP_RELAYD_CALL_RESERVE  64      /* threads streams may not take */
#define CP_RELAYD_BACKLOG       4096    /* listen(2) backlog of --listen */
#define CP_RELAYD_DRAIN_SECONDS 5       /* SIGTERM: wait this long for requests */
#define CP_RELAYD_FD_SLACK      64      /* fds kept for the store, logs, listener */
/* A stream holds four descriptors: the web server's connection, the
 * gateway's, and the socketpair libcurl's multi handle keeps for
 * curl_multi_wakeup (relay.c makes one multi handle per request). */
#define CP_RELAYD_FDS_PER_STREAM 4
/* A thread is two mappings (stack, guard): vm.max_map_count (65530 by
 * default) allows about 32,000 per process. */
#define CP_RELAYD_MAX_DEFAULT_STREAMS 20000
#define CP_RELAYD_MAX_USERS     65536   /* users tracked by the per-user cap */
#define CP_RELAYD_LOG_SECONDS   60      /* a user's refusals logged once per */

/*
 * Gives back the pages of the calling relay thread's stack below its
 * caller's frame (madvise MADV_DONTNEED: they read as zeros when touched
 * again).  A thread keeps every stack page it ever touched, and the
 * token check, the configuration and a POST body on the stack reach far
 * deeper than an idle stream's wait does; the relay calls this once a
 * stream settles into that wait, so a held stream costs only the pages
 * the wait itself touches.  Does nothing outside a relay thread (CGI,
 * the main thread).
 */
void cp_relayd_stack_trim(void);

/* Runs the endpoint as described above; argv may hold --listen ADDR and
 * --check-config.  Returns the process exit status. */
int cp_relayd_main(int argc, char **argv, const struct cp_endpoint *ep);


/* Admits a stream of user_id against cfg's max_streams and
 * max_streams_per_user.  CP_OK: the caller must call
 * cp_relayd_stream_leave(user_id) when it ends.  CP_ERR_LIMIT: at a cap
 * (logged at most once per CP_RELAYD_LOG_SECONDS per user); *retry_after
 * is the seconds the client should wait. */
enum cp_status cp_relayd_stream_enter(const struct cp_config *cfg, const char *user_id,
    unsigned *retry_after);
void cp_relayd_stream_leave(const char *user_id);

/* The default max_streams for this process: (RLIMIT_NOFILE soft limit -
 * CP_RELAYD_FD_SLACK) / CP_RELAYD_FDS_PER_STREAM, at most
 * CP_RELAYD_MAX_DEFAULT_STREAMS. */
unsigned cp_relayd_default_max_streams(void);

#endif
