// A supervisor's tools on the gate page: the point's totals, search and check-in by hand,
// undo, and walk-in registration. They need the network (the scanning itself does not).

const TOTALS_EVERY_MS = 10000;
const SEARCH_DELAY_MS = 300;

// A JSON call of the check-in API: {ok, status, body}. A dead network is status 0.
export function apiCaller(apiBase, csrfToken) {
  return async (path, { method = "GET", body } = {}) => {
    try {
      const response = await fetch(`${apiBase}/${path}`, {
        method,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken,
                   ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const answer = await response.json().catch(() => null);
      return { ok: response.ok, status: response.status, body: answer };
    } catch (error) {
      return { ok: false, status: 0, body: null };
    }
  };
}

export function errorMessage(answer, fallback) {
  const error = answer && answer.body && answer.body.error;
  return (error && error.message) || fallback;
}

function setTotals(box, totals, point) {
  const here = totals.points.find((row) => row.point && row.point.id === point.id) || {};
  const hall = totals.halls.find((row) => row.hall === point.hall);
  const values = { entries: here.entries, exits: here.exits, people: here.people,
                   refused: here.refused, arrivals: totals.arrivals, expected: totals.expected,
                   gifts: totals.gifts, inside: hall ? hall.inside : "–" };
  box.querySelectorAll("[data-total]").forEach((element) => {
    const value = values[element.dataset.total];
    element.textContent = value === undefined || value === null ? "–" : String(value);
  });
}

export function createTotals(box, { api, words, getPoint }) {
  const note = box.querySelector("[data-totals-note]");
  let timer = 0;

  async function refresh() {
    clearTimeout(timer);
    const point = getPoint();
    if (!point) return;
    if (!document.hidden) {
      const answer = await api("totals");
      note.hidden = answer.ok;
      note.textContent = answer.ok ? "" : words.totals_failed;
      if (answer.ok) setTotals(box, answer.body, point);
    }
    timer = setTimeout(refresh, TOTALS_EVERY_MS);
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  return { refresh, stop: () => clearTimeout(timer) };
}

export function createSearch(root, { api, words, formatTime, checkInByHand }) {
  const form = root.querySelector("[data-search-form]");
  const input = root.querySelector("[data-search-input]");
  const list = root.querySelector("[data-search-results]");
  const note = root.querySelector("[data-search-note]");
  const template = document.querySelector("[data-hit-template]");
  let delay = 0;
  let asked = 0;

  const say = (text) => { note.textContent = text || ""; note.hidden = !text; };

  function clear() {
    input.value = "";
    list.replaceChildren();
    say("");
  }

  function hit(person) {
    const row = template.content.firstElementChild.cloneNode(true);
    const field = (name) => row.querySelector(`[data-field="${name}"]`);
    field("name").textContent = person.name || words.no_name;
    field("org").textContent = [person.company, person.job_title].filter(Boolean).join(" · ");
    field("phone").textContent = person.phone || "";
    field("status").textContent = words.statuses[person.status] || person.status;
    field("status").classList.add(`badge--${person.status}`);
    field("checked_in").textContent = person.checked_in_at
      ? words.checked_in_at.replace("{when}", formatTime(person.checked_in_at)) : "";
    row.querySelector("[data-check-in]").addEventListener("click", async (event) => {
      event.currentTarget.disabled = true;
      await checkInByHand(person.registration_id);
      clear();
    });
    return row;
  }

  async function search() {
    clearTimeout(delay);
    const query = input.value.trim();
    const mine = ++asked;
    if (!query) { list.replaceChildren(); say(""); return; }
    const answer = await api(`search?q=${encodeURIComponent(query)}`);
    if (mine !== asked) return; // a later search is on its way
    if (!answer.ok) { say(errorMessage(answer, words.search_failed)); return; }
    list.replaceChildren(...answer.body.map(hit));
    say(answer.body.length ? "" : words.search_none);
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); search(); });
  input.addEventListener("input", () => {
    clearTimeout(delay);
    delay = setTimeout(search, SEARCH_DELAY_MS);
  });
  return { clear };
}

// The booking form's values as the invitation form posts them: several choices are a list.
function formFields(form) {
  const fields = {};
  new FormData(form).forEach((value, name) => {
    if (name === "consent") return;
    if (form.querySelector(`input[type=checkbox][name="${CSS.escape(name)}"]`)) {
      (fields[name] = fields[name] || []).push(value);
    } else {
      fields[name] = value;
    }
  });
  return fields;
}

function showFieldErrors(form, details) {
  form.querySelectorAll(".field__error[data-walkin-field-error]").forEach((e) => e.remove());
  form.querySelectorAll(".field--error").forEach((e) => e.classList.remove("field--error"));
  Object.entries(details || {}).forEach(([name, messages]) => {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    const field = input && input.closest(".field");
    if (!field) return;
    field.classList.add("field--error");
    [].concat(messages).forEach((message) => {
      const small = document.createElement("small");
      small.className = "field__error";
      small.dataset.walkinFieldError = "";
      small.setAttribute("role", "alert");
      small.textContent = message;
      field.appendChild(small);
    });
  });
}

export function createWalkIn(details, { api, words, deviceId, getPoint, onCheckedIn }) {
  const form = details.querySelector("[data-walkin-form]");
  const problem = details.querySelector("[data-walkin-error]");
  const submit = form.querySelector("button[type=submit]");
  let clientScanId = crypto.randomUUID(); // the same id for a retry of the same person
  // A shared tablet: the browser must not offer the last walk-in's details to the next one.
  form.querySelectorAll("input").forEach((input) => { input.autocomplete = "off"; });

  form.addEventListener("input", () => { clientScanId = crypto.randomUUID(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const point = getPoint();
    submit.disabled = true;
    const answer = await api("walk-ins", { method: "POST", body: {
      point_id: point.id, device_id: deviceId, client_scan_id: clientScanId,
      consent: form.elements.consent.checked, fields: formFields(form) } });
    submit.disabled = false;
    const body = answer.body || {};
    showFieldErrors(form, answer.ok ? {} : body.error && body.error.details);
    problem.hidden = answer.ok;
    problem.textContent = answer.ok ? "" : errorMessage(answer, words.walk_in_failed);
    if (!answer.ok) return;
    form.reset();
    clientScanId = crypto.randomUUID();
    details.open = false;
    onCheckedIn(body, { registration_id: body.registration_id, purpose: "entry" });
  });
}
