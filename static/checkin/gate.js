// The gate tablet page (ES module): the tablet's point and scan mode, the always-ready
// scanner field, the camera, the result screen, recent scans, the offline banner and, for
// supervisors, their tools. Every scan goes through gate-client.js, which also works offline.

import { createGateClient } from "./gate-client.js";
import { createCamera } from "./gate-camera.js";
import { createResultScreen, fill, timeFormatter } from "./gate-result.js";
import { apiCaller, createSearch, createTotals, createWalkIn,
         errorMessage } from "./gate-supervisor.js";

const RECENT_KEEP = 10;
const root = document.querySelector("[data-gate]");
const words = JSON.parse(document.getElementById("gate-words").textContent);
const config = root.dataset;
const supervisor = config.supervisor === "true";
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const formatTime = timeFormatter(config.lang, config.timezone);
const $ = (selector, within = root) => within.querySelector(selector);

// --- this tablet: its id, point and mode, kept in its storage ---------------------------

const keys = { device: "eventapp.gate.device", point: `eventapp.gate.${config.eventId}.point`,
               direction: `eventapp.gate.${config.eventId}.direction` };

function remember(key, value) {
  try { if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, value); }
  catch (error) { /* private mode: the tablet asks again next time */ }
}

function recall(key) {
  try { return localStorage.getItem(key); } catch (error) { return null; }
}

function deviceId() {
  let id = recall(keys.device);
  if (!id) { id = crypto.randomUUID(); remember(keys.device, id); }
  return id;
}

const state = { point: null, direction: "in", latest: 0 };
const device = deviceId();
const client = createGateClient({ apiBase: config.apiBase, csrfToken, deviceId: device,
                                  eventId: Number(config.eventId), words });
const api = apiCaller(config.apiBase, csrfToken);

// --- the scanner field: focused whenever no one is typing elsewhere ----------------------

const scanInput = $("[data-scan-input]");
const typing = (element) => Boolean(element && element.closest && element.closest("[data-typing]")
  && element.matches("input, select, textarea"));

// `always`: also from a field a supervisor typed in (they tapped elsewhere: done typing).
function focusScanner(always = false) {
  if (!state.point || (!always && typing(document.activeElement))) return;
  if (document.activeElement !== scanInput) scanInput.focus({ preventScroll: true });
}

const refocusSoon = () => setTimeout(focusScanner, 0);
// A tap on a button must not take the focus: the scanner may already be typing the next code.
document.addEventListener("mousedown", (event) => {
  const target = event.target;
  if (state.point && !target.closest("input, select, textarea, label, [data-typing]")) {
    event.preventDefault();
  }
});
// A key while nothing can take it (the focus on a button, on the page): it is the scanner's.
document.addEventListener("keydown", (event) => {
  const active = document.activeElement;
  if (state.point && event.key.length === 1 && !event.ctrlKey && !event.metaKey
      && !(active && active.matches("input, select, textarea"))) {
    scanInput.focus({ preventScroll: true });
  }
}, { capture: true });
scanInput.addEventListener("blur", refocusSoon);
document.addEventListener("focusout", (event) => { if (typing(event.target)) refocusSoon(); });
document.addEventListener("click", (event) => {
  if (!event.target.closest("[data-typing]")) setTimeout(() => focusScanner(true), 0);
});
document.addEventListener("visibilitychange", refocusSoon);
window.addEventListener("focus", refocusSoon);

$("[data-scan-form]").addEventListener("submit", (event) => {
  event.preventDefault();
  const code = scanInput.value.trim();
  scanInput.value = "";
  if (code) scanCode(code);
});

// --- scanning --------------------------------------------------------------------------

// What the screen shows when a request was not a scan (a closed point, a dead network).
function notAScan(error) {
  const body = error && error.body;
  const offline = error && error.name === "GateOfflineError"
    && words.offline_reasons[error.reason];
  const message = offline || (body && body.error && body.error.message)
    || (error && error.status ? error.message : words.network_error);
  return { result: "error", tone: "bad", admitted: false, title: words.not_a_scan, message };
}

async function submit(scan, call) {
  const mine = ++state.latest;
  screen.checking();
  let outcome;
  try {
    outcome = await call();
  } catch (error) {
    outcome = notAScan(error);
  }
  if (outcome.scan_id || outcome.offline) addRecent(outcome);
  if (totals && outcome.scan_id) totals.refresh();
  // The next scan may already be on screen: an older answer only joins the list.
  if (mine === state.latest) showResult(outcome, scan);
  return outcome;
}

function scanCode(code, purpose = "entry") {
  const scan = { code, purpose };
  const direction = purpose === "gift" ? "in" : state.direction;
  return submit(scan, () => client.redeem({ code, point_id: state.point.id, direction,
                                            purpose }));
}

function checkInByHand(registrationId, purpose = "entry") {
  const scan = { registration_id: registrationId, purpose };
  return submit(scan, () => client.redeemByHand({ registration_id: registrationId,
                                                  point_id: state.point.id, purpose }));
}

function handOutGift(outcome, scan) {
  if (scan && scan.code) return scanCode(scan.code, "gift");
  if (outcome.registration_id) return checkInByHand(outcome.registration_id, "gift");
  return null;
}

async function undo(outcome) {
  const answer = await api(`scans/${outcome.scan_id}/undo`, { method: "POST",
                                                              body: { device_id: device } });
  state.latest += 1;
  if (!answer.ok) {
    showResult({ result: "error", tone: "bad", title: words.undo_failed,
                  message: errorMessage(answer, words.network_error) }, null);
    return;
  }
  markUndone(outcome.scan_id);
  if (totals) totals.refresh();
  const undone = { ...answer.body, name: outcome.name, company: outcome.company,
                   job_title: outcome.job_title, registration_id: null };
  addRecent(undone);
  showResult(undone, null);
}

// The result, with the point's bar above it: a supervisor may have scrolled down to the
// search or the walk-in form (but is not pulled away from a field they are typing in).
function showResult(outcome, scan) {
  screen.show(outcome, scan);
  if (window.scrollY > 0 && !typing(document.activeElement)) window.scrollTo({ top: 0 });
}

const screen = createResultScreen($("[data-result-screen]"), {
  words, formatTime, badgeUrl: config.badgeUrl, supervisor, onGift: handOutGift, onUndo: undo,
});

// --- recent scans at this point ----------------------------------------------------------

const rowTemplate = document.querySelector("[data-recent-template]");
const recentEmpty = $("[data-recent-empty]");
const recentList = () => $(`[data-recent-for="${state.point.id}"]`);
const UNDOABLE = new Set(["valid", "reentry", "exit"]);

function addRecent(outcome) {
  const list = recentList();
  if (!list) return;
  const row = rowTemplate.content.firstElementChild.cloneNode(true);
  const field = (name) => row.querySelector(`[data-field="${name}"]`);
  const time = row.querySelector("time");
  const at = outcome.scanned_at || new Date().toISOString();
  row.className = `recent recent--${outcome.tone || words.tones[outcome.result] || "bad"}`;
  row.dataset.scanId = outcome.scan_id || "";
  row.dataset.result = outcome.result;
  time.dateTime = at;
  time.textContent = formatTime(at);
  field("name").textContent = outcome.name || "—";
  field("title").textContent = outcome.title || "";
  field("staff").textContent = config.staffName;
  const undoButton = row.querySelector("[data-undo-scan]");
  if (undoButton) {
    undoButton.hidden = !(outcome.scan_id && !outcome.offline && UNDOABLE.has(outcome.result));
  }
  row.outcome = outcome;
  list.prepend(row);
  while (list.children.length > RECENT_KEEP) list.lastElementChild.remove();
  list.hidden = false;
  recentEmpty.hidden = true;
}

function markUndone(scanId) {
  root.querySelectorAll(`.recent[data-scan-id="${scanId}"]`).forEach((row) => {
    row.classList.add("recent--undone");
    const button = row.querySelector("[data-undo-scan]");
    if (button) button.hidden = true;
  });
}

root.addEventListener("click", (event) => {
  const button = event.target.closest("[data-undo-scan]");
  if (!button) return;
  const row = button.closest(".recent");
  const name = row.querySelector('[data-field="name"]').textContent;
  button.disabled = true;
  undo(row.outcome || { scan_id: row.dataset.scanId, name: name === "—" ? "" : name })
    .finally(() => { button.disabled = false; });
});

root.querySelectorAll("time[data-gate-time]").forEach((time) => {
  if (time.dateTime) time.textContent = formatTime(time.dateTime);
});

// --- the point and the scan mode ----------------------------------------------------------

const pointsBox = $("[data-gate-points]");
const mainBox = $("[data-gate-main]");
const directionSwitch = $("[data-direction-switch]");
const pointButtons = [...root.querySelectorAll("[data-point-choice]")];
let totals = null;

function setDirection(direction) {
  state.direction = state.point && state.point.directions ? direction : "in";
  remember(keys.direction, state.direction);
  directionSwitch.querySelectorAll("[data-direction]").forEach((button) => {
    button.setAttribute("aria-pressed", String(button.dataset.direction === state.direction));
  });
  root.classList.toggle("gate--exit", state.direction === "out");
}

function choosePoint(button) {
  const data = button.dataset;
  state.point = { id: Number(data.pointChoice), name: data.name, kind: data.kind,
                  hall: data.hall || "", directions: data.directions === "true" };
  remember(keys.point, String(state.point.id));
  $("[data-point-name]").textContent = state.point.name;
  $("[data-point-kind]").textContent = data.kindLabel;
  directionSwitch.hidden = !state.point.directions;
  setDirection(recall(keys.direction) || "in");
  root.querySelectorAll("[data-recent-for]").forEach((list) => {
    list.hidden = list.dataset.recentFor !== String(state.point.id) || !list.children.length;
  });
  recentEmpty.hidden = Boolean(recentList().children.length);
  pointsBox.hidden = true;
  mainBox.hidden = false;
  screen.idle();
  if (totals) totals.refresh();
  focusScanner();
}

function showPoints() {
  stopCamera();
  if (totals) totals.stop();
  state.point = null;
  remember(keys.point, null);
  mainBox.hidden = true;
  pointsBox.hidden = false;
}

pointButtons.forEach((button) => button.addEventListener("click", () => choosePoint(button)));
directionSwitch.addEventListener("click", (event) => {
  const button = event.target.closest("[data-direction]");
  if (button) setDirection(button.dataset.direction);
});
$("[data-change-point]").addEventListener("click", showPoints);

// --- the camera ---------------------------------------------------------------------------

const cameraBox = $("[data-camera]");
const cameraError = $("[data-camera-error]");
const cameraToggle = $("[data-camera-toggle]");
const camera = createCamera({ video: $("[data-camera-video]"), jsqrSrc: config.jsqrSrc,
                              onCode: (code) => { if (state.point) scanCode(code); } });

function cameraShown(running) {
  cameraToggle.textContent = running ? words.camera_stop : words.camera_start;
  cameraToggle.setAttribute("aria-pressed", String(running));
  root.classList.toggle("gate--camera", running);
}

cameraBox.addEventListener("click", () => { if (!camera.running) cameraBox.hidden = true; });

function stopCamera() {
  camera.stop();
  cameraBox.hidden = true;
  cameraShown(false);
}

cameraToggle.addEventListener("click", async () => {
  if (camera.running) { stopCamera(); return; }
  cameraBox.hidden = false;
  cameraBox.dataset.state = "starting";
  cameraError.hidden = true;
  try {
    await camera.start();
    cameraShown(true);
  } catch (error) {
    camera.stop();
    cameraShown(false);
    const reason = words.camera_reasons[error && error.name] || (error && error.message);
    cameraError.textContent = fill(words.camera_unavailable, { reason: reason || String(error) });
    cameraError.hidden = false;
    cameraBox.hidden = false;
    cameraBox.dataset.state = "failed";
  }
});

// --- online, offline, waiting scans and conflicts (reported by the gate client) ------------

const statusBox = $("[data-gate-status]");
const plural = (forms, count) => fill(count === 1 ? forms.one : forms.other, { count });

// "王小明, scanned 10:32 at South gate: first used 10:30 at North gate by Tom Becker".
function describeConflict(conflict) {
  const outcome = conflict.outcome || {};
  const name = conflict.name || outcome.name || words.no_name;
  const here = conflict.when && conflict.point
    ? fill(words.conflict_line, { name, when: formatTime(conflict.when), point: conflict.point })
    : name;
  const first = conflict.first || outcome.first;
  const used = first && first.at ? fill(first.staff ? words.first_use : words.first_use_no_staff,
                                        { when: formatTime(first.at), point: first.point || "",
                                          staff: first.staff || "" }) : "";
  return used ? `${here}: ${used}` : here;
}

const seen = $("[data-conflicts-seen]");
seen.addEventListener("click", () => { if (client.clearConflicts) client.clearConflicts(); });

client.onStatus(({ online, pending, lastSync, conflicts = [] }) => {
  const waiting = pending > 0;
  statusBox.hidden = online && !waiting && !conflicts.length;
  statusBox.dataset.state = online ? "online" : "offline";
  root.classList.toggle("gate--offline", !online);
  let line = "";
  if (!online) line = plural(words.offline, pending);
  else if (waiting) line = plural(words.syncing, pending);
  if (line && lastSync) line += ` · ${fill(words.last_sync, { when: formatTime(lastSync) })}`;
  $("[data-status-line]").textContent = line;
  $("[data-status-line]").hidden = !line;
  $("[data-conflicts]").hidden = !conflicts.length;
  $("[data-conflict-list]").replaceChildren(...conflicts.map((conflict) => {
    const item = document.createElement("li");
    item.textContent = describeConflict(conflict);
    return item;
  }));
});

// --- supervisors ---------------------------------------------------------------------------

if (supervisor) {
  totals = createTotals($("[data-totals]"), { api, words, getPoint: () => state.point });
  const search = createSearch(root, { api, words, formatTime, checkInByHand });
  createWalkIn($("[data-walkin]"), {
    api, words, deviceId: device, getPoint: () => state.point,
    onCheckedIn: (outcome, scan) => {
      state.latest += 1;
      addRecent(outcome);
      totals.refresh();
      showResult(outcome, scan);
      search.clear();
      focusScanner();
    },
  });
}

// --- start: the point this tablet had, or the choice --------------------------------------

const saved = pointButtons.find((button) => button.dataset.pointChoice === recall(keys.point));
if (saved) choosePoint(saved); else showPoints();

// --- signing out: the tablet forgets the event's guests, unless scans wait to be synced ---

const logout = document.querySelector("form[data-logout]");
if (logout) {
  logout.addEventListener("submit", async (event) => {
    if (logout.dataset.forgotten) return;
    event.preventDefault();
    const { kept } = await client.forget().catch(() => ({ kept: 0 }));
    if (kept > 0 && !window.confirm(fill(words.logout_pending, { count: kept }))) return;
    logout.dataset.forgotten = "yes";
    logout.requestSubmit();
  });
}
