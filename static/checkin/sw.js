// The gate tablet's service worker: the gate page and its files come back with no network.
//
// Served by eventapp/checkin/pwa_views.py at /events/<slug>/checkin/sw.js, which fills in
// GATE below: the page's address, the files of its shell and a version that changes whenever
// one of them (or this script) does. The script holds no event data. The page is cached only
// from a signed-in person's own visit and dropped when the server sends them to log in; the
// roster and the scans live in IndexedDB (gate-client.js), never here.
//
// - the gate page: from the network, within NAVIGATION_TIMEOUT_MS; else the cached copy;
// - the shell's files: from the cache, filled at install; other static files: the network
//   first, else the kept copy;
// - everything else (the API, other pages): untouched, straight to the network.

const GATE = /*GATE*/ { page: "/events/example/checkin", version: "dev", shell: [] } /*END*/;
const NAVIGATION_TIMEOUT_MS = 3000;
const PREFIX = `eventapp-gate:${GATE.page}:`;
const CACHE = PREFIX + GATE.version;
const SHELL = new Set(GATE.shell);

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(GATE.shell.map((url) => new Request(url, { cache: "reload" })));
    // The page as well, if this person may open it (a redirect to the login page is not it).
    try {
      await keepPage(cache, await fetch(GATE.page, { cache: "no-store" }));
    } catch (error) {
      // no network: the page is cached on the next visit
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    const cache = await caches.open(CACHE);
    // A new version keeps the page cached by the previous one, until the network gives a new one.
    if (!(await cache.match(GATE.page))) {
      for (const name of names.filter((n) => n.startsWith(PREFIX) && n !== CACHE)) {
        const page = await (await caches.open(name)).match(GATE.page);
        if (page) { await cache.put(GATE.page, page); break; }
      }
    }
    await Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE)
                           .map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

async function keepPage(cache, response) {
  if (response.ok && !response.redirected && response.type === "basic") {
    await cache.put(GATE.page, response.clone());
  } else if (response.type === "opaqueredirect" || response.redirected ||
             response.status === 401 || response.status === 403) {
    // Signed out, or no longer on the team: the copy must not outlive the right to see it.
    await cache.delete(GATE.page);
  }
  return response;
}

async function gatePage(event) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(event.request).then((response) => keepPage(cache, response));
  event.waitUntil(fromNetwork.catch(() => null));
  const timeout = new Promise((resolve) => setTimeout(resolve, NAVIGATION_TIMEOUT_MS, null));
  const answer = await Promise.race([fromNetwork.catch(() => null), timeout]);
  if (answer) return answer;
  const cached = await cache.match(GATE.page);
  return cached || fromNetwork; // nothing cached: the browser's own error
}

// The shell's files: from the cache (a new version of any of them is a new worker, which
// fills a new cache). Static files have no event data, so any the page loads is kept.
async function shellFile(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}

// Other static files (not in the shell list, so not versioned by it): the network first,
// the kept copy only when there is none.
async function otherStaticFile(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request);
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === GATE.page) {
    event.respondWith(gatePage(event));
  } else if (SHELL.has(url.pathname)) {
    event.respondWith(shellFile(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(otherStaticFile(request));
  }
});

// The page tells which files it loaded (gate-client.js): the ones it fetched before this
// worker controlled it (its very first visit) are cached too.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "gate-files" || !Array.isArray(data.urls)) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    for (const address of data.urls) {
      const url = new URL(address, self.location.origin);
      if (url.origin !== self.location.origin || !url.pathname.startsWith("/static/")) continue;
      if (await cache.match(url.pathname)) continue;
      try {
        const response = await fetch(url.pathname);
        if (response.ok) await cache.put(url.pathname, response);
      } catch (error) {
        // offline: next time
      }
    }
  })());
});
