// Makes the chat live when JavaScript is on; without it the same forms post and redirect.
(function () {
  "use strict";
  var log = document.getElementById("messages");
  var area = document.getElementById("answer-area");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  if (!log || !area || !window.fetch || !csrf) { return; }
  var lastId = parseInt(log.getAttribute("data-last-id") || "0", 10);
  var busy = false;

  function newId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (window.crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  function apply(state, keepFocus) {
    // The resident's own message, then the council's: both as the server renders them (escaped there),
    // so the "You said:" label, lang and dir are the same as after a reload.
    if (state.own_html) { log.insertAdjacentHTML("beforeend", state.own_html); }
    if (state.messages_html) { log.insertAdjacentHTML("beforeend", state.messages_html); }
    if (typeof state.last_id === "number" && state.last_id > lastId) { lastId = state.last_id; }
    if (state.form_html !== undefined) {
      var typing = area.querySelector("textarea");
      var draft = keepFocus || !typing ? "" : typing.value;
      area.innerHTML = state.form_html;
      var fresh = area.querySelector("textarea");
      if (fresh && draft) { fresh.value = draft; }
      bind();
      if (keepFocus) {
        var first = area.querySelector("button.choice, textarea");
        if (first) { first.focus(); }
      }
    }
  }

  // Fall back to the plain post, keeping which button was pressed (form.submit() would drop it).
  function plainPost(form, submitter) {
    if (submitter && submitter.name) {
      var pressed = document.createElement("input");
      pressed.type = "hidden"; pressed.name = submitter.name; pressed.value = submitter.value;
      form.appendChild(pressed);
    }
    form.submit();
  }

  function send(form, submitter) {
    var data = new FormData(form);
    var body = {message_id: data.get("message_id"), after: lastId};
    var shown = "";
    if (submitter && submitter.name === "choice") {
      body.choice = submitter.value; shown = submitter.textContent.trim();
    } else if (submitter && submitter.name === "skip") {
      body.skip = "1"; shown = submitter.textContent.trim();
    } else {
      var picks = data.getAll("choices");
      if (picks.length) {
        body.choices = picks;
        shown = Array.prototype.map.call(form.querySelectorAll('input[name="choices"]:checked'), function (box) {
          var label = form.querySelector('label[for="' + box.id + '"]');
          return label ? label.textContent.trim() : box.value;
        }).join(", ");
      } else {
        body.text = (data.get("text") || "").trim();
        shown = body.text;
      }
    }
    if (!shown || busy) { return; }
    busy = true;
    fetch(form.getAttribute("data-api"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf.getAttribute("content")},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (json) { return {ok: response.ok, json: json}; });
    }).then(function (result) {
      busy = false;
      if (!result.ok) { plainPost(form, submitter); return; }  // let the server show the error the plain way
      apply(result.json, true);
    }).catch(function () { busy = false; plainPost(form, submitter); });
  }

  function bind() {
    var form = document.getElementById("answer");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(form, event.submitter);
    });
  }

  function poll() {
    if (document.hidden || busy) { return; }
    fetch(log.getAttribute("data-api") + (log.getAttribute("data-api").indexOf("?") < 0 ? "?" : "&") + "after=" + lastId,
          {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && state.messages && state.messages.length) { apply(state, false); }
      }).catch(function () {});
  }

  bind();
  window.setInterval(poll, 15000);
})();
