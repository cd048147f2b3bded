// The triage queue from the keyboard: j/k move, a accepts the ticked labels, e edits,
// x rejects, 1–9 tick or untick a suggestion. Rows are swapped in place by htmx.
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#triage-list > .triage-row"));
  }

  var currentId = null;

  // The current row; a row swapped in by htmx replaces it under the same id.
  function current() {
    var row = document.querySelector("#triage-list > .triage-row.is-current");
    if (!row && currentId) {
      row = document.getElementById(currentId);
      if (row) row.classList.add("is-current");
    }
    return row;
  }

  function select(row) {
    if (!row) return;
    var was = current();
    if (was) was.classList.remove("is-current");
    row.classList.add("is-current");
    currentId = row.id;
    row.setAttribute("aria-current", "true");
    if (was && was !== row) was.removeAttribute("aria-current");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    var at = all.indexOf(current());
    select(all[Math.min(all.length - 1, Math.max(0, at + step))]);
  }

  function nextPending(after) {
    var all = rows();
    for (var i = all.indexOf(after) + 1; i < all.length; i++) {
      if (!all[i].classList.contains("is-done")) return all[i];
    }
    return null;
  }

  // Accepting or rejecting moves straight on to the next row; the answered row is
  // swapped in place by htmx when the server has written it (with its error, if any).
  function act(row, action) {
    var control = row && row.querySelector('[data-action="' + action + '"]');
    if (!control) return;
    control.click();  // (its click also marks this row current: move on after it)
    if (action !== "edit") select(nextPending(row) || row);
  }

  function toggle(row, n) {
    var boxes = row ? row.querySelectorAll('input[name="label"]') : [];
    if (boxes[n - 1]) boxes[n - 1].checked = !boxes[n - 1].checked;
  }

  document.addEventListener("keydown", function (event) {
    if (!document.getElementById("triage-list")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" && event.target.type !== "checkbox") return;
    if (tag === "textarea" || tag === "select") return;
    var row = current();
    var key = event.key;
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (key === "a") act(row, "accept");
    else if (key === "x") act(row, "reject");
    else if (key === "e") act(row, "edit");
    else if (/^[1-9]$/.test(key)) toggle(row, parseInt(key, 10));
    else return;
    event.preventDefault();
  });

  // A row swapped in while it was the current one stays current.
  document.addEventListener("htmx:afterSwap", function (event) {
    var row = event.detail.target;
    if (row && row.id && !current()) select(document.getElementById(row.id));
  });

  document.addEventListener("DOMContentLoaded", function () {
    var first = rows()[0];
    if (first) select(first);
    document.addEventListener("click", function (event) {
      var row = event.target.closest && event.target.closest("#triage-list > .triage-row");
      if (row) select(row);
    });
  });
})();
