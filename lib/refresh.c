#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "refresh.h"
#include "response.h"
#include "store.h"

#define CLAIM_PREFIX    "refresh-claim:"
#define ANSWER_PREFIX   "refresh-answer:"

/* The two store keys of envelope id: a prefix and the id in hex. */
static void
make_keys(struct cp_refresh *r, const uint8_t id[CP_SEAL_ID_LEN])
{
	char hex[2 * CP_SEAL_ID_LEN + 1];

	cp_hex(id, CP_SEAL_ID_LEN, hex);
	r->claim_len = (size_t)snprintf(r->claim_key, sizeof(r->claim_key), "%s%s",
	    CLAIM_PREFIX, hex);
	r->answer_len = (size_t)snprintf(r->answer_key, sizeof(r->answer_key), "%s%s",
	    ANSWER_PREFIX, hex);
}

static void
sleep_poll(void)
{
	struct timespec ts = { 0, CP_REFRESH_POLL_MS * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The claim's time, or CP_ERR_NOT_FOUND when the claim was released. */
static enum cp_status
claim_time(struct cp_login *lg, const struct cp_refresh *r, time_t *when)
{
	struct cp_buf v;
	enum cp_status rc;
	char *end;
	long long t;

	cp_buf_init(&v, 32);
	rc = cp_store_get(lg->st, CP_NS_ONCE, r->claim_key, r->claim_len, &v, NULL);
	if (rc == CP_OK) {
		errno = 0;
		t = strtoll(cp_buf_cstr(&v), &end, 10);
		if (v.len == 0 || *end != '\0' || errno != 0 || t < 0)
			rc = CP_ERR_INTERNAL;
		else
			*when = (time_t)t;
	}
	cp_buf_free(&v);
	return rc;
}

/* Sends the kept answer of r, if there is one for this client:
 * CP_ERR_NOT_FOUND when there is none (yet, or any more). */
static enum cp_status
replay_answer(struct cp_req *req, struct cp_login *lg, struct cp_refresh *r)
{
	struct cp_buf sealed;
	json_object *obj = NULL, *status;
	const char *body;
	enum cp_status rc;

	cp_buf_init(&sealed, CP_STORE_MAX_VALUE);
	rc = cp_store_get(lg->st, CP_NS_ONCE, r->answer_key, r->answer_len, &sealed, NULL);
	if (rc != CP_OK)
		goto out;
	rc = cp_login_open(lg, CP_SEAL_REFRESH_ANSWER, cp_buf_cstr(&sealed), time(NULL),
	    &obj, NULL, NULL);
	if (rc == CP_ERR_EXPIRED)
		rc = CP_ERR_NOT_FOUND;
	if (rc != CP_OK)
		goto out;
	body = cp_login_str(obj, "body");
	if (body == NULL || !json_object_object_get_ex(obj, "status", &status) ||
	    !cp_str_eq_c(cp_str_c(cp_login_str(obj, "client_id")), r->client_id)) {
		rc = CP_ERR_INTERNAL;
		goto out;
	}
	cp_log(CP_LOG_INFO, "refresh token presented again within the grace window "
	    "(client %.200s): the first answer is repeated", r->client_id);
	r->answered = true;
	if ((rc = cp_resp_begin(req, json_object_get_int(status), "application/json")) == CP_OK)
		rc = cp_resp_body(req, body, strlen(body));
out:
	json_object_put(obj);
	cp_buf_wipe_free(&sealed);
	return rc;
}

static enum cp_status
unavailable(struct cp_req *req, struct cp_refresh *r, const char *why)
{
	r->answered = true;
	return cp_resp_oauth_error(req, 503, "temporarily_unavailable", why);
}

enum cp_status
cp_refresh_begin(struct cp_req *req, struct cp_login *lg,
    const uint8_t id[CP_SEAL_ID_LEN], time_t expires, const char *client_id,
    struct cp_refresh *r)
{
	char now_text[32];
	time_t now, start = time(NULL), when = 0;
	enum cp_status rc;

	memset(r, 0, sizeof(*r));
	r->client_id = client_id;
	cp_buf_init(&r->answer, CP_MAX_JSON_BODY);
	make_keys(r, id);
	for (;;) {
		now = time(NULL);
		snprintf(now_text, sizeof(now_text), "%lld", (long long)now);
		/* The claim lives as long as the envelope: any later use is
		 * seen as one for as long as the envelope could work. */
		rc = cp_store_add(lg->st, CP_NS_ONCE, r->claim_key, r->claim_len,
		    now_text, strlen(now_text), expires > now ? expires : now + 1);
		if (rc == CP_OK) {
			r->claimed = now;
			req->capture = &r->answer;
			return CP_OK;
		}
		if (rc != CP_ERR_REPLAY)
			return unavailable(req, r, "the state store is unavailable");
		rc = replay_answer(req, lg, r);
		if (r->answered || (rc != CP_OK && rc != CP_ERR_NOT_FOUND))
			return r->answered ? rc :
			    unavailable(req, r, "the state store is unavailable");
		rc = claim_time(lg, r, &when);
		if (rc == CP_ERR_NOT_FOUND)
			continue;       /* released: this request may go now */
		if (rc != CP_OK)
			return unavailable(req, r, "the state store is unavailable");
		if (now >= when + (time_t)lg->cfg->refresh_grace_seconds) {
			cp_log_security("refresh token used again %lld s after its first use "
			    "(client %.200s): refused, its grant is revoked",
			    (long long)(now - when), client_id);
			r->answered = true;
			r->reused = true;
			return cp_resp_oauth_error(req, 400, "invalid_grant",
			    "the refresh token was already used");
		}
		if (now - start >= CP_REFRESH_WAIT_SECONDS)
			return unavailable(req, r,
			    "an earlier refresh with this token has not finished; try again");
		sleep_poll();
	}
}

/* Keeps the captured 200 answer of the first request, sealed, until the
 * window closes.  False when it could not (then the claim is released). */
static bool
keep_answer(struct cp_req *req, struct cp_login *lg, struct cp_refresh *r)
{
	time_t until = r->claimed + (time_t)lg->cfg->refresh_grace_seconds;
	json_object *obj = NULL;
	struct cp_buf sealed;
	bool kept = false;

	if (until <= time(NULL))
		return true;    /* no window: nothing to keep, the claim stays */
	cp_buf_init(&sealed, CP_STORE_MAX_VALUE);
	if (req->capture != &r->answer || req->status != 200 || r->answer.len == 0)
		goto out;
	if ((obj = json_object_new_object()) == NULL ||
	    json_object_object_add(obj, "status", json_object_new_int(req->status)) != 0 ||
	    cp_login_set(obj, "client_id", r->client_id) != CP_OK ||
	    cp_login_set(obj, "body", cp_buf_cstr(&r->answer)) != CP_OK)
		goto out;
	if (cp_login_seal(lg, CP_SEAL_REFRESH_ANSWER, obj, until, &sealed, NULL) != CP_OK)
		goto out;
	kept = cp_store_put(lg->st, CP_NS_ONCE, r->answer_key, r->answer_len,
	    sealed.data, sealed.len, until) == CP_OK;
	if (!kept)
		cp_log(CP_LOG_WARN, "could not keep a refresh answer (client %.200s): "
		    "a repeat within the grace window goes to the IdP", r->client_id);
out:
	json_object_put(obj);
	cp_buf_wipe_free(&sealed);
	return kept;
}

void
cp_refresh_finish(struct cp_req *req, struct cp_login *lg, struct cp_refresh *r)
{
	enum cp_status rc;

	if (r->claimed != 0) {
		bool ok = req->status == 200 && req->capture == &r->answer;

		if (!ok || !keep_answer(req, lg, r)) {
			rc = cp_store_del(lg->st, CP_NS_ONCE, r->claim_key, r->claim_len);
			if (rc != CP_OK && rc != CP_ERR_NOT_FOUND)
				cp_log(CP_LOG_ERROR, "could not release a refresh claim (%s): "
				    "repeats of that refresh token are refused",
				    cp_status_str(rc));
		}
	}
	if (req->capture == &r->answer)
		req->capture = NULL;
	cp_buf_wipe_free(&r->answer);
	r->claimed = 0;
}

const char *
cp_refresh_idp_error(const char *idp_error)
{
	return idp_error != NULL && strcmp(idp_error, "invalid_scope") == 0 ?
	    "invalid_scope" : "invalid_grant";
}
