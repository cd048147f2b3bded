// Small progressive enhancements. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  // Every time is shown in the viewer's zone; the UTC button swaps them all.
  function applyUtc(on) {
    document.body.classList.toggle("show-utc", on);
    document.querySelectorAll("[data-toggle-utc]").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    applyUtc(localStorage.getItem("hindsight-utc") === "1");
    document.querySelectorAll("[data-toggle-utc]").forEach(function (button) {
      button.addEventListener("click", function () {
        var on = !document.body.classList.contains("show-utc");
        localStorage.setItem("hindsight-utc", on ? "1" : "0");
        applyUtc(on);
      });
    });
  });

  // Buttons that ask before acting: <button data-confirm="Delete this event?">.
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
