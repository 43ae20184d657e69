// The gate tablet's connection to the check-in API (ES module).
//
//   import { createGateClient } from "./gate-client.js";
//   const gate = createGateClient({ apiBase, csrfToken, deviceId, eventId, words });
//   const outcome = await gate.redeem({ code, point_id, direction, purpose });
//   gate.onStatus(({ online, pending, lastSync, conflicts }) => { ... });
//
// redeem() and redeemByHand() resolve with the outcome as the API returns it (POST
// redemptions); a request that is not a scan (unknown point, missing role, bad body) rejects
// with a GateApiError carrying the HTTP status and the answer's body.
//
// This first version is online only: offline mode (IndexedDB, local verification, sync)
// follows behind the same interface.

export class GateApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.name = "GateApiError";
    this.status = status;
    this.body = body;
  }
}

function newScanId() {
  return crypto.randomUUID();
}

export function createGateClient({ apiBase, csrfToken, deviceId, eventId, words } = {}) {
  const base = apiBase.replace(/\/$/, "");
  const listeners = new Set();
  const status = { online: navigator.onLine !== false, pending: 0, lastSync: null, conflicts: [] };

  function emit() {
    const copy = { ...status, conflicts: status.conflicts.slice() };
    listeners.forEach((callback) => callback(copy));
  }

  async function post(path, body) {
    const response = await fetch(`${base}/${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": csrfToken },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) throw new GateApiError(response.status, answer);
    return answer;
  }

  return {
    redeem({ code, point_id, direction = "in", purpose = "entry" }) {
      return post("redemptions", { code, point_id, direction, purpose, device_id: deviceId,
                                   client_scan_id: newScanId() });
    },
    redeemByHand({ registration_id, point_id, purpose = "entry" }) {
      return post("redemptions/by-hand", { registration_id, point_id, purpose,
                                           device_id: deviceId, client_scan_id: newScanId() });
    },
    onStatus(callback) {
      listeners.add(callback);
      callback({ ...status, conflicts: status.conflicts.slice() });
      return () => listeners.delete(callback);
    },
    syncNow() {
      return Promise.resolve();
    },
  };
}
