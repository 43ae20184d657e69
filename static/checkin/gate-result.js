// The gate's result screen: colour, a short sound and large text for each scan, readable from
// a metre away. A new scan replaces the result at once; an old one fades after a few seconds.

const FADE_AFTER_MS = 5000;
const CHECKING_AFTER_MS = 250;
const ADMITTED = new Set(["valid", "reentry", "exit"]);
const UNDOABLE = ADMITTED;
const BADGE_RESULTS = new Set(["valid", "reentry", "already_used"]);

// "{name} at {point}" -> the words with the values put in (a translation may reorder them).
export function fill(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (whole, key) =>
    (key in values ? String(values[key]) : whole));
}

// A moment in the event's timezone: the time today, the date and time on other days.
export function timeFormatter(lang, timeZone) {
  const options = { timeZone, hour: "2-digit", minute: "2-digit" };
  const time = new Intl.DateTimeFormat(lang, options);
  const dated = new Intl.DateTimeFormat(lang, { ...options, month: "short", day: "numeric" });
  const day = new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" });
  return (value) => {
    const moment = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(moment.getTime())) return "";
    return day.format(moment) === day.format(new Date()) ? time.format(moment)
      : dated.format(moment);
  };
}

// Tones made with WebAudio: no files to fetch or cache. The context starts on the first touch
// or key press (browsers refuse sound before the person did anything).
export function createSounds() {
  let context = null;
  const wake = () => {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    context = context || new Context();
    if (context.state === "suspended") context.resume().catch(() => {});
  };
  document.addEventListener("pointerdown", wake, { capture: true });
  document.addEventListener("keydown", wake, { capture: true });
  const beep = (frequency, start, length, type = "sine") => {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = type;
    oscillator.frequency.value = frequency;
    const at = context.currentTime + start;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(at);
    oscillator.stop(at + length + 0.02);
  };
  return {
    play(tone) {
      if (!context || context.state !== "running") return;
      if (tone === "good") { beep(880, 0, 0.12); beep(1320, 0.13, 0.16); }
      else if (tone === "warn") {
        beep(440, 0, 0.18, "triangle");
        beep(440, 0.24, 0.18, "triangle");
      }
      else if (tone === "bad") { beep(220, 0, 0.6, "square"); }
    },
  };
}

export function createResultScreen(box, { words, formatTime, badgeUrl, supervisor, onGift,
                                          onUndo }) {
  const part = (name) => box.querySelector(`[data-${name}]`);
  const title = part("result-title");
  const name = part("result-name");
  const org = part("result-org");
  const message = part("result-message");
  const first = part("result-first");
  const note = part("result-note");
  const gift = part("result-gift");
  const giftText = part("gift-text");
  const actions = part("result-actions");
  const badge = part("badge-link");
  const undo = part("undo-last");
  const sounds = createSounds();
  let shown = null;
  let fadeTimer = 0;
  let checkingTimer = 0;

  const setText = (element, text) => {
    element.textContent = text || "";
    element.hidden = !text;
  };

  function setTone(tone) {
    box.dataset.tone = tone;
    box.className = `result result--${tone}`;
  }

  function idle() {
    clearTimeout(fadeTimer);
    clearTimeout(checkingTimer);
    shown = null;
    setTone("idle");
    setText(title, words.ready);
    [name, org, first, note].forEach((element) => setText(element, ""));
    setText(message, words.ready_hint);
    gift.hidden = true;
    actions.hidden = true;
  }

  // Only if the answer is slow: a fast one goes straight from the last result to the next.
  function checking() {
    clearTimeout(checkingTimer);
    checkingTimer = setTimeout(() => {
      clearTimeout(fadeTimer);
      setTone("checking");
      setText(title, words.checking);
      [name, org, message, first, note].forEach((element) => setText(element, ""));
      gift.hidden = true;
      actions.hidden = true;
    }, CHECKING_AFTER_MS);
  }

  function firstUse(outcome) {
    const used = outcome.first;
    if (!used || !used.at) return "";
    const values = { when: formatTime(used.at), point: used.point || "", staff: used.staff || "" };
    return fill(used.staff ? words.first_use : words.first_use_no_staff, values);
  }

  function show(outcome, scan) {
    clearTimeout(fadeTimer);
    clearTimeout(checkingTimer);
    shown = { outcome, scan };
    const tone = outcome.tone || words.tones[outcome.result] || "bad";
    setTone(tone);
    setText(title, outcome.title);
    setText(name, outcome.name || (outcome.registration_id ? words.no_name : ""));
    setText(org, [outcome.company, outcome.job_title].filter(Boolean).join(" · "));
    setText(message, outcome.message);
    setText(first, outcome.result === "already_used" ? firstUse(outcome) : "");
    setText(note, outcome.conflict ? words.conflict : outcome.offline ? words.offline_result : "");
    const giftDue = Boolean(outcome.gift_due && outcome.gift && scan && scan.purpose !== "gift");
    gift.hidden = !giftDue;
    giftText.textContent = giftDue ? fill(words.gift_due, { gift: outcome.gift }) : "";
    const canBadge = Boolean(outcome.registration_id && BADGE_RESULTS.has(outcome.result));
    badge.hidden = !canBadge;
    if (canBadge) badge.href = badgeUrl.replace("{id}", String(outcome.registration_id));
    const canUndo = Boolean(supervisor && undo && outcome.scan_id && !outcome.offline
                            && UNDOABLE.has(outcome.result) && !outcome.undone);
    if (undo) undo.hidden = !canUndo;
    actions.hidden = !(canBadge || canUndo);
    sounds.play(tone);
    fadeTimer = setTimeout(() => box.classList.add("result--faded"), FADE_AFTER_MS);
  }

  gift.querySelector("[data-gift-button]").addEventListener("click", () => {
    if (shown) onGift(shown.outcome, shown.scan);
  });
  if (undo) {
    undo.addEventListener("click", () => { if (shown) onUndo(shown.outcome); });
  }
  // A tap on the result (not on its buttons) dismisses it: the screen is ready again.
  box.addEventListener("click", (event) => {
    if (shown && !event.target.closest("button, a")) idle();
  });

  return {
    show,
    checking,
    idle,
    // The scan on screen, if it is this one (an undo from the recent list updates it).
    current: () => shown,
  };
}
