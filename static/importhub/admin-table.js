/* The admin's table page: show only the options of each column row's type, as the type select changes.
   Without this file the page shows the options of each row's saved type, and the others are ignored on save. */
(function () {
  "use strict";

  function rowUpdate(select) {
    var row = select.closest("tr");
    if (!row) return;
    row.querySelectorAll("[data-for-types]").forEach(function (node) {
      if (node.tagName === "INPUT" || node.tagName === "SELECT") return;
      var fits = node.getAttribute("data-for-types").split(" ").indexOf(select.value) !== -1;
      node.hidden = !fits;
    });
  }

  function isTypeSelect(node) {
    return node && node.tagName === "SELECT" && /-data_type$/.test(node.name || "");
  }

  document.addEventListener("change", function (event) {
    if (isTypeSelect(event.target)) rowUpdate(event.target);
  });

  function all() {
    document.querySelectorAll(".column-rows select").forEach(function (select) {
      if (isTypeSelect(select)) rowUpdate(select);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
  // A row added with "Add another" is a copy of the empty row: set it up too.
  document.addEventListener("formset:added", function (event) {
    var select = event.target.querySelector("select[name$='-data_type']");
    if (select) rowUpdate(select);
  });
})();
