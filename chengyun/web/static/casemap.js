// The case page's map: the case's community with its grids from Chengyun's own polygons, the case as a red dot.
(function () {
  "use strict";
  function init() {
    var el = document.getElementById("case-map");
    if (!el || !window.echarts) { return; }
    var lon = parseFloat(el.dataset.lon), lat = parseFloat(el.dataset.lat);
    fetch("/api/areas/" + encodeURIComponent(el.dataset.area) + "/map", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (fc) { draw(el, fc, lon, lat); })
      .catch(function () { el.dataset.state = "unavailable"; el.textContent = el.dataset.unavailable; });
  }

  function draw(el, fc, lon, lat) {
    var children = fc.features.filter(function (f) { return f.properties.role === "child"; });
    var shown = children.length ? children : fc.features;
    var name = "case-area-" + el.dataset.area;
    echarts.registerMap(name, { type: "FeatureCollection", features: shown.map(function (f) {
      return { type: "Feature", properties: { name: f.properties.code }, geometry: f.geometry };
    }) });
    var labels = {};
    shown.forEach(function (f) { labels[f.properties.code] = f.properties.name; });
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      geo: {
        map: name, roam: true, aspectScale: 0.86, selectedMode: false,
        label: { show: true, fontSize: 10, color: "#4a5d73", formatter: function (p) { return labels[p.name] || ""; } },
        itemStyle: { areaColor: "#eef3f9", borderColor: "#2a6fb0", borderWidth: 1 },
        emphasis: { itemStyle: { areaColor: "#ffd58a" } },
        regions: el.dataset.highlight ? [{ name: el.dataset.highlight, itemStyle: { areaColor: "#ffe7ba" } }] : []
      },
      series: isNaN(lon) ? [] : [{ type: "effectScatter", coordinateSystem: "geo", data: [[lon, lat]],
                                  symbolSize: 12, itemStyle: { color: "#d9363e" }, zlevel: 1 }]
    });
    // setOption draws at once; "finished" never fires here because the dot's ripple animates for ever
    el.dataset.state = "ready";
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
