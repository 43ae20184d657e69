// eventapp: small behaviours shared by every page. Plain JS, no inline script (the CSP forbids it).
(function () {
  "use strict";

  // <form data-confirm="Question?">: ask before sending (removing, revoking).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Progress bars of long jobs: poll the job until it is finished.
  function pollJob(box) {
    var url = box.getAttribute("data-job-url");
    var bar = box.querySelector("progress");
    var text = box.querySelector(".progress__text");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (job) {
          if (job.percent !== null && job.percent !== undefined) { bar.value = job.percent; }
          else { bar.removeAttribute("value"); }
          text.textContent = job.error || job.message || "";
          box.setAttribute("data-state", job.state);
          if (!job.finished) { window.setTimeout(tick, 1000); }
          else { box.dispatchEvent(new CustomEvent("job:finished", { bubbles: true, detail: job })); }
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    tick();
  }
  document.querySelectorAll(".progress[data-job-url]").forEach(function (box) {
    if (box.getAttribute("data-state") !== "succeeded" && box.getAttribute("data-state") !== "failed") {
      pollJob(box);
    }
  });
})();

// === event set-up (marketing) ===
(function () {
  "use strict";

  // <input type=file data-max-bytes data-too-large>: refuse a too-large picture before it is
  // sent (a phone upload over a venue's network takes long only to be refused).
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var note = document.createElement("small");
    note.className = "field__error";
    note.setAttribute("role", "alert");
    note.hidden = true;
    input.insertAdjacentElement("afterend", note);
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var tooLarge = !!file && file.size > Number(input.getAttribute("data-max-bytes"));
      var message = tooLarge ? input.getAttribute("data-too-large") : "";
      input.setCustomValidity(message);
      note.textContent = message;
      note.hidden = !tooLarge;
    });
  });

  // A custom question's options matter only for choice questions: hide them for the others.
  document.querySelectorAll(".question-form").forEach(function (form) {
    var kind = form.querySelector("select[name$=kind]");
    var options = form.querySelector(".question-options");
    if (!kind || !options) { return; }
    var choiceKinds = (options.getAttribute("data-choice-kinds") || "").split(" ");
    function update() { options.hidden = choiceKinds.indexOf(kind.value) === -1; }
    kind.addEventListener("change", update);
    update();
  });
})();
// === end of event set-up ===
