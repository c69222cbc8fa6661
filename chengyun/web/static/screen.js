// The big screen (一屏全观): panels and map layers drawn from their server-side descriptions — one component per
// kind — with ECharts (vendored) on Chengyun's own area polygons, kept live by server-sent events.
(function () {
  "use strict";
  var C = JSON.parse(document.getElementById("screen-config").textContent);
  var W = C.words;
  var state = {
    focus: C.focus, charts: {}, map: null, mapName: null, layers: {}, index: {}, layerOn: {}, seen: {}, feed: [],
    cursor: C.cursor, source: null, pending: {}, timers: [], loaded: {}, ready: false
  };
  // what a test or benchmark reads: when the screen was ready, and when each live event arrived (page clock)
  var probe = window.__screen = { ready: false, readyMs: null, events: [], focus: C.focus.code,
    layerSizes: function () {  // points drawn per layer (a bucket is one point)
      var out = {};
      Object.keys(state.layers).forEach(function (k) { out[k] = state.layerOn[k] ? state.layers[k].length : 0; });
      return out;
    } };
  var INK = "#c8d7f0", MUTED = "#7f95b8", GRID = "rgba(64,158,255,0.15)";
  var COLOURS = ["#3ea6ff", "#36cfc9", "#fadb14", "#ff7a45", "#9254de", "#73d13d", "#f759ab", "#597ef7"];

  function $(sel, root) { return (root || document).querySelector(sel); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { window.location = "/login"; throw new Error("401"); }
      if (!r.ok) { throw new Error("HTTP " + r.status + " " + url); }
      return r.json();
    });
  }
  function areaParam() { return "area=" + encodeURIComponent(state.focus.code) + "&lang=" + C.locale; }
  function inFocus(path) { return !path || path.indexOf("/" + state.focus.code + "/") >= 0; }

  // --- one component per panel kind ---------------------------------------------------------------------
  function fmt(value, format) {
    if (value === null || value === undefined) { return "—"; }
    if (format === "percent") { return (value * 100).toFixed(1) + "%"; }
    if (format === "hours") { return value.toFixed(1); }
    return String(Math.round(value));
  }
  function chartFor(box) {
    var id = box.parentNode.dataset.panel;
    if (!state.charts[id]) {
      state.charts[id] = echarts.init(box, null, { renderer: "canvas" });
    }
    return state.charts[id];
  }
  var AXIS = { axisLine: { lineStyle: { color: GRID } }, axisLabel: { color: MUTED }, splitLine: { lineStyle: { color: GRID } } };

  var KINDS = {
    number: function (desc, data, node) {
      var v = $(".v", node);
      v.textContent = fmt(data.value, desc.format);
      if (desc.format === "hours" && data.value !== null) { v.appendChild(el("small", "", W["screen.unit.hours"])); }
      node.classList.toggle("alert", desc.id === "overdue" && data.value > 0);
      node.dataset.value = data.value === null ? "" : String(data.value);
    },
    pie: function (desc, data, node) {
      var box = $(".sc-box", node), chart = chartFor(box);
      var items = data.items.filter(function (i) { return i.value; });
      var values = {};
      items.forEach(function (i) { values[i.label] = i.value; });
      box.classList.toggle("empty", !items.length);
      box.dataset.empty = W["screen.no_data"];
      chart.setOption({
        color: COLOURS, tooltip: { trigger: "item", formatter: function (p) {
          return p.name + "：" + fmt(p.value, desc.format) + (desc.format === "percent" ? "" : "（" + p.percent + "%）"); } },
        legend: { orient: "vertical", right: 8, top: "middle", itemWidth: 10, itemHeight: 10, itemGap: 12,
          textStyle: { color: INK, fontSize: 14, rich: { v: { color: "#7fe3ff", fontSize: 15, fontWeight: "bold",
            padding: [0, 0, 0, 8] } } },
          formatter: function (name) { return name + "{v|" + fmt(values[name], desc.format) + "}"; } },
        series: [{ type: "pie", radius: ["46%", "74%"], center: ["32%", "52%"], avoidLabelOverlap: true,
          showEmptyCircle: false, label: { show: false },
          itemStyle: { borderColor: "#061632", borderWidth: 2 },
          data: items.map(function (i) { return { name: i.label, value: i.value }; }) }]
      }, true);
      box.dataset.total = String(data.items.reduce(function (s, i) { return s + (i.value || 0); }, 0));
    },
    bar: function (desc, data, node) {
      var box = $(".sc-box", node), chart = chartFor(box);
      if (data.series) { return KINDS.line(desc, data, node, "bar"); }
      box.classList.toggle("empty", !data.items.length);
      box.dataset.empty = W["screen.no_data"];
      var items = data.items.slice().reverse();
      chart.setOption({
        grid: { left: 8, right: 36, top: 6, bottom: 6, containLabel: true }, tooltip: { trigger: "axis" },
        xAxis: Object.assign({ type: "value", minInterval: 1 }, AXIS),
        yAxis: Object.assign({ type: "category", data: items.map(function (i) { return i.label; }) }, AXIS,
          { axisLabel: { color: INK, fontSize: 13, width: 110, overflow: "truncate" } }),
        series: [{ type: "bar", barMaxWidth: 16, data: items.map(function (i) { return i.value; }),
          label: { show: true, position: "right", color: INK },
          itemStyle: { borderRadius: [0, 3, 3, 0], color: new echarts.graphic.LinearGradient(0, 0, 1, 0,
            [{ offset: 0, color: "#1d5fbf" }, { offset: 1, color: "#3ee0ff" }]) } }]
      }, true);
    },
    line: function (desc, data, node, type) {
      var chart = chartFor($(".sc-box", node));
      chart.setOption({
        color: ["#3ea6ff", "#36cfc9"], tooltip: { trigger: "axis" },
        legend: { top: 0, right: 0, textStyle: { color: INK }, itemWidth: 12, itemHeight: 8 },
        grid: { left: 8, right: 12, top: 28, bottom: 4, containLabel: true },
        xAxis: Object.assign({ type: "category", data: data.x.map(function (d) { return d.slice(5); }) }, AXIS),
        yAxis: Object.assign({ type: "value", minInterval: 1 }, AXIS),
        series: data.series.map(function (s) {
          return { name: s.label, type: type || "line", data: s.values, smooth: 0.25, barMaxWidth: 18, symbolSize: 5,
            areaStyle: type ? undefined : { opacity: 0.12 } };
        })
      }, true);
    },
    table: function (desc, data, node) {
      var box = $(".sc-box", node);
      box.textContent = "";
      if (!data.rows.length) { box.appendChild(el("p", "", W["screen.hot.empty"])); return; }
      var table = el("table", "sc-hot");
      var head = el("tr");
      [W["screen.hot.title"] || "", W["screen.hot.place"] || "", W["screen.hot.count"]].forEach(function (h) {
        head.appendChild(el("th", "", h)); });
      table.appendChild(head);
      data.rows.forEach(function (r, i) {
        var tr = el("tr"), td = el("td");
        td.appendChild(el("span", "rank", i + 1));
        var a = el("a", "t", r.title);
        a.href = "/cases/" + encodeURIComponent(r.cases[r.cases.length - 1]);
        a.target = "_blank";
        td.appendChild(a);
        tr.appendChild(td);
        tr.appendChild(el("td", "", r.place));
        tr.appendChild(el("td", "n", r.count));
        table.appendChild(tr);
      });
      box.appendChild(table);
    },
    feed: function (desc, data, node) {
      state.feed = [];
      data.events.slice().reverse().forEach(function (e) { state.seen[e.key] = true; state.feed.unshift(e); });
      drawFeed(node, {});
    }
  };

  function drawFeed(node, fresh) {
    var box = $(".sc-box", node || $("[data-panel=feed]"));
    box.textContent = "";
    var list = el("ul", "sc-feed-list");
    list.dataset.testid = "feed-list";
    var shown = state.feed.filter(function (e) { return inFocus(e.area_path); }).slice(0, 30);
    if (!shown.length) { box.appendChild(el("p", "", W["screen.feed.empty"])); return; }
    shown.forEach(function (e) {
      var li = el("li", fresh[e.key] ? "fresh" : "");
      li.dataset.key = e.key;
      li.dataset.number = e.number;
      li.appendChild(el("span", "tm", e.time));
      li.appendChild(el("span", "act " + (e.action || "new"), e.action_label));
      var what = el("span", "what");
      var a = el("a", "", e.title || e.number);
      a.href = e.link; a.target = "_blank"; a.title = e.number;
      what.appendChild(a);
      what.appendChild(el("small", "", e.community));
      li.appendChild(what);
      li.title = e.title + " · " + e.state_label;
      list.appendChild(li);
    });
    box.appendChild(list);
  }

  function renderPanel(desc, data) {
    var node = document.querySelector("[data-panel='" + desc.id + "']");
    if (!node || !data) { return; }
    KINDS[desc.kind](desc, data, node);
    node.dataset.ready = "1";
  }

  // panels are fetched per source, so one slow source (hot issues) never holds back the others
  function sources() {
    var by = {};
    C.panels.forEach(function (p) { (by[p.source] = by[p.source] || []).push(p); });
    return by;
  }
  var SOURCES = sources();
  function loadSource(name) {
    var descs = SOURCES[name];
    var ids = descs.map(function (p) { return p.id; }).join(",");
    var focus = state.focus.code;
    return getJSON("/api/screen/panels?" + areaParam() + "&ids=" + ids).then(function (body) {
      if (focus !== state.focus.code) { return; }
      descs.forEach(function (p) { renderPanel(p, body.panels[p.id]); });
      state.loaded[name] = true;
    });
  }
  function loadPanels() {
    return Promise.all(Object.keys(SOURCES).map(function (name) {
      return loadSource(name).catch(function (err) { console.error(err); });
    }));
  }
  // after live events: the panels that follow cases are asked again, at most every 3 s
  function panelsChanged() {
    if (state.pending.timer) { return; }
    state.pending.timer = setTimeout(function () {
      state.pending.timer = null;
      Object.keys(SOURCES).forEach(function (name) {
        if (SOURCES[name].some(function (p) { return p.on_events; })) { loadSource(name).catch(function () {}); }
      });
    }, 3000);
  }
  function schedule() {
    state.timers.forEach(clearInterval);
    state.timers = [];
    Object.keys(SOURCES).forEach(function (name) {
      var every = SOURCES[name].map(function (p) { return p.every_s; }).filter(Boolean);
      if (every.length) {
        state.timers.push(setInterval(function () { loadSource(name).catch(function () {}); },
          Math.min.apply(null, every) * 1000));
      }
    });
    C.layers.forEach(function (lay) {
      if (lay.every_s) {
        state.timers.push(setInterval(function () { if (state.layerOn[lay.id]) { loadLayer(lay); } }, lay.every_s * 1000));
      }
    });
  }

  // --- the map: regions (click to drill), outlines, and one series per layer ---------------------------
  // the map is the screen's backbone: a failed load (a server restarting) is tried again until it comes
  function loadMap(attempt) {
    return getJSON("/api/screen/map?" + areaParam()).then(function (m) {
      state.mapName = "screen-" + m.focus.code;
      echarts.registerMap(state.mapName, m.regions);
      state.mapData = m;
      drawCrumbs(m.focus);
      drawMap();
    }, function (err) {
      console.error(err);
      var wait = Math.min(30000, 1000 * Math.pow(2, attempt || 0));
      return new Promise(function (resolve) { setTimeout(resolve, wait); }).then(function () {
        return loadMap((attempt || 0) + 1);
      });
    });
  }
  function layerSeries(lay) {
    var rows = (state.layers[lay.id] || []).filter(function () { return state.layerOn[lay.id]; });
    var large = rows.length > 3000;
    return {
      id: "layer-" + lay.id, name: lay.title, type: lay.pulse ? "effectScatter" : "scatter", coordinateSystem: "geo",
      symbol: lay.symbol, symbolSize: function (v) { return v[7] ? bucketSize(v[7]) : lay.size + (lay.pulse ? v[5] * 3 : 0); },
      large: large && !lay.pulse, largeThreshold: 3000, zlevel: 2, progressive: 4000,
      rippleEffect: lay.pulse ? { brushType: "stroke", scale: 4, period: 2.5, number: 3 } : undefined,
      itemStyle: { color: function (p) { return lay.palette[p.data[4]] || "#fff"; }, opacity: 0.92,
        shadowBlur: large ? 0 : 6, shadowColor: "rgba(0,0,0,0.5)", borderColor: "rgba(255,255,255,0.65)",
        borderWidth: large ? 0 : 0.6 },
      data: rows
    };
  }
  // a bucket (an area's devices counted as one point) grows with the square root of its count
  function bucketSize(count) { return Math.min(36, 8 + Math.sqrt(count) * 0.5); }
  function layerTotal(rows) { return rows.reduce(function (n, r) { return n + (r[7] || 1); }, 0); }
  function drawMap() {
    var m = state.mapData;
    if (!m) { return; }
    if (!state.map) {
      state.map = echarts.init($("#sc-map"), null, { renderer: "canvas" });
      state.map.on("click", onMapClick);
      if (C.tiles) { state.map.on("georoam", function () { requestAnimationFrame(drawTiles); }); }
    }
    var names = {};
    m.regions.features.forEach(function (f) { names[f.properties.name] = f.properties.label; });
    state.regionNames = names;
    var series = [
      { id: "outlines", type: "lines", coordinateSystem: "geo", polyline: true, silent: true, zlevel: 1,
        lineStyle: { color: "rgba(120,190,255,0.32)", width: 0.7 }, data: m.outlines.map(function (r) { return { coords: r }; }) },
      { id: "boundary", type: "lines", coordinateSystem: "geo", polyline: true, silent: true, zlevel: 1,
        lineStyle: { color: "#5ad8ff", width: 2.2, shadowBlur: 12, shadowColor: "#3ea6ff" },
        data: m.boundary.map(function (r) { return { coords: r }; }) }
    ].concat(C.layers.map(layerSeries));
    state.map.setOption({
      tooltip: { trigger: "item", backgroundColor: "rgba(3,11,26,0.92)", borderColor: "#3ea6ff", textStyle: { color: INK },
        formatter: tooltip },
      geo: Object.assign(C.tiles ? { projection: MERCATOR } : { aspectScale: 0.86 }, {
        map: state.mapName, roam: true, left: 236, right: 28, top: 28, bottom: 40,  // clear of the layer panel
        selectedMode: false, zlevel: 0,
        label: { show: m.regions.features.length <= 40, color: "#bfe0ff", fontSize: 13,
          formatter: function (p) { return names[p.name] || ""; } },
        itemStyle: { areaColor: C.tiles ? "rgba(26,84,160,0.22)" : { type: "radial", x: 0.5, y: 0.5, r: 0.9, colorStops: [
          { offset: 0, color: "rgba(26,84,160,0.55)" }, { offset: 1, color: "rgba(10,40,90,0.75)" }] },
          borderColor: "#3ea6ff", borderWidth: 1.1, shadowColor: "rgba(62,166,255,0.45)", shadowBlur: 10 },
        emphasis: { itemStyle: { areaColor: "rgba(62,166,255,0.45)" }, label: { show: true, color: "#fff" } },
        tooltip: { formatter: function (p) { return names[p.name] || p.name; } } }),
      series: series
    }, true);
    drawTiles();
  }

  // --- the optional base map: XYZ tiles (Web Mercator) under the transparent map, redrawn on pan and zoom ----
  var MERCATOR = {  // the geo component in Web Mercator, y down, so tiles and polygons line up
    project: function (p) { return [p[0] * Math.PI / 180, -Math.log(Math.tan(Math.PI / 4 + p[1] * Math.PI / 360))]; },
    unproject: function (p) { return [p[0] * 180 / Math.PI, (2 * Math.atan(Math.exp(-p[1])) - Math.PI / 2) * 180 / Math.PI]; }
  };
  var MAX_TILES = 120;
  function tileX(lon, z) { return (lon + 180) / 360 * Math.pow(2, z); }
  function tileY(lat, z) {
    var r = lat * Math.PI / 180;
    return (1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * Math.pow(2, z);
  }
  function tileLon(x, z) { return x / Math.pow(2, z) * 360 - 180; }
  function tileLat(y, z) { return Math.atan(Math.sinh(Math.PI * (1 - 2 * y / Math.pow(2, z)))) * 180 / Math.PI; }
  // the pixel of a lon/lat is affine in Mercator units; ECharts' own convertFromPixel on a projected geo does not
  // give lon/lat back (6.x), so the inverse is solved from two convertToPixel calls
  function pixelToLonLat(px) {
    var a = [100, 20], b = [110, 40];
    var pa = state.map.convertToPixel({ geoIndex: 0 }, a), pb = state.map.convertToPixel({ geoIndex: 0 }, b);
    if (!pa || !pb) { return null; }
    var ma = MERCATOR.project(a), mb = MERCATOR.project(b);
    var sx = (pb[0] - pa[0]) / (mb[0] - ma[0]), sy = (pb[1] - pa[1]) / (mb[1] - ma[1]);
    return MERCATOR.unproject([ma[0] + (px[0] - pa[0]) / sx, ma[1] + (px[1] - pa[1]) / sy]);
  }
  function drawTiles() {
    if (!C.tiles || !state.map) { return; }
    var box = $("#sc-basemap"), host = $("#sc-map");
    var w = host.clientWidth, h = host.clientHeight;
    var nw = pixelToLonLat([0, 0]), se = pixelToLonLat([w, h]);
    if (!nw || !se || !(se[0] > nw[0])) { return; }
    var z = Math.round(Math.log(360 / (256 * (se[0] - nw[0]) / w)) / Math.LN2);
    z = Math.max(1, Math.min(C.tiles.max_zoom, z));
    var n = Math.pow(2, z);
    var x0 = Math.max(0, Math.floor(tileX(nw[0], z))), x1 = Math.min(n - 1, Math.floor(tileX(se[0], z)));
    var y0 = Math.max(0, Math.floor(tileY(nw[1], z))), y1 = Math.min(n - 1, Math.floor(tileY(se[1], z)));
    box.textContent = "";
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > MAX_TILES) { return; }
    for (var x = x0; x <= x1; x++) {
      for (var y = y0; y <= y1; y++) {
        var a = state.map.convertToPixel({ geoIndex: 0 }, [tileLon(x, z), tileLat(y, z)]);
        var b = state.map.convertToPixel({ geoIndex: 0 }, [tileLon(x + 1, z), tileLat(y + 1, z)]);
        var img = el("img");
        img.alt = "";
        img.dataset.tile = z + "/" + x + "/" + y;
        img.src = C.tiles.url.replace("{z}", z).replace("{x}", x).replace("{y}", y);
        img.style.left = a[0] + "px"; img.style.top = a[1] + "px";
        img.style.width = (b[0] - a[0]) + "px"; img.style.height = (b[1] - a[1]) + "px";
        box.appendChild(img);
      }
    }
  }
  function tooltip(p) {
    if (p.componentType === "geo") { return state.regionNames[p.name] || p.name; }
    if (!p.data || !p.data.length) { return ""; }
    var lay = C.layers.filter(function (l) { return "layer-" + l.id === p.seriesId; })[0];
    var legend = lay ? (lay.legend[p.data[4]] || p.data[4]) : "";
    return "<b>" + escapeHtml(p.data[3]) + "</b><br>" + escapeHtml(p.data[2]) + " · " + escapeHtml(legend);
  }
  function escapeHtml(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; });
  }
  function onMapClick(p) {
    if (p.componentType === "geo" && state.mapData.drillable && p.name && p.name !== state.focus.code) {
      setFocus(p.name, true);
    } else if (p.componentType === "series" && p.data && p.data[7]) {
      setFocus(p.data[2], true);  // a bucket: drill into its area, where its devices are drawn one by one
    } else if (p.componentType === "series" && p.data) {
      var lay = C.layers.filter(function (l) { return "layer-" + l.id === p.seriesId; })[0];
      var link = p.data[6] || (lay && lay.link ? lay.link.replace("{id}", encodeURIComponent(p.data[2])) : null);
      if (link) { window.open(link, "_blank"); }
    }
  }
  function refreshLayer(lay) {
    if (!state.map) { return; }
    state.map.setOption({ series: [layerSeries(lay)] });
    var count = document.querySelector("[data-layer-count='" + lay.id + "']");
    if (count) { count.textContent = String(layerTotal(state.layers[lay.id] || [])); }
  }
  function loadLayer(lay) {
    var focus = state.focus.code;
    return getJSON("/api/screen/layers/" + lay.id + "?" + areaParam()).then(function (body) {
      if (focus !== state.focus.code) { return; }
      state.layers[lay.id] = body.points;
      state.index[lay.id] = null;
      refreshLayer(lay);
      var box = $("#sc-layers");
      box.dataset["loaded_" + lay.id] = "1";
    });
  }
  function loadLayers() {
    return Promise.all(C.layers.filter(function (l) { return state.layerOn[l.id]; }).map(function (l) {
      return loadLayer(l).catch(function (err) { console.error(err); });
    }));
  }
  function drawLayerToggles() {
    var box = $("#sc-layers");
    // `?layers=cases,devices` chooses the layers shown (a wall display's setting); otherwise each layer's default
    var asked = new URLSearchParams(location.search).get("layers");
    C.layers.forEach(function (lay) {
      state.layerOn[lay.id] = asked === null ? lay.default_on : asked.split(",").indexOf(lay.id) >= 0;
      var wrap = el("div", "layer");
      var label = el("label");
      var box2 = el("input");
      box2.type = "checkbox"; box2.checked = state.layerOn[lay.id]; box2.dataset.layer = lay.id;
      box2.addEventListener("change", function () {
        state.layerOn[lay.id] = box2.checked;
        if (box2.checked && !state.layers[lay.id]) { loadLayer(lay); } else { refreshLayer(lay); }
      });
      label.appendChild(box2);
      label.appendChild(document.createTextNode(lay.title));
      var count = el("span", "count", "");
      count.dataset.layerCount = lay.id;
      label.appendChild(count);
      wrap.appendChild(label);
      var legend = el("div", "legend");
      Object.keys(lay.palette).forEach(function (cls) {
        var item = el("span");
        var sw = el("i", "sw");
        sw.style.background = lay.palette[cls];
        item.appendChild(sw);
        item.appendChild(document.createTextNode(lay.legend[cls]));
        legend.appendChild(item);
      });
      wrap.appendChild(legend);
      box.appendChild(wrap);
    });
  }

  // --- drill-down and breadcrumbs ------------------------------------------------------------------------
  function drawCrumbs(focus) {
    state.focus = focus;
    probe.focus = focus.code;
    var nav = $("#sc-crumbs");
    nav.textContent = "";
    focus.chain.forEach(function (c, i) {
      if (i) { nav.appendChild(document.createTextNode(" › ")); }
      var last = i === focus.chain.length - 1;
      var item = el(last ? "span" : "a", last ? "here" : "", c.name);
      if (!last) {
        item.href = "?area=" + c.code;
        item.dataset.code = c.code;
        item.addEventListener("click", function (ev) { ev.preventDefault(); setFocus(c.code, true); });
      }
      nav.appendChild(item);
    });
    $("#sc-focus-name").textContent = focus.name;
    document.title = focus.name + " · " + document.title.split(" · ").slice(-1)[0];
  }
  function setFocus(code, push) {
    state.focus = { code: code, name: "", chain: [] };
    if (push) {
      var query = new URLSearchParams(location.search);
      query.set("area", code);
      history.pushState({ area: code }, "", "?" + query.toString());
    }
    document.body.dataset.focus = code;
    document.body.dataset.ready = "0";
    state.layers = {};
    state.index = {};
    drawFeed(null, {});
    return Promise.all([loadMap(), loadPanels(), loadLayers()]).then(function () {
      drawFeed(null, {});
      document.body.dataset.ready = "1";
    });
  }
  window.addEventListener("popstate", function (ev) {
    var code = (ev.state && ev.state.area) || C.focus.code;
    setFocus(code, false);
  });

  // --- live: server-sent events, resumed from the last event id after any break -----------------------
  function setStatus(name) {
    var s = $("#sc-status");
    s.dataset.state = name;
    s.textContent = W["screen.status." + name] || name;
  }
  function connect() {
    var url = "/api/screen/stream?lang=" + C.locale + "&after=" + encodeURIComponent(state.cursor);
    var source = state.source = new EventSource(url);
    source.onopen = function () { setStatus("live"); };
    source.onerror = function () {
      setStatus("reconnecting");
      if (source.readyState === EventSource.CLOSED) {  // refused (e.g. a 5xx while restarting): start again
        setTimeout(function () { if (state.source === source) { connect(); } }, 2000);
      }
    };
    source.onmessage = function (msg) {
      if (msg.lastEventId) { state.cursor = msg.lastEventId; }
      var e = JSON.parse(msg.data);
      if (e.kind === "reset") { reloadAll(); return; }
      onEvent(e);
    };
  }
  // events are applied in batches (at most every 150 ms): a burst redraws the feed and each layer once
  var inbox = [], flushTimer = null;
  function onEvent(e) {
    if (state.seen[e.key]) { return; }
    state.seen[e.key] = true;
    e.probe = { key: e.key, kind: e.kind, number: e.number, at: Date.now(), shown: null };
    probe.events.push(e.probe);
    inbox.push(e);
    if (!flushTimer) { flushTimer = setTimeout(flush, 150); }
  }
  function flush() {
    flushTimer = null;
    var batch = inbox, fresh = {}, touched = {};
    inbox = [];
    batch.forEach(function (e) {
      state.feed.unshift(e);
      if (!inFocus(e.area_path)) { return; }
      fresh[e.key] = true;
      if (movePoint(e)) { touched[e.layer] = true; }
    });
    state.feed.length = Math.min(state.feed.length, 200);
    if (!Object.keys(fresh).length) { return; }
    drawFeed(null, fresh);
    C.layers.forEach(function (lay) { if (touched[lay.id]) { refreshLayer(lay); } });
    var now = Date.now();
    batch.forEach(function (e) { e.probe.shown = now; });  // in the feed and on the map from here
    panelsChanged();
  }
  // an event puts its point on its layer (a new case, an alarm raised), moves it, or takes it off (cls null)
  function movePoint(e) {
    var rows = state.layers[e.layer];
    if (!rows || !e.point_id) { return false; }
    var index = state.index[e.layer];
    if (!index) {
      index = state.index[e.layer] = {};
      rows.forEach(function (r, i) { index[r[2]] = i; });
    }
    var at = index[e.point_id];
    if (e.cls && e.lon !== null && e.lat !== null) {
      var row = [e.lon, e.lat, e.point_id, e.title, e.cls, e.rank || 0, null];
      if (at === undefined) { index[e.point_id] = rows.length; rows.push(row); } else { rows[at] = row; }
    } else if (at !== undefined) {
      rows.splice(at, 1);
      state.index[e.layer] = null;  // positions moved: rebuilt on the next event
    }
    return true;
  }
  // a reset (a bulk import, a stream too far behind): everything is asked again, one reload at a time
  var reloading = null, reloadAgain = false;
  function reloadAll() {
    if (reloading) { reloadAgain = true; return reloading; }
    reloading = setFocus(state.focus.code, false).then(function () {
      reloading = null;
      if (reloadAgain) { reloadAgain = false; reloadAll(); }
    });
    return reloading;
  }

  // the street's local time (the server's zone), whatever the wall computer's own zone
  var CLOCK = new Intl.DateTimeFormat("sv-SE", { timeZone: C.timezone, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  function tick() { $("#sc-clock").textContent = CLOCK.format(new Date()); }

  function start() {
    tick();
    setInterval(tick, 1000);
    drawLayerToggles();
    document.body.dataset.focus = C.focus.code;
    window.addEventListener("resize", function () {
      Object.keys(state.charts).forEach(function (k) { state.charts[k].resize(); });
      if (state.map) { state.map.resize(); drawTiles(); }
    });
    connect();
    var t0 = performance.now();
    Promise.all([loadMap(), loadPanels(), loadLayers()]).then(function () {
      var done = function () {
        document.body.dataset.ready = "1";
        probe.ready = true;
        probe.readyMs = performance.now();
        probe.loadMs = performance.now() - t0;
      };
      if (state.map) { state.map.on("finished", function once() { state.map.off("finished", once); done(); }); }
      requestAnimationFrame(function () { requestAnimationFrame(function () { if (!probe.ready) { done(); } }); });
    });
    schedule();
  }
  document.addEventListener("DOMContentLoaded", start);
})();
