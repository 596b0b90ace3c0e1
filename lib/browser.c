#include "config.h"

#include <string.h>
#include <time.h>

#include "browser.h"
#include "form.h"
#include "response.h"

enum cp_status
cp_browser_get(struct cp_req *req, struct cp_login *lg, const char *name,
    uint8_t id[CP_BROWSER_ID_LEN])
{
	struct cp_str v;
	struct cp_buf plain;
	enum cp_status rc;

	rc = cp_cookie_get(cp_req_header(req, "Cookie"), name, &v);
	if (rc != CP_OK)
		return rc;
	if (v.len == 0 || v.len > CP_MAX_COOKIE)
		return CP_ERR_SYNTAX;
	cp_buf_init(&plain, CP_BROWSER_ID_LEN);
	rc = cp_open(lg->keys, CP_SEAL_BROWSER, v.ptr, v.len, time(NULL), &plain,
	    NULL, NULL);
	if (rc == CP_OK && plain.len != CP_BROWSER_ID_LEN)
		rc = CP_ERR_SYNTAX;
	if (rc == CP_OK)
		memcpy(id, plain.data, CP_BROWSER_ID_LEN);
	cp_buf_wipe_free(&plain);
	return rc;
}

enum cp_status
cp_browser_set(struct cp_req *req, struct cp_login *lg, const char *name, int ttl,
    const uint8_t id[CP_BROWSER_ID_LEN])
{
	struct cp_buf cookie;
	enum cp_status rc;

	cp_buf_init(&cookie, CP_MAX_COOKIE);
	rc = cp_buf_printf(&cookie, "%s=", name);
	if (rc == CP_OK)
		rc = cp_seal(lg->keys, CP_SEAL_BROWSER, id, CP_BROWSER_ID_LEN,
		    time(NULL) + ttl, &cookie, NULL);
	/* RFC 6265bis 4.1.3.2: __Host- needs Secure, Path=/ and no Domain. */
	if (rc == CP_OK)
		rc = cp_buf_printf(&cookie, "; Max-Age=%d; Path=/; Secure; HttpOnly; "
		    "SameSite=Lax", ttl);
	if (rc == CP_OK)
		rc = cp_resp_header(req, "Set-Cookie", cp_buf_cstr(&cookie));
	cp_buf_free(&cookie);
	return rc;
}

bool
cp_browser_is(struct cp_req *req, struct cp_login *lg, const char *name,
    const char *bound)
{
	uint8_t bid[CP_BROWSER_ID_LEN];
	struct cp_buf text;
	bool same;

	if (bound == NULL || cp_browser_get(req, lg, name, bid) != CP_OK)
		return false;
	cp_buf_init(&text, 64);
	same = cp_browser_text(bid, &text) == CP_OK &&
	    cp_secret_eq(text.data, text.len, bound, strlen(bound));
	cp_buf_free(&text);
	return same;
}

enum cp_status
cp_browser_ensure(struct cp_req *req, struct cp_login *lg,
    uint8_t id[CP_BROWSER_ID_LEN])
{
	enum cp_status rc;

	rc = cp_browser_get(req, lg, CP_BROWSER_COOKIE, id);
	if (rc == CP_OK || rc == CP_ERR_NOMEM)
		return rc;
	/* Absent, expired or not ours: start a new binding.  A tossed
	 * duplicate cannot come from a sibling host (__Host- forbids
	 * Domain), so replacing it is safe. */
	if ((rc = cp_random(id, CP_BROWSER_ID_LEN)) != CP_OK)
		return rc;
	return cp_browser_set(req, lg, CP_BROWSER_COOKIE, CP_BROWSER_TTL, id);
}

enum cp_status
cp_browser_text(const uint8_t id[CP_BROWSER_ID_LEN], struct cp_buf *out)
{
	return cp_b64url_encode(id, CP_BROWSER_ID_LEN, out);
}

enum cp_status
cp_browser_renew(struct cp_req *req, struct cp_login *lg)
{
	uint8_t bid[CP_BROWSER_ID_LEN];
	enum cp_status rc;

	if ((rc = cp_browser_get(req, lg, CP_BROWSER_COOKIE, bid)) != CP_OK)
		return rc;
	return cp_browser_set(req, lg, CP_BROWSER_COOKIE, CP_BROWSER_TTL, bid);
}
