// Draw every plotly figure on the page. Each chart is a <div data-figure="ID"> whose figure
// (data + layout, built in Python) sits in <script type="application/json" id="ID">, written by
// Django's json_script filter. No inline scripts: a strict Content-Security-Policy can apply.
(function () {
  "use strict";

  function drawFigures() {
    if (typeof Plotly === "undefined") {
      return;
    }
    document.querySelectorAll("[data-figure]").forEach(function (element) {
      var source = document.getElementById(element.dataset.figure);
      if (!source) {
        return;
      }
      var figure = JSON.parse(source.textContent);
      Plotly.newPlot(element, figure.data || [], figure.layout || {}, {
        responsive: true,
        displaylogo: false,
        modeBarButtonsToRemove: ["sendDataToCloud"],
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawFigures);
  } else {
    drawFigures();
  }
})();
