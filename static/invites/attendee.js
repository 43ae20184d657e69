// eventapp attendee pages: what JavaScript adds to pages that work without it.
// ES5 on purpose: WeChat's in-app browser on older phones.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // The countdown: the server wrote it; tick it every second, on the server's clock.
  function tickCountdown(box) {
    var startsAt = parseInt(box.getAttribute("data-starts-at"), 10);
    var skew = parseInt(box.getAttribute("data-now"), 10) - Date.now();
    var parts = {};
    ["days", "hours", "minutes", "seconds"].forEach(function (name) {
      parts[name] = box.querySelector('[data-part="' + name + '"]');
    });
    if (!parts.seconds) { return; }
    function tick() {
      var left = Math.floor((startsAt - (Date.now() + skew)) / 1000);
      if (left <= 0) {
        box.querySelector(".countdown__label").textContent = box.getAttribute("data-started");
        box.className = "countdown countdown--started";
        box.removeChild(box.querySelector(".countdown__clock"));
        return;
      }
      parts.days.textContent = Math.floor(left / 86400);
      parts.hours.textContent = pad(Math.floor(left % 86400 / 3600));
      parts.minutes.textContent = pad(Math.floor(left % 3600 / 60));
      parts.seconds.textContent = pad(left % 60);
      window.setTimeout(tick, 1000 - (Date.now() + skew) % 1000);
    }
    tick();
  }
  var countdown = document.querySelector("[data-countdown]");
  if (countdown) { tickCountdown(countdown); }

  // The floating "book" button: on screen while neither the top button nor the form is.
  var cta = document.querySelector("[data-cta]");
  var anchors = [document.getElementById("book-top"), document.getElementById("book")];
  if (cta && anchors[0] && anchors[1] && "IntersectionObserver" in window) {
    var inView = {};
    cta.classList.add("is-hidden");
    cta.hidden = false;
    var watcher = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) { inView[entry.target.id] = entry.isIntersecting; });
      cta.classList.toggle("is-hidden", !!(inView["book-top"] || inView.book));
    });
    anchors.forEach(function (anchor) { watcher.observe(anchor); });
  }

  // The booking form: one tap books; the button says it is working.
  var form = document.querySelector("[data-booking-form]");
  if (form) {
    var button = form.querySelector("button[type=submit]");
    var label = button ? button.textContent : "";
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sending")) { event.preventDefault(); return; }
      form.setAttribute("data-sending", "1");
      if (button && button.getAttribute("data-busy")) { button.textContent = button.getAttribute("data-busy"); }
    });
    // Back from the ticket page (page cache): the form can be sent again.
    window.addEventListener("pageshow", function () {
      form.removeAttribute("data-sending");
      if (button) { button.textContent = label; }
    });
    // Refused booking: bring the first field to fix into view.
    var wrong = form.querySelector(".field--error input");
    if (wrong) {
      wrong.scrollIntoView({ block: "center" });
      wrong.focus({ preventScroll: true });
    }
  }

  // Copy buttons: shown only where copying works.
  function copyText(source, done) {
    var text = source.value || source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
      return;
    }
    if (source.select) {
      source.select();
      try { if (document.execCommand("copy")) { done(); } } catch (error) { /* not allowed */ }
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (copyButton) {
    var source = copyButton.parentNode.querySelector("[data-copy-source]");
    if (!source) { return; }
    copyButton.hidden = false;
    copyButton.addEventListener("click", function () {
      var label = copyButton.textContent;
      copyText(source, function () {
        copyButton.textContent = copyButton.getAttribute("data-copied");
        window.setTimeout(function () { copyButton.textContent = label; }, 2000);
      });
    });
  });
})();
