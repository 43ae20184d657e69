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
