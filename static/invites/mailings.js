// The invitations page: the recipient count follows the filters as they change, and the send
// form always sends the filters that were counted. Without JavaScript, "Count recipients"
// reloads the page with the same result.
(function () {
  "use strict";

  var form = document.querySelector(".segment-form[data-count-url]");
  var sendForm = document.querySelector(".send-form");
  var countBox = document.querySelector(".segment-count");
  if (!form || !sendForm || !countBox) { return; }
  var button = sendForm.querySelector(".send-form__button");
  var timer = null;
  var latest = 0;

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) { params.append(name, value); });
    return params;
  }

  function copyFilters() {
    sendForm.querySelectorAll("[data-segment-copy]").forEach(function (copy) {
      var source = form.elements[copy.name];
      if (!source) { return; }
      if (source.type === "checkbox") { copy.disabled = !source.checked; }
      else { copy.value = source.value; }
    });
  }

  function show(result) {
    countBox.textContent = result.text;
    countBox.classList.toggle("segment-count--none", result.recipients === 0);
    button.textContent = result.send_label;
    button.disabled = result.recipients === 0;
  }

  function recount() {
    var params = query();
    var ticket = ++latest;
    window.history.replaceState(null, "", "?" + params.toString());
    fetch(form.getAttribute("data-count-url") + "?" + params.toString(),
          { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (result) { if (result && ticket === latest) { show(result); } })
      .catch(function () { /* the button still counts by reloading the page */ });
  }

  function later() {
    copyFilters();
    window.clearTimeout(timer);
    timer = window.setTimeout(recount, 300);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  // Whatever the count shows by then, the filters on screen are the ones sent.
  sendForm.addEventListener("submit", copyFilters);
})();
