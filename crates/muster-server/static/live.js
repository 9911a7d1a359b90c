// Live updates: listens to Muster's change feed and turns each change into DOM events on
// document.body, which htmx elements name in their triggers (hx-trigger="muster:incident-42 from:body").
// Started by any element carrying data-events="<feed URL>". No inline script: CSP forbids it.
(function () {
  "use strict";
  var source = document.querySelector("[data-events]");
  if (!source || !window.EventSource) {
    return;
  }
  function fire(name, detail) {
    document.body.dispatchEvent(new CustomEvent(name, { detail: detail, bubbles: true }));
  }
  function connect() {
    var events = new EventSource(source.getAttribute("data-events"));
    events.addEventListener("incident", function (message) {
      var change;
      try {
        change = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      fire("muster:incident", change);
      fire("muster:incident-" + change.incidentId, change);
      if (change.kind === "created") {
        fire("muster:created", change);
      }
    });
    // Some changes were missed: everything shown may be out of date.
    events.addEventListener("lagged", function () {
      fire("muster:created", {});
      document.querySelectorAll("[hx-trigger*='muster:incident-']").forEach(function (el) {
        var match = /muster:incident-(\d+)/.exec(el.getAttribute("hx-trigger"));
        if (match) {
          fire("muster:incident-" + match[1], {});
        }
      });
    });
    events.onopen = function () {
      source.setAttribute("data-live", "open");
    };
    events.onerror = function () {
      source.setAttribute("data-live", "reconnecting");
    };
  }
  connect();
})();
