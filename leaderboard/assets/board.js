// mer-zoo leaderboard: sort by a column, filter rows, pick a benchmark. No server, no fetch.
(function () {
  "use strict";
  var filter = document.getElementById("filter");
  var benchmark = document.getElementById("benchmark");
  var publishedOnly = document.getElementById("published-only");
  var shown = document.getElementById("shown");

  function apply() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    document.querySelectorAll("section.benchmark").forEach(function (section) {
      section.hidden = Boolean(benchmark.value) && section.dataset.benchmark !== benchmark.value;
      section.querySelectorAll("tbody tr").forEach(function (row) {
        var text = row.textContent.toLowerCase();
        var visible = !section.hidden &&
          words.every(function (word) { return text.indexOf(word) >= 0; }) &&
          (publishedOnly.checked || row.dataset.kind !== "published");
        row.hidden = !visible;
        count += visible ? 1 : 0;
      });
    });
    shown.textContent = count + (count === 1 ? " row" : " rows") + " shown";
  }

  // Numbers sort best (highest) first on the first click, text A to Z; a second click reverses.
  // Cells without a value (published-only rows, missing figures) stay last either way.
  function sortBy(header) {
    var table = header.closest("table");
    var column = Array.prototype.indexOf.call(header.parentNode.children, header);
    var numeric = header.dataset.type === "number";
    var current = header.getAttribute("aria-sort");
    var descending = current ? current === "ascending" : numeric;
    table.querySelectorAll("thead th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[column];
      var value = cell.dataset.value;
      if (value === undefined || value === "") { return null; }
      return numeric ? parseFloat(value) : value.toLowerCase();
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null || y === null) { return (x === null) - (y === null); }
      var order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.querySelectorAll("thead th button").forEach(function (button) {
    button.addEventListener("click", function () { sortBy(button.parentNode); });
  });
  [filter, benchmark, publishedOnly].forEach(function (control) {
    control.addEventListener("input", apply);
    control.addEventListener("change", apply);
  });
  apply();
})();
