// Area browser map: draws the selected area and its children from Chengyun's own polygons (no tiles).
(function () {
  "use strict";
  function init() {
    var el = document.getElementById("area-map");
    if (!el || !window.echarts) { return; }
    var code = el.dataset.code;
    var chart = echarts.init(el, null, { renderer: "canvas" });
    window.addEventListener("resize", function () { chart.resize(); });
    fetch("/api/areas/" + encodeURIComponent(code) + "/map", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (fc) { draw(chart, el, code, fc); })
      .catch(function (err) { el.dataset.state = "error"; el.textContent = String(err); });
  }

  function draw(chart, el, code, fc) {
    var children = fc.features.filter(function (f) { return f.properties.role === "child"; });
    var shown = children.length ? children : fc.features;
    var mapName = "area-" + code;
    echarts.registerMap(mapName, { type: "FeatureCollection", features: shown.map(function (f) {
      return { type: "Feature", properties: { name: f.properties.code }, geometry: f.geometry };
    }) });
    var names = {};
    shown.forEach(function (f) { names[f.properties.code] = f.properties.name; });
    // registered before setOption: the first frame may finish before a later registration
    chart.on("finished", function () { el.dataset.state = "ready"; el.dataset.features = String(shown.length); });
    chart.setOption({
      tooltip: { formatter: function (p) { return (names[p.name] || p.name) + "<br>" + p.name; } },
      series: [{
        type: "map", map: mapName, roam: true, selectedMode: false, aspectScale: 0.86,
        label: { show: shown.length <= 40, formatter: function (p) { return names[p.name] || ""; },
                 fontSize: 11, color: "#18324d" },
        itemStyle: { areaColor: "#e4eef8", borderColor: "#2a6fb0", borderWidth: 1 },
        emphasis: { itemStyle: { areaColor: "#ffd58a" }, label: { show: true } },
        data: shown.map(function (f) { return { name: f.properties.code }; })
      }]
    });
    chart.on("click", function (p) {
      if (children.length && p.name && p.name !== code) { window.location = "/areas?code=" + p.name; }
    });
    chart.getZr().on("click", function (e) {
      if (e.target) { return; }
      var lonlat = chart.convertFromPixel({ seriesIndex: 0 }, [e.offsetX, e.offsetY]);
      if (!lonlat) { return; }
      document.getElementById("where-lon").value = lonlat[0].toFixed(6);
      document.getElementById("where-lat").value = lonlat[1].toFixed(6);
      htmx.trigger("#where-form", "submit");
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
