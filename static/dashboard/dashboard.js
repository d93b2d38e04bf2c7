// Charts from data-chart attributes (Chart.js, vendored), jump-to-line for flow problems, live SMS counts.
(function () {
  "use strict";
  var ACCENT = "#1f5f8b", SOFT = "#9bb7cf", WARN = "#a4262c";

  function data(el) {
    try { return JSON.parse(el.getAttribute("data-chart")); } catch (e) { return null; }
  }

  function barChart(el, horizontal) {
    var d = data(el);
    if (!d || typeof Chart === "undefined") { return; }
    el.chart = new Chart(el, {
      type: "bar",
      data: { labels: d.labels, datasets: [{ data: d.values.map(function (v) { return v === null ? 0 : v; }), backgroundColor: ACCENT }] },
      options: { indexAxis: horizontal ? "y" : "x", animation: false, responsive: true, maintainAspectRatio: false,
                 plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    el.setAttribute("data-rendered", "1");
  }

  function compareChart(el) {
    var d = data(el);
    if (!d || typeof Chart === "undefined") { return; }
    var pct = function (v) { return v === null ? 0 : Math.round(v * 1000) / 10; };
    el.chart = new Chart(el, {
      type: "bar",
      data: { labels: d.labels, datasets: [
        { label: el.getAttribute("data-label-share"), data: d.share.map(pct), backgroundColor: d.share.map(function (v, i) { return v !== null && v / d.expected[i] < 0.8 ? WARN : ACCENT; }) },
        { label: el.getAttribute("data-label-expected"), data: d.expected.map(pct), backgroundColor: SOFT }
      ] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
    });
    el.setAttribute("data-rendered", "1");
  }

  function focusLine(line) {
    var area = document.getElementById("source");
    if (!area) { return; }
    var lines = area.value.split("\n"), start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { start += lines[i].length + 1; }
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] || "").length);
    var lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.closest(".editor").scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas.bar-chart").forEach(function (el) { barChart(el, false); });
    document.querySelectorAll("canvas.funnel-chart").forEach(function (el) { barChart(el, true); });
    document.querySelectorAll("canvas.compare-chart").forEach(compareChart);
    document.querySelectorAll("[data-line]").forEach(function (a) {
      a.addEventListener("click", function (event) { event.preventDefault(); focusLine(parseInt(a.getAttribute("data-line"), 10)); });
    });
    var smsForm = document.querySelector("[data-sms-url]");
    if (smsForm && window.fetch) {
      // The server counts segments with the same code the sender uses; ask it as the officer types.
      smsForm.querySelectorAll("[data-sms-count]").forEach(function (box) {
        var timer = null, out = document.getElementById(box.getAttribute("data-sms-count"));
        box.addEventListener("input", function () {
          clearTimeout(timer);
          timer = setTimeout(function () {
            var body = new URLSearchParams();
            body.set("text", box.value);
            // A broadcast's box is counted as the whole message residents get (with the STOP line).
            if (box.getAttribute("data-sms-lang")) { body.set("lang", box.getAttribute("data-sms-lang")); }
            body.set("csrf_token", smsForm.querySelector("[name=csrf_token]").value);
            fetch(smsForm.getAttribute("data-sms-url"), { method: "POST", body: body, credentials: "same-origin" })
              .then(function (r) { return r.ok ? r.json() : null; })
              .then(function (info) {
                if (!info || !out) { return; }
                // The words come from the server, in the officer's language.
                out.textContent = info.summary;
              })
              .catch(function () {});
          }, 300);
        });
      });
    }
    var live = document.querySelector("[data-live-url]");
    if (live && window.fetch) {
      // Response counts refresh every 30 seconds while the home page is open.
      setInterval(function () {
        fetch(live.getAttribute("data-live-url"), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (counts) {
            if (!counts) { return; }
            live.querySelectorAll("[data-live-flow]").forEach(function (cell) {
              var c = counts[cell.getAttribute("data-live-flow")];
              if (c) { cell.textContent = String(c[cell.getAttribute("data-live-field")]); }
            });
          })
          .catch(function () {});
      }, 30000);
    }
    // A long upload or import: say what is happening (its words come from the form's data- attributes), show
    // how much of the file has been sent, and stop a second click sending it twice. The form is still sent
    // as a normal form post; the upload's progress is read from an XMLHttpRequest only where one is needed.
    function watchProgress(root) { root.querySelectorAll("form[data-progress]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var box = document.getElementById(form.getAttribute("data-progress"));
        if (!box) { return; }
        box.querySelector(".words").textContent = form.getAttribute("data-progress-words");
        box.hidden = false;
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
        var file = form.querySelector("input[type=file]");
        if (!file || !file.files.length || !window.XMLHttpRequest || !window.DOMParser) { return; }
        event.preventDefault();
        var bar = box.querySelector("progress"), sent = box.querySelector(".sent");
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable) {
            bar.max = e.total; bar.value = e.loaded;
            sent.textContent = Math.round(100 * e.loaded / e.total) + "% " + form.getAttribute("data-progress-sent");
          }
        });
        xhr.upload.addEventListener("load", function () { bar.removeAttribute("value"); });
        xhr.addEventListener("load", function () {
          // The check's report replaces this page's content, as the normal post would have shown it.
          var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
          var now = document.querySelector("main"), next = page.querySelector("main");
          if (now && next) { now.replaceWith(next); document.title = page.title; watchProgress(next); next.focus(); }
          else { form.submit(); }
        });
        xhr.addEventListener("error", function () { form.submit(); });
        xhr.send(new FormData(form));
      });
    }); }
    watchProgress(document);
    var area = document.getElementById("source"), gutter = document.querySelector(".gutter");
    if (area && gutter) {
      area.addEventListener("input", function () {
        var n = area.value.split("\n").length, have = gutter.children.length;
        for (var i = have; i < n; i++) { var li = document.createElement("li"); li.textContent = String(i + 1); gutter.appendChild(li); }
        while (gutter.children.length > n) { gutter.removeChild(gutter.lastChild); }
      });
    }
  });
})();
