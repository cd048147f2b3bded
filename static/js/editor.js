// The incident editor: a vendor created in the dialog joins the vendor pickers.
(function () {
  "use strict";

  function dialog() { return document.getElementById("new-vendor-dialog"); }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    var d = dialog();
    // Open for the form; the created vendor's <option> arrives after the
    // vendorCreated event has already closed the dialog.
    var target = event.detail.target;
    if (d && target.id === "new-vendor-body" && target.querySelector("form") && !d.open) {
      d.showModal();
      var first = d.querySelector("input, select, textarea");
      if (first) { first.focus(); }
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-dialog]") && dialog()) { dialog().close(); }
  });

  document.body.addEventListener("vendorCreated", function (event) {
    var vendor = event.detail;
    ["id_vendors", "id_primary_vendor"].forEach(function (id) {
      var select = document.getElementById(id);
      if (select) { select.add(new Option(vendor.name, vendor.id, false, id === "id_vendors")); }
    });
    var note = document.getElementById("new-vendor-note");
    if (note) { note.textContent = "Added " + vendor.name + " to the vendors."; }
    if (dialog()) { dialog().close(); }
  });
})();
