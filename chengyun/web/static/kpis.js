// The KPI page's daily trend: cases reported and closed per day (ECharts, vendored; no network).
(function () {
  "use strict";
  function draw() {
    var box = document.getElementById("kpi-trend");
    var raw = document.getElementById("kpi-trend-data");
    if (!box || !raw || !window.echarts) { return; }
    var data = JSON.parse(raw.textContent);
    var chart = window.echarts.init(box);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [box.dataset.labelCases, box.dataset.labelClosed] },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: box.dataset.labelCases, type: "bar", barMaxWidth: 28, data: data.cases, itemStyle: { color: "#2f6fb3" } },
        { name: box.dataset.labelClosed, type: "line", data: data.closed, itemStyle: { color: "#2e9d5b" } }
      ]
    });
    box.dataset.ready = "1";
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
