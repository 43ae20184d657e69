// The badge batches page: a batch's download link appears once its progress bar reports the
// job finished (static/js/app.js sends "job:finished"). Without JavaScript, a reload shows it.
(function () {
  "use strict";
  document.addEventListener("job:finished", function (event) {
    var item = event.target.closest && event.target.closest(".badge-batch");
    var link = item && item.querySelector("[data-badge-download]");
    if (link && event.detail && event.detail.state === "succeeded") { link.hidden = false; }
  });
})();
