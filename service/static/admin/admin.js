// lbp-cds admin page: draws the report's charts with Chart.js from the JSON the page carries.
// A static file because the page's Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var source = document.getElementById("lbp-report");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var labels = data.labels;
  var colours = { accepted: "#2e7d32", overridden: "#c62828", no_feedback: "#9e9e9e", rate: "#1565c0" };
  Chart.defaults.animation = false; // figures for reading, not a show; and the page is drawn at once

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false }, config.options || {});
    canvas.chart = new Chart(canvas, config);
    canvas.setAttribute("data-drawn", "true");
  }

  draw("chart_outcomes", {
    type: "bar",
    data: {
      labels: data.rules.map(function (r) { return r.label; }),
      datasets: ["accepted", "overridden", "no_feedback"].map(function (key) {
        return { label: labels[key], backgroundColor: colours[key],
                 data: data.rules.map(function (r) { return r[key]; }) };
      })
    },
    options: { indexAxis: "y", scales: { x: { stacked: true, ticks: { precision: 0 } }, y: { stacked: true } } }
  });

  draw("chart_rate", {
    type: "line",
    data: {
      labels: data.weeks.map(function (w) { return w.week; }),
      datasets: [{ label: labels.rate, borderColor: colours.rate, backgroundColor: colours.rate, spanGaps: true,
                   data: data.weeks.map(function (w) { return w.rate === null ? null : Math.round(w.rate * 100); }) }]
    },
    options: { scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } } } }
  });

  draw("chart_reasons", {
    type: "bar",
    data: {
      labels: data.reasons.map(function (r) { return r.label; }),
      datasets: [{ label: labels.count, backgroundColor: colours.overridden,
                   data: data.reasons.map(function (r) { return r.count; }) }]
    },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { ticks: { precision: 0 } } } }
  });
})();
