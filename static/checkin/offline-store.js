// What the gate tablet keeps in IndexedDB to work with no network (ES module), one database
// per event:
//   roster     the event's roster as GET roster gave it (key "current")
//   pending    scans made offline, waiting to be synced (key: client_scan_id)
//   uses       what this tablet knows was used once-only: "<registration id>|<scope>" ->
//              { at, point, inside } (online and offline scans), for the once-only rule offline
//   conflicts  offline scans the server reported as conflicts, until staff dismiss them
//   meta       small values (the last sync time)
// A pending scan is deleted only once the server has answered for it.

const VERSION = 1;
const STORES = ["roster", "pending", "uses", "conflicts", "meta"];

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onabort = () => reject(transaction.error || new Error("IndexedDB aborted"));
    transaction.onerror = () => reject(transaction.error);
  });
}

function openDatabase(name) {
  const request = indexedDB.open(name, VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    db.createObjectStore("roster");
    db.createObjectStore("pending", { keyPath: "client_scan_id" })
      .createIndex("scanned_at", "scanned_at");
    db.createObjectStore("uses", { keyPath: "key" });
    db.createObjectStore("conflicts", { keyPath: "client_scan_id" });
    db.createObjectStore("meta");
  };
  return done(request);
}

export function useKey(registrationId, scope) {
  return `${registrationId}|${scope}`;
}

/** The store of event `eventId` on this tablet. */
export async function openGateStore(eventId) {
  const db = await openDatabase(`eventapp-gate-${eventId}`);

  async function run(names, mode, work) {
    const transaction = db.transaction(names, mode);
    const end = finished(transaction);
    const stores = Object.fromEntries(names.map((name) => [name, transaction.objectStore(name)]));
    let result;
    try {
      result = await work(stores);
    } catch (error) {
      end.catch(() => {});
      throw error;
    }
    await end;
    return result;
  }

  const get = (name, key) => run([name], "readonly", (s) => done(s[name].get(key)));
  const all = (name) => run([name], "readonly", (s) => done(s[name].getAll()));

  return {
    database: db,
    getRoster: () => get("roster", "current"),
    putRoster: (roster) => run(["roster"], "readwrite",
                               (s) => done(s.roster.put(roster, "current"))),

    /** An offline scan and what it used, in one transaction. */
    recordOfflineScan: (scan, use) => run(["pending", "uses"], "readwrite", (s) => {
      s.pending.add(scan);
      if (use) s.uses.put(use);
    }),
    /** The oldest `limit` pending scans. */
    pendingScans: (limit) => run(["pending"], "readonly",
                                 (s) => done(s.pending.index("scanned_at").getAll(null, limit))),
    pendingCount: () => run(["pending"], "readonly", (s) => done(s.pending.count())),
    deletePending: (ids) => run(["pending"], "readwrite", (s) => {
      ids.forEach((id) => s.pending.delete(id));
    }),

    getUse: (key) => get("uses", key),
    putUse: (use) => run(["uses"], "readwrite", (s) => done(s.uses.put(use))),
    allUses: () => all("uses"),
    deleteUses: (keys) => run(["uses"], "readwrite", (s) => {
      keys.forEach((key) => s.uses.delete(key));
    }),

    addConflicts: (conflicts) => run(["conflicts"], "readwrite", (s) => {
      conflicts.forEach((conflict) => s.conflicts.put(conflict));
    }),
    conflicts: () => all("conflicts"),
    clearConflicts: () => run(["conflicts"], "readwrite", (s) => done(s.conflicts.clear())),

    getMeta: (key) => get("meta", key),
    setMeta: (key, value) => run(["meta"], "readwrite", (s) => done(s.meta.put(value, key))),

    close: () => db.close(),
  };
}

export const storeNames = STORES;
