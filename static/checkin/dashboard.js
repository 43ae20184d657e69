// The live arrivals dashboard (templates/checkin/dashboard.html): every few seconds it asks
// dashboard.json for the figures and puts them in place, without reloading the page. The page
// shows the same figures at load, so without this script it is simply not live.
// Plain JS, no inline script or style (the CSP forbids them); texts come from the page.
(function () {
  "use strict";

  var root = document.querySelector(".dashboard[data-figures-url]");
  if (!root) { return; }
  var url = root.getAttribute("data-figures-url");
  var seconds = Number(root.getAttribute("data-refresh-seconds")) || 10;
  var lang = document.documentElement.lang || undefined;
  var numbers = new Intl.NumberFormat(lang);
  var SVG = "http://www.w3.org/2000/svg";
  var status = root.querySelector("[data-status]");
  var statusBox = status && status.parentElement;
  var lastUpdated = null;
  var timer = null;
  var asking = false;

  // Numbers as the server writes them (Babel): grouped digits; shares as whole percents,
  // with one decimal under 10 %.
  function number(value) { return numbers.format(value); }
  function percent(value) {
    if (value === null || value === undefined) { return "\u2013"; }
    var digits = value < 0.1 ? 1 : 0;
    return new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: digits,
                                          maximumFractionDigits: digits }).format(value);
  }
  function fill(template, value) { return (template || "").replace("{time}", value); }

  // Change an element's text; a changed figure lights up briefly so the eye finds it.
  function setText(element, text) {
    if (element.textContent === text) { return; }
    element.textContent = text;
    flash(element);
  }
  function flash(element) {
    element.classList.remove("is-changed");
    void element.offsetWidth; // restarts the animation
    element.classList.add("is-changed");
  }
  function make(tag, className, text) {
    var element = document.createElement(tag);
    if (className) { element.className = className; }
    if (text !== undefined && text !== null) { element.textContent = text; }
    return element;
  }
  function headLabels(tbody) {
    return Array.prototype.map.call(tbody.parentElement.querySelectorAll("thead th"),
                                    function (th) { return th.textContent.trim(); });
  }
  function emptyRow(tbody, columns, text) {
    if (tbody.querySelector(".dash-empty")) { return; } // keep the page's own (it has a link)
    tbody.textContent = "";
    var row = make("tr", "dash-empty");
    var cell = make("td", "muted", text);
    cell.colSpan = columns;
    row.appendChild(cell);
    tbody.appendChild(row);
  }

  // --- the figures at the top ---
  function updateHeadline(figures) {
    root.querySelectorAll("[data-figure]").forEach(function (element) {
      var value = figures[element.getAttribute("data-figure")];
      setText(element, element.getAttribute("data-format") === "percent" ? percent(value)
                                                                           : number(value));
    });
    var bar = root.querySelector("[data-progress]");
    if (bar) {
      bar.max = Math.max(figures.expected, 1);
      bar.value = figures.arrivals;
    }
  }

  // --- the bar chart: the server gives each bar's place and size ---
  function svg(tag, attributes, text) {
    var element = document.createElementNS(SVG, tag);
    Object.keys(attributes).forEach(function (name) {
      element.setAttribute(name, attributes[name]);
    });
    if (text !== undefined) { element.textContent = text; }
    return element;
  }
  function updateChart(figures) {
    var chart = figures.chart;
    var drawing = root.querySelector("[data-chart]");
    var group = drawing && drawing.querySelector("[data-chart-bars]");
    if (!group) { return; }
    drawing.setAttribute("viewBox", "0 0 " + chart.width + " " + chart.height);
    var desc = drawing.querySelector("desc");
    if (desc && drawing.hasAttribute("data-text-highest")) {
      desc.textContent = drawing.getAttribute("data-text-highest")
        .replace("{count}", number(chart.highest));
    }
    var axis = drawing.querySelector(".arrivals-chart__axis");
    if (axis) {
      axis.setAttribute("x2", chart.width);
      axis.setAttribute("y1", chart.baseline);
      axis.setAttribute("y2", chart.baseline);
    }
    var bars = document.createDocumentFragment();
    chart.bars.forEach(function (bar) {
      var item = svg("g", { "class": "arrivals-chart__bar" });
      item.appendChild(svg("title", {}, bar.label + ": " + number(bar.count)));
      item.appendChild(svg("rect", { x: bar.x, y: bar.y, width: bar.width, height: bar.height,
                                     rx: 2 }));
      if (bar.value_shown) {
        item.appendChild(svg("text", { "class": "arrivals-chart__value", x: bar.center,
                                       y: bar.y - 4 }, number(bar.count)));
      }
      if (bar.tick) {
        item.appendChild(svg("text", { "class": "arrivals-chart__tick", x: bar.center,
                                       y: chart.height - 4 }, bar.label));
      }
      bars.appendChild(item);
    });
    group.textContent = "";
    group.appendChild(bars);
  }

  // --- tables: rows keyed by point id or hall name; figures updated in place ---
  function updateRows(tbody, rows, keyOf, build, figuresOf) {
    var current = Array.prototype.map.call(tbody.querySelectorAll("tr[data-key]"),
                                           function (tr) { return tr.getAttribute("data-key"); });
    var wanted = rows.map(keyOf);
    if (current.join("\n") === wanted.join("\n") && rows.length) {
      rows.forEach(function (row, n) {
        var cells = tbody.rows[n].querySelectorAll("td.num");
        figuresOf(row).forEach(function (value, i) { setText(cells[i], number(value)); });
      });
      return;
    }
    if (!rows.length) { return false; }
    var labels = headLabels(tbody);
    tbody.textContent = "";
    rows.forEach(function (row) {
      var tr = build(row, labels);
      tr.setAttribute("data-key", keyOf(row));
      figuresOf(row).forEach(function (value, i) {
        var cell = make("td", "num", number(value));
        cell.setAttribute("data-label", labels[labels.length - figuresOf(row).length + i]);
        tr.appendChild(cell);
      });
      tbody.appendChild(tr);
    });
    return true;
  }

  function updatePoints(figures) {
    var tbody = root.querySelector("[data-points]");
    if (!tbody) { return; }
    var filled = updateRows(tbody, figures.points, function (p) { return String(p.id); },
      function (point, labels) {
        var tr = make("tr");
        var name = make("td", "table__title", point.name + " ");
        name.appendChild(make("span", "muted", point.kind_label));
        if (!point.active) {
          name.appendChild(document.createTextNode(" "));
          name.appendChild(make("span", "badge badge--closed",
                                tbody.getAttribute("data-text-closed")));
        }
        tr.appendChild(name);
        var hall = make("td", "", point.hall);
        hall.setAttribute("data-label", labels[1]);
        tr.appendChild(hall);
        return tr;
      },
      function (p) { return [p.entries, p.exits, p.people, p.refused]; });
    if (filled === false) { emptyRow(tbody, 6, tbody.getAttribute("data-text-empty")); }
  }

  function updateHalls(figures) {
    var tbody = root.querySelector("[data-halls]");
    if (!tbody) { return; }
    var filled = updateRows(tbody, figures.halls, function (h) { return h.hall; },
      function (hall) {
        var tr = make("tr");
        tr.appendChild(make("td", "", hall.hall));
        return tr;
      },
      function (h) { return [h.entries, h.exits, h.inside]; });
    if (filled === false) { emptyRow(tbody, 4, tbody.getAttribute("data-text-empty")); }
    tbody.querySelectorAll("tr[data-key] td.num:last-child").forEach(function (cell) {
      cell.classList.add("dash-halls__inside");
    });
  }

  // --- the latest scans: rebuilt; scans not shown before light up ---
  function updateScans(figures) {
    var list = root.querySelector("[data-scans]");
    if (!list) { return; }
    var seen = {};
    list.querySelectorAll("[data-scan-id]").forEach(function (item) {
      seen[item.getAttribute("data-scan-id")] = true;
    });
    var text = function (name) { return list.getAttribute("data-text-" + name); };
    var items = document.createDocumentFragment();
    figures.recent.forEach(function (scan) {
      var tone = scan.admitted ? "admitted" : (scan.result === "undo" ? "undo" : "refused");
      var item = make("li", "dash-scan dash-scan--" + tone);
      item.setAttribute("data-scan-id", scan.id);
      var time = make("time", "dash-scan__time", scan.time);
      time.setAttribute("datetime", scan.at);
      time.title = scan.when;
      item.appendChild(time);
      item.appendChild(make("span", "dash-scan__result", scan.result_label));
      item.appendChild(make("span", "dash-scan__name", scan.name || text("nobody")));
      item.appendChild(make("span", "dash-scan__where muted",
                            scan.point + (scan.staff ? " \u00b7 " + scan.staff : "")));
      var flags = make("span", "dash-scan__flags");
      [["offline", "badge"], ["conflict", "badge badge--waitlisted"], ["manual", "badge"],
       ["undone", "badge badge--cancelled"]].forEach(function (flag) {
        if (scan[flag[0]]) { flags.appendChild(make("span", flag[1], text(flag[0]))); }
      });
      item.appendChild(flags);
      if (!seen[String(scan.id)]) { item.classList.add("is-changed"); }
      items.appendChild(item);
    });
    if (!figures.recent.length) {
      items.appendChild(make("li", "dash-empty muted", text("empty")));
    }
    list.textContent = "";
    list.appendChild(items);
  }

  // --- asking for the figures ---
  function showStatus(stale) {
    if (!status) { return; }
    status.textContent = stale ? fill(root.getAttribute("data-text-stale"), lastUpdated)
                               : fill(root.getAttribute("data-text-updated"), lastUpdated);
    statusBox.classList.toggle("is-stale", stale);
  }

  function refresh() {
    timer = null;
    if (asking) { return; }
    asking = true;
    fetch(url, { credentials: "same-origin", cache: "no-store",
                 headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (figures) {
        updateHeadline(figures);
        updateChart(figures);
        updatePoints(figures);
        updateHalls(figures);
        updateScans(figures);
        lastUpdated = figures.updated;
        seconds = figures.refresh_seconds || seconds;
        showStatus(false);
        root.setAttribute("data-generated-at", figures.generated_at);
      })
      .catch(function () { showStatus(true); })
      .then(function () { asking = false; schedule(); });
  }

  function schedule() {
    if (timer === null && !asking && !document.hidden) { timer = window.setTimeout(refresh, seconds * 1000); }
  }

  // A hidden tab does not poll; shown again, it catches up at once.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
    } else if (timer === null && !asking) {
      refresh();
    }
  });

  lastUpdated = root.getAttribute("data-updated");
  schedule();
})();
