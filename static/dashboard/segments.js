// The segment builder: ask the server for the segment's size as the officer ticks (the "Count residents" button does it without script).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("segment-form"), out = document.getElementById("segment-size");
    if (!form || !out || !window.fetch) { return; }
    var timer = null, asked = 0;
    function count() {
      var body = new URLSearchParams(new FormData(form)), mine = ++asked;
      body.delete("action");
      fetch(form.getAttribute("data-count-url"), { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (info) {
          if (mine !== asked) { return; }  // an older answer arriving late
          out.textContent = info.error || info.label;
          out.setAttribute("data-size", info.error ? "" : String(info.size));
        })
        .catch(function () {});
    }
    function later() { clearTimeout(timer); timer = setTimeout(count, 250); }
    form.addEventListener("change", later);
    form.addEventListener("input", function (event) { if (event.target.name === "not_contacted_days") { later(); } });
    count();
  });
})();
