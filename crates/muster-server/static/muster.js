// Muster's own behaviour for what htmx does not do declaratively: row selection (with
// shift-click ranges), expanding rows, the preview pane, column ordering and the "Assigned to
// me" toggle. No inline handlers anywhere: the CSP allows only scripts served from here.
(function () {
  "use strict";

  var lastChecked = null;

  function rowChecks() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue-table .row-check"));
  }

  function updateSelection() {
    var checks = rowChecks();
    var chosen = checks.filter(function (c) { return c.checked; });
    checks.forEach(function (c) {
      var row = c.closest("tr");
      if (row) { row.classList.toggle("checked", c.checked); }
    });
    var count = document.getElementById("bulk-count");
    if (count) {
      count.textContent = chosen.length === 0 ? "No incidents selected"
        : chosen.length + (chosen.length === 1 ? " incident selected" : " incidents selected");
    }
    var form = document.getElementById("bulk-form");
    if (form) { form.classList.toggle("active", chosen.length > 0); }
    var all = document.getElementById("select-all");
    if (all) {
      all.checked = checks.length > 0 && chosen.length === checks.length;
      all.indeterminate = chosen.length > 0 && chosen.length < checks.length;
    }
  }

  // Shift-click checks or clears every row between the last one clicked and this one.
  document.addEventListener("click", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.classList.contains("row-check")) { return; }
    var checks = rowChecks();
    if (event.shiftKey && lastChecked && checks.indexOf(lastChecked) >= 0) {
      var from = checks.indexOf(lastChecked);
      var to = checks.indexOf(box);
      var lo = Math.min(from, to);
      var hi = Math.max(from, to);
      for (var i = lo; i <= hi; i++) { checks[i].checked = box.checked; }
    }
    lastChecked = box;
    updateSelection();
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box instanceof HTMLInputElement && box.id === "select-all") {
      rowChecks().forEach(function (c) { c.checked = box.checked; });
      updateSelection();
    }
  });

  // A row's › shows its alerts beneath it; a second click hides them again.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.expand") : null;
    if (!button) { return; }
    var row = button.closest("tr");
    var next = row.nextElementSibling;
    if (next && next.classList.contains("alerts-row")) {
      next.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    button.setAttribute("aria-expanded", "true");
    htmx.ajax("GET", button.dataset.url, { target: row, swap: "afterend" });
  });

  // The circle marks the previewed row; the pane shows once it has content.
  document.addEventListener("click", function (event) {
    var circle = event.target.closest ? event.target.closest("button.circle") : null;
    if (circle) {
      document.querySelectorAll("#queue-table tr.previewed").forEach(function (r) {
        r.classList.remove("previewed");
        var c = r.querySelector("button.circle");
        if (c) { c.setAttribute("aria-pressed", "false"); }
      });
      circle.closest("tr").classList.add("previewed");
      circle.setAttribute("aria-pressed", "true");
    }
    if (event.target.id === "preview-close") {
      var pane = document.getElementById("preview-pane");
      pane.hidden = true;
      pane.innerHTML = "";
      document.querySelectorAll("#queue-table tr.previewed").forEach(function (r) { r.classList.remove("previewed"); });
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "preview-pane") {
      target.hidden = false;
      var main = document.getElementById("queue");
      if (main) { main.classList.add("with-preview"); }
    }
    if (target && target.id === "queue-results") { lastChecked = null; }
    updateSelection();
  });

  // A bulk change that went through leaves the bar empty for the next one.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.id === "bulk-form" && event.detail.successful && event.detail.target &&
        event.detail.target.id === "queue-results") {
      form.reset();
    }
    if (form && form.id === "columns-form" && event.detail.successful) {
      var menu = document.getElementById("columns-menu");
      if (menu) { menu.open = false; }
    }
  });

  // Columns: drag a line to move it, or use its arrows.
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var item = event.target.closest ? event.target.closest(".column-list li") : null;
    if (!item) { return; }
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.key);
  });
  document.addEventListener("dragover", function (event) {
    var over = event.target.closest ? event.target.closest(".column-list li") : null;
    if (!dragged || !over || over === dragged) { return; }
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
  });
  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".column-list button.move") : null;
    if (!button) { return; }
    var item = button.closest("li");
    if (button.classList.contains("up") && item.previousElementSibling) {
      item.parentNode.insertBefore(item, item.previousElementSibling);
    } else if (button.classList.contains("down") && item.nextElementSibling) {
      item.parentNode.insertBefore(item.nextElementSibling, item);
    }
    button.focus();
  });

  // "Assigned to me" is the same choice as the panel's Assigned to: Me, kept in step. Listened
  // for while capturing, so the panel box is set before the change reaches the form (and htmx),
  // and on the document, so it holds after htmx swaps the page on a history restore.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement)) { return; }
    var toggle = document.getElementById("mine-toggle");
    var me = document.querySelector('.filters input[name="assigned"][value="me"]');
    if (!toggle || !me) { return; }
    if (box === toggle) { me.checked = toggle.checked; }
    if (box === me) { toggle.checked = me.checked; }
  }, true);

  document.addEventListener("htmx:historyRestore", updateSelection);
  document.addEventListener("DOMContentLoaded", updateSelection);
})();
