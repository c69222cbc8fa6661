// The resident's pages: report without signing in (place picked on the street's map, or an address), follow my
// reports, and rate a closed case. Reports go through Phone.Outbox, so a retry never files a second report.
(function () {
  "use strict";
  var P = window.Phone, t = P.t;
  var point = null;  // the WGS84 point picked on the map
  var MINE = "chengyun.my-reports";

  function $(id) { return document.getElementById(id); }

  // ECharts is big (about 370 kB on the wire): it is fetched only once the page has loaded, so on a slow line the
  // form is there at once and the address field works while the map is still on its way.
  function withEcharts() {
    if (window.echarts) { return Promise.resolve(); }
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = "/static/vendor/echarts.min.js"; script.async = true;
      script.onload = resolve; script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function afterLoad(run) {
    if (document.readyState === "complete") { setTimeout(run, 0); } else { window.addEventListener("load", run); }
  }

  function drawMap(el) {
    if (!el) { return; }
    el.dataset.state = "loading";
    Promise.all([withEcharts(), P.request("/api/public/area", { headers: { Accept: "application/json" } })])
    .then(function (done) {
      var res = done[1];
      if (res.status !== 200 || !window.echarts) { throw new Error("HTTP " + res.status); }
      el.textContent = "";
      var features = res.body.map.features;
      var children = features.filter(function (f) { return f.properties.role === "child"; });
      var shown = children.length ? children : features, labels = {};
      shown.forEach(function (f) { labels[f.properties.code] = f.properties.name; });
      echarts.registerMap("public-area", { type: "FeatureCollection", features: shown.map(function (f) {
        return { type: "Feature", properties: { name: f.properties.code }, geometry: f.geometry };
      }) });
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption({
        geo: { map: "public-area", roam: true, aspectScale: 0.86, selectedMode: false, layoutSize: "96%",
               label: { show: true, fontSize: 11, color: "#102a43", formatter: function (p) { return labels[p.name] || ""; } },
               itemStyle: { areaColor: "#e6eef7", borderColor: "#003a78", borderWidth: 1 },
               emphasis: { itemStyle: { areaColor: "#ffd58a" }, label: { show: true } } },
        series: [{ type: "scatter", coordinateSystem: "geo", data: [], symbolSize: 22, symbol: "pin",
                   itemStyle: { color: "#c4161c" }, zlevel: 2 }]
      });
      chart.getZr().on("click", function (e) {
        var c = chart.convertFromPixel({ geoIndex: 0 }, [e.offsetX, e.offsetY]);
        if (!c || isNaN(c[0])) { return; }
        point = { lon: Math.round(c[0] * 1e6) / 1e6, lat: Math.round(c[1] * 1e6) / 1e6 };
        chart.setOption({ series: [{ data: [[point.lon, point.lat]] }] });
        $("picked").dataset.lon = point.lon; $("picked").dataset.lat = point.lat;
        P.show($("picked"), t("picked", { lon: point.lon.toFixed(5), lat: point.lat.toFixed(5) }), "ok");
        $("picked").dispatchEvent(new Event("picked"));
      });
      el.dataset.state = "ready";
      window.addEventListener("resize", function () { chart.resize(); });
    }).catch(function () { el.dataset.state = "unavailable"; el.textContent = el.dataset.unavailable; });
  }

  function suggestions(text) {
    var box = $("suggestions");
    if (!text.trim()) { box.innerHTML = ""; return; }
    P.request("/api/public/categories/suggest?text=" + encodeURIComponent(text), { headers: { Accept: "application/json" } })
      .then(function (res) {
        box.innerHTML = "";
        ((res.body && res.body.items) || []).forEach(function (s) {
          var chip = document.createElement("button");
          chip.type = "button"; chip.className = "phone-chip"; chip.dataset.code = s.code; chip.textContent = s.name;
          chip.addEventListener("click", function () {
            var on = !chip.classList.contains("on");
            Array.prototype.forEach.call(box.children, function (c) { c.classList.remove("on"); });
            chip.classList.toggle("on", on);
            $("category").value = on ? s.code : "";
          });
          box.appendChild(chip);
        });
      }, function () { box.innerHTML = ""; });
  }

  function mine() { try { return JSON.parse(localStorage.getItem(MINE) || "[]"); } catch (e) { return []; } }

  function listMine() {
    var list = $("my-reports");
    if (!list) { return; }
    list.innerHTML = "";
    mine().slice(-10).reverse().forEach(function (r) {
      var li = document.createElement("li"), a = document.createElement("a");
      a.href = "/report/track?token=" + encodeURIComponent(r.token);
      a.textContent = (r.number || t("track")) + " · " + r.label;
      li.appendChild(a); list.appendChild(li);
    });
  }

  function reportDone(item, body) {
    var status = $("report-status"), link = document.createElement("a");
    var kept = mine().filter(function (r) { return r.token !== body.token; });
    kept.push({ token: body.token, number: body.case_number, label: item.label, at: Date.now() });
    localStorage.setItem(MINE, JSON.stringify(kept.slice(-20)));
    status.dataset.token = body.token;
    if (body.case_number) { status.dataset.case = body.case_number; }
    P.show(status, body.case_number ? t("case_number", { number: body.case_number })
      : t("waiting", { token: body.token }), body.case_number ? "ok" : "warn");
    link.href = body.track_url; link.textContent = " " + t("track");
    link.setAttribute("data-testid", "track-link");
    status.appendChild(link);
    listMine();
  }

  function initReport() {
    var form = $("report-form");
    if (!form) { return; }
    var photos = new P.Photos(form.querySelector("[name=photo]"), $("thumbs"), "/api/public/attachments");
    var outbox = new P.Outbox("resident-reports", {
      changed: function (items) {
        $("pending").hidden = !items.length;
        $("pending").textContent = items.length ? t("pending_count", { n: items.length }) : "";
      },
      sending: function () { P.show($("report-status"), t("sending")); },
      retrying: function (item, delay) {
        P.show($("report-status"), t("retrying", { s: Math.round(delay / 1000) }), "warn");
      },
      done: reportDone,
      failed: function (item, message) { P.show($("report-status"), message, "error"); }
    });
    var timer = null, nearby = new P.Nearby($("nearby"), "/api/public/reports/similar");
    function checkNearby() {
      nearby.check({ text: form.description.value, lon: point ? point.lon : null, lat: point ? point.lat : null,
                     address: form.address.value.trim(), category_code: form.category_code.value });
    }
    form.description.addEventListener("input", function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { suggestions(e.target.value); checkNearby(); }, 400);
    });
    $("picked").addEventListener("picked", checkNearby);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var description = form.description.value.trim(), address = form.address.value.trim();
      if (!description) { P.show($("report-status"), t("need_description"), "error"); return; }
      if (!point && !address) { P.show($("report-status"), t("pick_on_map"), "error"); return; }
      if (photos.busy) { P.show($("report-status"), t("uploading"), "warn"); return; }
      outbox.add("/api/public/reports", {
        description: description, category_code: form.category_code.value || null,
        lon: point ? point.lon : null, lat: point ? point.lat : null, address: address,
        reporter_phone: form.reporter_phone.value.trim() || null, attachments: photos.ids(),
        follow_case: nearby.chosen
      }, { label: description.slice(0, 16) });
      form.reset(); photos.clear($("thumbs")); $("suggestions").innerHTML = ""; nearby.clear();
    });
    outbox.resume();
    listMine();
    afterLoad(function () { drawMap($("pick-map")); });
  }

  function initRate() {
    var form = $("rate-form");
    if (!form) { return; }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var chosen = form.querySelector("[name=rating]:checked");
      var body = { rating: chosen ? chosen.value : "", comment: form.comment.value };
      P.request("/api/public/reports/" + encodeURIComponent(form.dataset.token) + "/rating",
                { method: "POST", headers: P.jsonHeaders(), body: JSON.stringify(body) })
        .then(function (res) {
          if (res.status === 200) { P.show($("rate-status"), t("rated"), "ok"); location.reload(); }
          else { P.show($("rate-status"), P.errorText(res), "error"); }
        }, function () { P.show($("rate-status"), t("offline"), "error"); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { initReport(); initRate(); });
})();
