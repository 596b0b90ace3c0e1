// cookie-jar.mjs - one browser's cookies for the node clients
// (login-client.mjs, tests/bench/store-bench-login.mjs): name=value by
// host:port, which is enough on loopback; the cookies' attributes are the
// servers' business and are checked by the shell tests.
//
//   const jar = cookieJar();
//   const res = await fetch(url, { headers: { cookie: jar.header(url) } });
//   jar.take(url, res);
export function cookieJar() {
  const jar = new Map();
  return {
    // Keeps the Set-Cookie headers of RES, the answer from URL.
    take(url, res) {
      const host = new URL(url).host;
      const m = jar.get(host) ?? new Map();
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        m.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
      }
      jar.set(host, m);
    },
    // The Cookie header for URL ('' when there is none).
    header(url) {
      const m = jar.get(new URL(url).host);
      return m ? [...m].map(([k, v]) => `${k}=${v}`).join('; ') : '';
    },
  };
}
