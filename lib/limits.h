/*
 * Every limit cimd-proxy enforces, in one place.  Input over a limit is
 * refused, never truncated.
 */
#ifndef CP_LIMITS_H
#define CP_LIMITS_H

/* Request side (from the web server). */
#define CP_MAX_METHOD       16      /* REQUEST_METHOD */
#define CP_MAX_URI          4096    /* REQUEST_URI, whole */
#define CP_MAX_QUERY        4096    /* QUERY_STRING */
#define CP_MAX_FORM         16384   /* urlencoded POST body */
#define CP_MAX_PARAMS       32      /* name=value pairs in a query or form */
#define CP_MAX_PARAM_NAME   64
#define CP_MAX_PARAM_VALUE  4096
#define CP_MAX_COOKIE       4096    /* HTTP_COOKIE */
#define CP_MAX_HEADER       8192    /* any single request header we read */
#define CP_MAX_OUT_HEADERS  4096    /* headers a handler may queue */
/* Unread CGI body discarded at exit, so that Apache delivers the answer
 * (mod_cgid resets the connection when a script leaves body bytes
 * unread): well past every body limit here (CP_RELAY_MAX_BODY is about
 * 1 MB), so an over-limit body still gets its 413.  Loopback reads it in
 * milliseconds, and the body deadline bounds a slow sender. */
#define CP_MAX_CGI_DRAIN    (64UL * 1024 * 1024)
/* Seconds from a request's start until its body must be in.  A form of
 * CP_MAX_FORM bytes then needs 1.6 KB/s, which even a GPRS link (about
 * 5 KB/s) gives with room for slow start and a long round trip; a
 * client that sends less loses its request (408) instead of holding a
 * process that the next person's sign-in needs. */
#define CP_BODY_SECONDS     10

/* Configuration. */
#define CP_MAX_CONF_FILE    65536
#define CP_MAX_CONF_LINE    2048
#define CP_MAX_CONF_LIST    256     /* entries of one repeatable key */

/* Protocol values. */
#define CP_MAX_URL          2048    /* any URL we store or compare */
#define CP_MAX_CLIENT_ID    512     /* doc/protocol.md 4.5 */
#define CP_MAX_SCOPE        1024
#define CP_MAX_STATE        1024    /* client's opaque state */
/* Our sealed state as sent to the IdP.  It carries the client's request
 * (state included, JSON-escaped) and comes back in a /callback query of
 * at most CP_MAX_QUERY bytes beside the IdP's code and iss, so 512 bytes
 * stay free for those.  /authorize refuses a request that would not fit. */
#define CP_MAX_SEALED_STATE 3584

/* JSON we produce or parse. */
#define CP_MAX_JSON_DEPTH   16
#define CP_MAX_JSON_BODY    65536   /* a JSON body we build */

/* Log lines. */
#define CP_MAX_LOG_LINE     1024

#endif
