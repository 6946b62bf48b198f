"use strict";
// Draws the charts a report page describes in its JSON payload (one Chart.js config per
// canvas id). Chart.js comes from the npm package the gateway serves, so pages work offline.
// body[data-charts-drawn] tells a reader (and the browser test) how many charts were drawn.
window.addEventListener("DOMContentLoaded", () => {
  const configs = JSON.parse(document.getElementById("charts").textContent);
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', sans-serif";
  let drawn = 0;
  for (const [id, config] of Object.entries(configs)) {
    new Chart(document.getElementById(id), config);
    drawn += 1;
  }
  document.body.dataset.chartsDrawn = String(drawn);
});
