// The gate tablet's connection to the check-in API, online and offline (ES module).
//
//   import { createGateClient } from "./gate-client.js";
//   const gate = createGateClient({ apiBase, csrfToken, deviceId, eventId, words });
//   const outcome = await gate.redeem({ code, point_id, direction, purpose });
//   gate.onStatus(({ online, pending, lastSync, conflicts, syncError }) => { ... });
//
// conflicts: offline scans the server found used elsewhere first, as { name, company, point,
// when, result, first: {at, point, staff}, outcome } (kept until clearConflicts()); syncError:
// why the server refused the last sync (a 4xx: signed out, off the team), else null.
//
// redeem() and redeemByHand() resolve with the outcome as POST redemptions returns it. A
// request that is not a scan (unknown point, missing role, bad body: a 4xx) rejects with a
// GateApiError carrying the status and the answer's body; that is an answer, not a dead
// network.
//
// Offline by itself: when the server gives no answer within `timeoutMs` (or the network
// fails, or the server itself is broken: 5xx), the scan is decided on the tablet instead, with
// the same rules (signature with the roster's public key, the roster's statuses, once per
// scope) and the outcome carries `offline: true`. Offline scans wait in IndexedDB
// (offline-store.js); a cheap request every `probeMs` finds the server again, and then the
// scans are synced (POST sync, at most 500 at a time, deleted only once the server answered
// for them) and the conflicts it reports reach onStatus. The roster is fetched on start,
// every `rosterMs` while online and after each sync. The page itself comes back with no
// network through the service worker (sw.js), which this client registers.

import { openGateStore, useKey } from "./offline-store.js";
import { scannedCode, verifyTicket } from "./ticket-verify.js";

export const SYNC_BATCH = 500; // the API's limit per request
const ADMITTED = new Set(["valid", "reentry", "exit"]);
const GIFT_DUE_RESULTS = new Set(["valid", "reentry", "already_used"]);

/** The server answered, but not with a scan (4xx): `status`, `body` ({error: {...}}). */
export class GateApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.name = "GateApiError";
    this.status = status;
    this.body = body;
  }
}

/** Offline and unable to decide here: no roster on this tablet yet, or it lacks the point. */
export class GateOfflineError extends Error {
  constructor(reason) {
    super(reason);
    this.name = "GateOfflineError";
    this.reason = reason;
  }
}

// No answer (timeout, network down, a broken server or a captive portal's page).
class Unreachable extends Error {}

function pageWords() {
  const element = typeof document !== "undefined" && document.getElementById("gate-words");
  try { return element ? JSON.parse(element.textContent) : {}; } catch (error) { return {}; }
}

function pageStaffName() {
  const element = typeof document !== "undefined" && document.querySelector("[data-staff-name]");
  return (element && element.dataset.staffName) || "";
}

/** The scope a scan's once-only rule counts in (checkin/models.py: CheckinPoint.scope). */
export function scopeOf(point, purpose) {
  if (purpose === "gift" || point.kind === "gift_desk") return "gift";
  if (point.kind === "entrance") return "venue";
  return `point:${point.id}`;
}

export function createGateClient({
  apiBase, csrfToken, deviceId = "", eventId, words, staffName,
  timeoutMs = 3000, probeMs = 5000, rosterMs = 60000, syncTimeoutMs = 30000,
  rosterTimeoutMs = 20000, pwaBase, serviceWorker = true,
} = {}) {
  const base = apiBase.replace(/\/$/, "");
  const texts = words || pageWords();
  const staff = staffName ?? pageStaffName();
  const listeners = new Set();
  const status = { online: typeof navigator === "undefined" || navigator.onLine !== false,
                   pending: 0, lastSync: null, conflicts: [], syncError: null };
  let store = null;
  let roster = null;
  let bySerial = new Map();
  let byId = new Map();
  let points = new Map();
  let rosterAt = 0;
  let syncing = null;
  let lastSyncTry = 0;
  let decisions = Promise.resolve(); // offline decisions one at a time (once-only rule)

  // --- status --------------------------------------------------------------------------

  function snapshot() {
    return { ...status, conflicts: status.conflicts.slice() };
  }

  function emit() {
    const copy = snapshot();
    listeners.forEach((callback) => callback(copy));
  }

  function setStatus(changes) {
    const changed = Object.keys(changes).some((key) => status[key] !== changes[key]);
    Object.assign(status, changes);
    if (changed) emit();
  }

  function goOffline() {
    setStatus({ online: false });
  }

  function goOnline() {
    if (status.online) return;
    setStatus({ online: true });
    quietly(sync());
  }

  async function countPending() {
    if (store) setStatus({ pending: await store.pendingCount() });
  }

  async function loadConflicts() {
    if (!store) return;
    const all = await store.conflicts();
    all.sort((a, b) => String(a.when).localeCompare(String(b.when)));
    status.conflicts = all;
    emit();
  }

  // --- talking to the API --------------------------------------------------------------

  async function request(path, { method = "GET", body, timeout = timeoutMs } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    try {
      const response = await fetch(`${base}/${path}`, {
        method, credentials: "same-origin", cache: "no-store", signal: controller.signal,
        headers: { "Content-Type": "application/json", Accept: "application/json",
                   "X-CSRFToken": csrfToken },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text(); // the timeout covers the body too
      if (response.status >= 500) throw new Unreachable(`HTTP ${response.status}`);
      let answer;
      try { answer = text ? JSON.parse(text) : null; } catch (error) {
        throw new Unreachable("not the API"); // a captive portal's page, a proxy's error
      }
      if (!response.ok) throw new GateApiError(response.status, answer);
      return answer;
    } catch (error) {
      if (error instanceof GateApiError || error instanceof Unreachable) throw error;
      throw new Unreachable(String(error));
    } finally {
      clearTimeout(timer);
    }
  }

  function quietly(promise) {
    promise.catch(() => {}); // background work: its outcome shows through onStatus
    return promise;
  }

  // --- the roster ------------------------------------------------------------------------

  function useRoster(data) {
    roster = data;
    bySerial = new Map(data.registrations.map((entry) => [String(entry.serial), entry]));
    byId = new Map(data.registrations.map((entry) => [entry.id, entry]));
    points = new Map(data.points.map((point) => [point.id, point]));
  }

  async function refreshRoster() {
    const requestedAt = Date.now();
    rosterAt = requestedAt; // tried: the next try in rosterMs, whatever the answer
    let data;
    try {
      data = await request("roster", { timeout: rosterTimeoutMs });
    } catch (error) {
      if (error instanceof Unreachable) goOffline();
      throw error;
    }
    useRoster(data);
    goOnline();
    if (store) {
      await store.putRoster({ ...data, fetched_at: new Date().toISOString() });
      await forgetUndone(requestedAt);
    }
    return data;
  }

  // What this tablet remembers as used, but the server no longer has (a supervisor undid
  // it), must not refuse the person offline. Only the roster's two flags can say so.
  async function forgetUndone(requestedAt) {
    if ((await store.pendingCount()) > 0) return;
    const gone = (await store.allUses()).filter((use) => {
      const entry = byId.get(use.registration_id);
      if (!entry || use.recorded_at >= requestedAt) return false;
      if (use.scope === "venue") return !entry.checked_in;
      if (use.scope === "gift") return !entry.gift_given;
      return false;
    });
    if (gone.length) await store.deleteUses(gone.map((use) => use.key));
  }

  // --- once-only, as this tablet knows it --------------------------------------------------

  function pointName(pointId) {
    const point = points.get(pointId);
    return point ? point.name : "";
  }

  // An online answer (or a synced one) teaches the tablet what is used, for offline later.
  async function learn(outcome, scan) {
    if (!store || !outcome || !outcome.registration_id) return;
    const point = points.get(Number(scan.point_id));
    // The answer may not say its scope: the point and purpose do.
    const scope = outcome.scope || (point && scopeOf(point, scan.purpose));
    if (!scope) return;
    const key = useKey(outcome.registration_id, scope);
    const known = await store.getUse(key);
    const fresh = { key, registration_id: outcome.registration_id, scope,
                    at: null, point: "", staff: "", scan_id: null, inside: true,
                    recorded_at: Date.now() };
    let use = null;
    if (outcome.result === "valid") {
      use = { ...fresh, at: outcome.scanned_at, point: pointName(scan.point_id), staff,
              scan_id: outcome.scan_id };
    } else if (outcome.result === "reentry") {
      use = { ...(known || fresh), inside: true };
    } else if (outcome.result === "exit") {
      use = { ...(known || fresh), inside: false };
    } else if (outcome.result === "already_used") {
      const first = outcome.first || {};
      use = { ...(known || fresh), at: first.at ?? (known && known.at) ?? null,
              point: first.point ?? (known && known.point) ?? "",
              staff: first.staff ?? (known && known.staff) ?? "",
              scan_id: first.scan_id ?? (known && known.scan_id) ?? null };
    }
    if (use) await store.putUse(use);
  }

  function wordsFor(result, gift) {
    const giftWords = gift && texts.gift && texts.gift[result];
    const pair = giftWords || (texts.results && texts.results[result]) || [result, ""];
    return { title: pair[0], message: pair[1] };
  }

  // Decide a scan on the tablet, as redeem_code() / check_in_by_hand() would, and keep it.
  async function decide(scan) {
    if (!store || !roster) throw new GateOfflineError("no_roster");
    const point = points.get(Number(scan.point_id));
    if (!point) throw new GateOfflineError("unknown_point");
    let entry = null;
    let result = null;
    if (scan.registration_id === undefined) {
      const check = await verifyTicket(scan.code, { eventId: roster.event_id,
                                                   publicKey: roster.public_key });
      if (check.result !== "valid") result = check.result;
      else if (!(entry = bySerial.get(check.serial) || null)) result = "unknown";
    } else if (!(entry = byId.get(Number(scan.registration_id)) || null)) {
      throw new GateOfflineError("unknown_registration");
    }
    let scope = null;
    let first = null;
    let use = null;
    if (entry && !result) {
      if (entry.status === "cancelled" || entry.status === "waitlisted") {
        result = entry.status;
      } else {
        scope = scopeOf(point, scan.purpose);
        const key = useKey(entry.id, scope);
        const known = await store.getUse(key);
        const used = Boolean(known) || (scope === "venue" && entry.checked_in) ||
          (scope === "gift" && entry.gift_given);
        const fresh = { key, registration_id: entry.id, scope, at: scan.scanned_at,
                        point: point.name, staff, scan_id: null, inside: true,
                        recorded_at: Date.now() };
        if (scan.direction === "out") {
          result = "exit";
          if (used) use = { ...(known || { ...fresh, at: null, point: "", staff: "" }),
                            inside: false };
        } else if (!used) {
          result = "valid";
          use = fresh;
        } else if (scope !== "gift" && known && known.inside === false) {
          result = "reentry";
          use = { ...known, inside: true };
        } else {
          result = "already_used";
          first = known && known.at ? { at: known.at, point: known.point,
                                         staff: known.staff || "", scan_id: known.scan_id }
            : null;
        }
      }
    }
    let giftGiven = false;
    if (entry) {
      giftGiven = entry.gift_given || (scope === "gift" && result === "valid") ||
        Boolean(await store.getUse(useKey(entry.id, "gift")));
    }
    const admitted = ADMITTED.has(result);
    const outcome = {
      scan_id: null, client_scan_id: scan.client_scan_id, result, admitted,
      ...wordsFor(result, scope === "gift"),
      registration_id: entry ? entry.id : null, name: entry ? entry.name : "",
      company: entry ? entry.company : "", job_title: entry ? entry.job_title : "",
      gift_due: Boolean(entry && roster.gift && !giftGiven && GIFT_DUE_RESULTS.has(result)),
      gift: roster.gift || "", first, conflict: false, replayed: false,
      scanned_at: scan.scanned_at, scope, offline: true,
    };
    const kept = { client_scan_id: scan.client_scan_id, point_id: point.id,
                   scanned_at: scan.scanned_at, direction: scan.direction,
                   purpose: scan.purpose, device_admitted: admitted,
                   point_name: point.name, name: outcome.name };
    if (scan.registration_id === undefined) kept.code = scan.code;
    else kept.registration_id = Number(scan.registration_id);
    await store.recordOfflineScan(kept, use);
    setStatus({ pending: status.pending + 1 });
    return outcome;
  }

  function decideHere(scan) {
    const turn = decisions.then(async () => {
      await ready;
      return decide(scan);
    });
    decisions = turn.catch(() => {});
    return turn;
  }

  async function scanned(path, scan, body) {
    if (status.online) {
      try {
        const outcome = await request(path, { method: "POST", body });
        quietly(learn(outcome, scan));
        return outcome;
      } catch (error) {
        if (!(error instanceof Unreachable)) throw error;
        goOffline();
      }
    }
    return decideHere(scan);
  }

  // --- syncing -----------------------------------------------------------------------------

  function syncBody(kept) {
    const body = { client_scan_id: kept.client_scan_id, point_id: kept.point_id,
                   scanned_at: kept.scanned_at, direction: kept.direction,
                   purpose: kept.purpose, device_admitted: kept.device_admitted };
    if (kept.registration_id !== undefined) body.registration_id = kept.registration_id;
    else body.code = kept.code;
    return body;
  }

  async function sendPending() {
    await ready;
    if (!store) return { synced: 0, pending: 0 };
    let synced = 0;
    for (;;) {
      const batch = await store.pendingScans(SYNC_BATCH);
      if (!batch.length) break;
      let answer;
      try {
        answer = await request("sync", { method: "POST", timeout: syncTimeoutMs,
                                         body: { device_id: deviceId,
                                                 scans: batch.map(syncBody) } });
      } catch (error) {
        if (error instanceof Unreachable) {
          goOffline();
          break;
        }
        throw error;
      }
      goOnline();
      const sent = new Map(batch.map((kept) => [kept.client_scan_id, kept]));
      const answered = answer.results.filter((item) => sent.has(item.client_scan_id));
      const conflicts = answered.filter((item) => item.outcome && item.outcome.conflict)
        .map(({ client_scan_id: id, outcome }) => ({
          client_scan_id: id, name: outcome.name, company: outcome.company,
          point: sent.get(id).point_name, when: sent.get(id).scanned_at,
          result: outcome.result, first: outcome.first, outcome }));
      for (const item of answered) {
        if (item.outcome) await learn(item.outcome, sent.get(item.client_scan_id));
      }
      if (conflicts.length) await store.addConflicts(conflicts);
      // Only what the server answered for is forgotten here.
      await store.deletePending(answered.map((item) => item.client_scan_id));
      synced += answered.length;
      const lastSync = new Date().toISOString();
      await store.setMeta("lastSync", lastSync);
      setStatus({ lastSync });
      await countPending();
      await loadConflicts();
      if (answered.length < batch.length) break; // the server skipped some: try later
    }
    await countPending();
    return { synced, pending: status.pending };
  }

  function sync() {
    if (syncing) return syncing;
    lastSyncTry = Date.now();
    syncing = (async () => {
      try {
        const summary = await sendPending();
        if (status.online) setStatus({ syncError: null });
        if (status.online) await refreshRoster().catch(() => {});
        return summary;
      } catch (error) {
        // The server refused the batch (signed out, off the team): the scans stay here.
        if (error instanceof GateApiError) setStatus({ syncError: error.message });
        throw error;
      } finally {
        syncing = null;
      }
    })();
    return syncing;
  }

  // --- finding the server again, and keeping the roster fresh ------------------------------

  async function probe() {
    try {
      await request("points");
      goOnline();
    } catch (error) {
      if (error instanceof GateApiError) goOnline(); // it answered
    }
  }

  let ticking = false;
  async function tick() {
    if (ticking) return;
    ticking = true;
    try {
      if (!status.online) await probe();
      else if (status.pending > 0 && Date.now() - lastSyncTry > rosterMs / 2) await sync();
      else if (Date.now() - rosterAt > rosterMs) await refreshRoster();
    } catch (error) {
      // shown through onStatus
    } finally {
      ticking = false;
    }
  }

  // --- the installable app -------------------------------------------------------------

  async function installApp() {
    if (!serviceWorker || typeof navigator === "undefined" || !("serviceWorker" in navigator)) {
      return;
    }
    const app = (pwaBase || base.replace(/\/api\/v1\/events\//, "/events/")).replace(/\/$/, "");
    if (!document.querySelector('link[rel="manifest"]')) {
      const link = document.createElement("link");
      link.rel = "manifest";
      link.href = `${app}/manifest.webmanifest`;
      link.crossOrigin = "use-credentials"; // it names the event: sent with the session
      document.head.appendChild(link);
    }
    try {
      await navigator.serviceWorker.register(`${app}/sw.js`, { scope: app });
      const registration = await navigator.serviceWorker.ready;
      const urls = performance.getEntriesByType("resource").map((entry) => entry.name);
      if (registration.active) registration.active.postMessage({ type: "gate-files", urls });
    } catch (error) {
      console.warn("gate: no offline page", error); // e.g. not a secure context
    }
  }

  // --- start -------------------------------------------------------------------------------

  async function start() {
    try {
      store = await openGateStore(eventId);
      const cached = await store.getRoster();
      if (cached && !roster) useRoster(cached);
      const lastSync = (await store.getMeta("lastSync")) || null;
      setStatus({ lastSync, pending: await store.pendingCount() });
      await loadConflicts();
    } catch (error) {
      store = null;
      console.warn("gate: no offline storage", error);
    }
  }

  const ready = start();
  if (typeof window !== "undefined") {
    window.addEventListener("offline", goOffline);
    window.addEventListener("online", () => quietly(probe()));
  }
  ready.then(() => {
    if (status.online) quietly(sync());
    else quietly(probe());
  });
  const timer = setInterval(tick, probeMs);
  quietly(installApp());

  return {
    redeem({ code, point_id, direction = "in", purpose = "entry" }) {
      const scan = { client_scan_id: crypto.randomUUID(), point_id, direction, purpose,
                     code: scannedCode(code), scanned_at: new Date().toISOString() };
      return scanned("redemptions", scan, {
        code: scan.code, point_id, direction, purpose, device_id: deviceId,
        client_scan_id: scan.client_scan_id });
    },
    redeemByHand({ registration_id, point_id, purpose = "entry" }) {
      const scan = { client_scan_id: crypto.randomUUID(), point_id, direction: "in", purpose,
                     registration_id, scanned_at: new Date().toISOString() };
      return scanned("redemptions/by-hand", scan, {
        registration_id, point_id, purpose, device_id: deviceId,
        client_scan_id: scan.client_scan_id });
    },
    onStatus(callback) {
      listeners.add(callback);
      callback(snapshot());
      return () => listeners.delete(callback);
    },
    /** Send the waiting scans now (and refresh the roster); resolves { synced, pending }. */
    syncNow() {
      return sync();
    },
    /** Staff have seen the conflicts: stop showing them. */
    async clearConflicts() {
      await ready;
      if (store) await store.clearConflicts();
      setStatus({ conflicts: [] });
    },
    /** For tests and the page: resolves when the cached data is loaded. */
    ready,
    stop() {
      clearInterval(timer);
    },
    /**
     * Signing out: wipe what this tablet keeps of the event (the roster's names, what it
     * scanned, the cached page with its recent scans), unless scans still wait to be synced
     * (they are never thrown away). Resolves { kept: number of waiting scans }.
     */
    async forget() {
      await ready.catch(() => {});
      const pending = store ? await store.pendingCount() : 0;
      if (pending > 0) return { kept: pending };
      clearInterval(timer);
      if (store) { store.close(); store = null; }
      await new Promise((resolve) => {
        const request = indexedDB.deleteDatabase(`eventapp-gate-${eventId}`);
        request.onsuccess = request.onerror = request.onblocked = () => resolve();
      });
      if (self.caches) {
        const names = await caches.keys();
        await Promise.all(names.filter((name) => name.startsWith("eventapp-gate:"))
                               .map((name) => caches.delete(name)));
      }
      return { kept: 0 };
    },
  };
}
