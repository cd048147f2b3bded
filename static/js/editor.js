// The incident editor: a vendor created inline joins the vendor pickers.
(function () {
  "use strict";
  document.body.addEventListener("vendorCreated", function (event) {
    var vendor = event.detail;
    ["id_vendors", "id_primary_vendor"].forEach(function (id) {
      var select = document.getElementById(id);
      if (!select) { return; }
      var option = new Option(vendor.name, vendor.id, false, id === "id_vendors");
      select.add(option);
    });
    var panel = document.getElementById("new-vendor-panel");
    if (panel) {
      panel.innerHTML = "";
      var note = document.createElement("p");
      note.className = "help";
      note.textContent = "Added " + vendor.name + " to the vendors.";
      panel.appendChild(note);
    }
  });
})();
