/* One distributor's charts: rows and amount per period and table, drawn with the vendored Chart.js from the
   data the page passes with json_script. A period flagged as a volume drop gets a larger red triangle. */
(function () {
  "use strict";
  var COLOURS = ["#2454c5", "#1d7a46", "#8a5a00", "#6d28d9", "#0e7490", "#be185d"];
  var DROP = "#b42318";

  function dataset(table, index, values, drops) {
    var colour = COLOURS[index % COLOURS.length];
    return {
      label: table,
      data: values,
      borderColor: colour,
      backgroundColor: colour,
      spanGaps: false,
      tension: 0,
      pointStyle: drops.map(function (d) { return d ? "triangle" : "circle"; }),
      pointRadius: drops.map(function (d) { return d ? 9 : 3; }),
      pointBackgroundColor: drops.map(function (d) { return d ? DROP : colour; }),
      pointBorderColor: drops.map(function (d) { return d ? DROP : colour; }),
      drops: drops
    };
  }

  function draw(canvas, periods, datasets) {
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: periods, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true } },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              afterLabel: function (item) {
                return item.dataset.drops[item.dataIndex] ? "volume drop" : "";
              }
            }
          }
        }
      }
    });
  }

  function start() {
    var source = document.getElementById("compliance-chart-data");
    if (!source || !window.Chart) { return; }
    var data = JSON.parse(source.textContent);
    var charts = {};
    var rows = document.getElementById("rows-chart");
    if (rows) {
      charts.rows = draw(rows, data.periods, data.tables.map(function (t, i) {
        return dataset(t.table, i, t.rows, t.rows_drop);
      }));
    }
    var amount = document.getElementById("amount-chart");
    if (amount) {
      var withAmounts = data.tables.filter(function (t) {
        return t.amounts.some(function (a) { return a !== null; });
      });
      charts.amount = draw(amount, data.periods, withAmounts.map(function (t) {
        var i = data.tables.indexOf(t);
        return dataset(t.table, i, t.amounts.map(function (a) { return a === null ? null : Number(a); }), t.amount_drop);
      }));
    }
    window.complianceCharts = charts;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
