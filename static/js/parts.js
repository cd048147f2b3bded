// The in-place editors of the incident edit page: the category picker's definition and keyboard
// focus after htmx swaps. No inline scripts (the CSP forbids them); everything is delegated, so
// fragments swapped in later work without re-running this file.
(function () {
  "use strict";
  // Each editor includes this file; run once however many times it is included.
  if (window.hindsightParts) { return; }
  window.hindsightParts = true;

  // Show the chosen category's definition and typical role, read from its <option>.
  function showDefinition(select) {
    var hint = document.getElementById(select.getAttribute("data-definition-target"));
    if (!hint) { return; }
    var option = select.options[select.selectedIndex];
    var definition = option ? option.getAttribute("data-definition") : null;
    var role = option ? option.getAttribute("data-typical-role") : null;
    hint.querySelector("[data-definition-text]").textContent =
      definition || hint.getAttribute("data-empty-text");
    hint.querySelector("[data-typical-role-text]").textContent =
      definition && role ? "Typical role: " + role.toLowerCase() : "";
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-category-picker]")) { showDefinition(event.target); }
  });

  // After a swap, keep the keyboard where the person is working: the first field in error,
  // else the first field of an inline edit form just opened, else the row's Edit link (after
  // Cancel), else the "saved" notice.
  function focusTarget(root) {
    var invalid = root.querySelector("[aria-invalid='true']");
    if (invalid) { return invalid; }
    var form = root.matches("[data-parts-focus]") ? root : root.querySelector("[data-parts-focus]");
    if (form) { return form.querySelector("input:not([type=hidden]), select, textarea"); }
    if (root.matches(".parts-row")) { return root.querySelector("[data-parts-edit]"); }
    return root.querySelector("[data-parts-notice]");
  }

  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    // Only content htmx swapped into an editor, not the page's first load.
    if (root === document.body || !root.closest("[data-parts-editor]")) { return; }
    var target = focusTarget(root);
    if (target) { target.focus(); }
  });
})();
