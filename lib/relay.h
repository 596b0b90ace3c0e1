/*
 * The MCP Streamable HTTP relay (doc/protocol.md 13): one request from the
 * web server to gateway_url and its answer back, both streamed.  The
 * request body is read from the web server as libcurl sends it (a body
 * of known length up to CP_RELAY_INLINE_BODY is read first and sent with
 * the headers); the response status and headers are written before the
 * first body byte, and each SSE chunk is written and flushed as it
 * arrives, so events reach the client when the gateway sends them (a
 * JSON answer is written as it arrives and flushed as libfcgi's buffer
 * fills and at its end).  Every chunk is also fed to the URL-elicitation
 * scanner (elicit.h) after it was forwarded.
 *
 * A relay holds one libcurl easy handle (and the multi handle it runs
 * in) for the life of its thread, so consecutive requests on that thread
 * reuse the upstream connection and TLS session.  Relays on different
 * threads share nothing; the watch callbacks run on the relay's thread.
 *
 * Long streams (doc/test-rig.md G10): while a transfer runs, its wait covers the
 * web-server connection (a close there ends it at once; when that fd is
 * readable for another reason it is polled every CP_RELAY_POLL_MS
 * instead) and an idle SSE response
 * gets a comment heartbeat every heartbeat_seconds; a client found gone
 * ends the upstream transfer at once.  No stream outlives
 * stream_max_seconds.
 */
#ifndef CP_RELAY_H
#define CP_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "elicit.h"
#include "request.h"
#include "status.h"

#define CP_RELAY_MAX_BODY           1000000 /* request body; under FcgidMaxRequestLen */
#define CP_RELAY_INLINE_BODY        16384   /* a body this small goes out with the headers */
/* From the request's start until its body is in (408 after): the
 * largest body then needs 17 KB/s.  A slow one holds an /mcp process
 * that long, the way a stream does. */
#define CP_RELAY_BODY_SECONDS       60
#define CP_RELAY_CONNECT_MS         5000    /* connecting to the gateway (502 after) */
#define CP_RELAY_HEADERS_SECONDS    120     /* the gateway must start its answer (504 after) */
#define CP_RELAY_IDLE_SECONDS       120     /* a pause inside a non-SSE body */
#define CP_RELAY_POLL_MS            250     /* how often the client connection is checked */
#define CP_RELAY_WAIT_MS            1000    /* longest wait of an idle transfer */
#define CP_RELAY_MAX_PASSED_HEADERS 32      /* Mcp-* request headers passed on */
#define CP_RELAY_MAX_CONTENT_TYPE   256
/* libcurl's receive buffer (CURLOPT_BUFFERSIZE; its default is 16 KB)
 * and upload buffer (CURLOPT_UPLOAD_BUFFERSIZE; default 64 KB, 16 KB is
 * libcurl's least).  Each relay keeps both while it lives, so every held
 * stream would pay for them; an answer or body larger than a buffer
 * simply takes more reads (on_body and on_read handle any split, and an
 * SSE event may span reads).  Set on every transfer, so that the handle
 * never sees another size. */
#define CP_RELAY_RECV_BUFFER        4096
#define CP_RELAY_SEND_BUFFER        16384
#define CP_RELAY_HEARTBEAT          ": keepalive\n"
#define CP_RELAY_OPENED             ": stream\n\n"   /* first bytes of an SSE answer */

struct cp_relay;

/* Ends every transfer in the process at its next wake-up (at most
 * CP_RELAY_WAIT_MS later): a stream already begun ends cleanly, a
 * request not yet answered gets 503.  Async-signal-safe. */
void cp_relay_stop(void);

/* A relay for this process, with its libcurl handle; the caller frees it
 * with cp_relay_free.  CP_ERR_NOMEM when libcurl cannot make a handle. */
enum cp_status cp_relay_new(struct cp_relay **out);
void cp_relay_free(struct cp_relay *r);

/* The gateway's final status and its Mcp-Session-Id (NULL when it sent
 * none), heard before anything of the answer reaches the client.  Any
 * value but CP_OK refuses the answer: the client gets a JSON-RPC error
 * instead, 503 for CP_ERR_STORE, else 502. */
typedef enum cp_status cp_relay_answer_fn(void *arg, int status, const char *session_id);

/* What the caller of cp_relay_run hears of the answer; any member may
 * be NULL. */
/* A POST body read whole (CONTENT_LENGTH up to CP_RELAY_INLINE_BODY)
 * before it goes upstream.  CP_ERR_LIMIT refuses it with 503 (the hook
 * queues Retry-After); CP_ERR_DENIED means the hook refused it and sent
 * the answer itself (nothing goes upstream); any other failure, 500. */
typedef enum cp_status cp_relay_request_fn(void *arg, const char *body, size_t len);

struct cp_relay_watch {
	cp_relay_request_fn *request;
	cp_relay_answer_fn *answer;
	cp_elicit_found_fn *found;      /* each URL elicitation, once forwarded */
	void *arg;                      /* passed to each */
};

/* Relays req (already authorised by the caller) to req->cfg->gateway_url
 * and streams the answer back; watch (may be NULL) hears of its status
 * and session before it is passed on and of every URL elicitation in it
 * after the bytes carrying it were forwarded.  Sends exactly one
 * response: the gateway's, or when the gateway cannot be used, a
 * JSON-RPC error (413 body too large, 400 body cut short, 408 body not in
 * within CP_RELAY_BODY_SECONDS of the request's start, 502 gateway
 * unreachable or answering garbage, 504 gateway too slow, or what
 * watch->answer refused).  Returns CP_OK once a response was sent
 * (whether or not the client stayed to read it); other values only when
 * nothing could be sent. */
enum cp_status cp_relay_run(struct cp_relay *r, struct cp_req *req,
    const struct cp_relay_watch *watch);

/* Sends a JSON-RPC error response of the relay's own, id null (the
 * request was not read): status, code and message as given. */
enum cp_status cp_relay_error(struct cp_req *req, int status, int code,
    const char *message);

/* The same, for the request whose JSON-RPC id is id (NULL, or a value
 * that is not a string or number, gives null); id is not taken over. */
enum cp_status cp_relay_error_id(struct cp_req *req, int status, json_object *id,
    int code, const char *message);

/* The request headers passed upstream, as "Name: value" lines appended
 * to out (NUL-separated), for tests: Authorization, Accept, Content-Type,
 * Last-Event-ID; Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method and
 * Mcp-Name once each, the value cp_req_header gives
 * (gateway_protocol_version for a version absent or not passable); and
 * every other Mcp-* header; nothing else.  CP_ERR_LIMIT past
 * CP_RELAY_MAX_PASSED_HEADERS other Mcp-* headers. */
enum cp_status cp_relay_request_headers(const struct cp_req *req, struct cp_buf *out);

/* True when the response header name[0..len) is passed to the client:
 * Mcp-* (Mcp-Session-Id, MCP-Protocol-Version, ...), WWW-Authenticate,
 * Retry-After and Allow.  Content-Type is handled apart.  Cache-Control
 * is not passed: every answer says no-store (response.h), whatever the
 * gateway would allow, since it carries one user's data. */
bool cp_relay_response_header_passed(const char *name, size_t len);

/* Rewrites a WWW-Authenticate value from the gateway so that its
 * resource_metadata names prm_url (RFC 9728 section 5.1), keeping error,
 * scope and every other parameter; a Bearer challenge without one gets
 * it appended.  Appends the result to out.  CP_ERR_SYNTAX for an
 * unterminated quoted string. */
enum cp_status cp_relay_challenge(const char *value, const char *prm_url,
    struct cp_buf *out);

#endif
