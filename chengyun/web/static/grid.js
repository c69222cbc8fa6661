// The grid worker's phone page: report in one screen (photos, GPS with accuracy and address, category suggestion,
// 自办自结), patrol check-in, and the actions on one task. Writes go through Phone.Outbox (retry-safe).
(function () {
  "use strict";
  var P = window.Phone, t = P.t;
  var fix = null;  // the last GPS fix: {lon, lat, accuracy}

  function $(id) { return document.getElementById(id); }

  function locate(done) {
    if (!navigator.geolocation) { P.show($("gps-text"), t("gps_failed"), "error"); return; }
    $("gps").dataset.state = "waiting";
    P.show($("gps-text"), t("gps_wait"));
    navigator.geolocation.getCurrentPosition(function (pos) {
      fix = { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy };
      $("gps").dataset.state = "ready";
      P.show($("gps-text"), fix.lon.toFixed(6) + ", " + fix.lat.toFixed(6) + " · " +
        t("accuracy", { m: Math.round(fix.accuracy) }), "ok");
      address(fix);
      if (done) { done(fix); }
    }, function (err) {
      $("gps").dataset.state = "failed";
      P.show($("gps-text"), err && err.code === 1 ? t("gps_denied") : t("gps_failed"), "error");
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 });
  }

  function address(point) {
    P.request("/api/places/reverse?lon=" + point.lon + "&lat=" + point.lat, { headers: { Accept: "application/json" } })
      .then(function (res) { if (res.status === 200 && res.body) { $("gps-address").textContent = res.body.address; } },
            function () { /* the address is a help, not a need: the report carries the point */ });
  }

  function suggestions(text) {
    var box = $("suggestions");
    if (!text.trim()) { box.innerHTML = ""; return; }
    P.request("/api/categories/suggest?text=" + encodeURIComponent(text), { headers: { Accept: "application/json" } })
      .then(function (res) {
        box.innerHTML = "";
        ((res.body && res.body.items) || []).forEach(function (s) {
          var chip = document.createElement("button");
          chip.type = "button"; chip.className = "phone-chip"; chip.dataset.code = s.code;
          chip.textContent = s.name + " · " + Math.round(s.score);
          chip.addEventListener("click", function () { pick(s.code); });
          box.appendChild(chip);
        });
      }, function () { box.innerHTML = ""; });
  }

  function pick(code) {
    var select = $("category");
    select.value = code;
    select.dispatchEvent(new Event("change"));
    Array.prototype.forEach.call($("suggestions").children, function (c) {
      c.classList.toggle("on", c.dataset.code === code);
    });
  }

  function selfHandleRow() {
    var option = $("category").selectedOptions[0];
    var allowed = option && option.dataset.selfHandle === "1";
    $("self-handle-row").hidden = !allowed;
    if (!allowed) { document.querySelector("[name=handle_self]").checked = false; }
  }

  function pendingList(items) {
    var box = $("pending");
    if (!box) { return; }
    var reports = items.filter(function (i) { return i.label; });
    box.hidden = !reports.length;
    box.textContent = reports.length ? t("pending_count", { n: reports.length }) + " " +
      reports.map(function (i) { return "「" + i.label + "」"; }).join(" ") : "";
  }

  function reportDone(item, body) {
    var status = $("report-status");
    status.dataset.token = body.token;
    if (body.case_number) {
      status.dataset.case = body.case_number;
      var text = t("case_number", { number: body.case_number });
      if (body.case_state === "closed") { text += " · " + t("self_handled"); }
      else if (body.self_handle_problem) { text += " · " + t("self_handle_refused"); }
      P.show(status, text, "ok");
    } else {
      P.show(status, t("waiting", { token: body.token }) + (body.problem ? " · " + body.problem.message : ""), "warn");
    }
  }

  function initReport() {
    var form = $("report-form");
    if (!form) { return; }
    var photos = new P.Photos(form.querySelector("[name=photo]"), $("thumbs"), "/api/attachments");
    var outbox = new P.Outbox("grid-reports", {
      changed: pendingList,
      sending: function () { P.show($("report-status"), t("sending")); },
      retrying: function (item, delay) {
        P.show($("report-status"), t("retrying", { s: Math.round(delay / 1000) }), "warn");
      },
      done: reportDone,
      failed: function (item, message) { P.show($("report-status"), message, "error"); }
    });
    var timer = null, nearby = new P.Nearby($("nearby"), "/api/reports/similar");
    function checkNearby() {
      nearby.check({ text: form.description.value, lon: fix ? fix.lon : null, lat: fix ? fix.lat : null,
                     category_code: form.category_code.value });
    }
    form.querySelector("[name=description]").addEventListener("input", function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { suggestions(e.target.value); checkNearby(); }, 400);
    });
    $("category").addEventListener("change", selfHandleRow);
    $("gps-button").addEventListener("click", function () { locate(); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var description = form.description.value.trim();
      if (!description) { P.show($("report-status"), t("need_description"), "error"); return; }
      if (!fix) { P.show($("report-status"), t("need_location"), "error"); locate(); return; }
      if (photos.busy) { P.show($("report-status"), t("uploading"), "warn"); return; }
      outbox.add("/api/reports", {
        description: description, category_code: form.category_code.value || null, lon: fix.lon, lat: fix.lat,
        crs: "wgs84", attachments: photos.ids(), handle_self: form.handle_self.checked,
        follow_case: nearby.chosen
      }, { label: description.slice(0, 16) });
      form.reset(); photos.clear($("thumbs")); $("suggestions").innerHTML = ""; selfHandleRow(); nearby.clear();
    });
    pendingList(outbox.items());
    outbox.resume();  // reports left unsent by a reload or a lost connection go out again, same key
    locate();
  }

  function initPatrol() {
    var button = $("checkin-button");
    if (!button) { return; }
    var outbox = new P.Outbox("grid-checkins", {
      retrying: function (item, delay) {
        P.show($("checkin-status"), t("retrying", { s: Math.round(delay / 1000) }), "warn");
      },
      done: function (item, body) {
        P.show($("checkin-status"), t("checked_in"), "ok");
        var list = $("checkins"), empty = list.querySelector("[data-empty]");
        if (empty) { empty.remove(); }
        var li = document.createElement("li");
        li.dataset.id = body.id;
        li.textContent = new Date(body.at).toLocaleString() + " · " + (body.area_name || t("outside"));
        var small = document.createElement("small");
        small.textContent = body.lon.toFixed(5) + ", " + body.lat.toFixed(5) +
          (body.accuracy_m != null ? " · ±" + Math.round(body.accuracy_m) + " m" : "");
        li.appendChild(document.createElement("br")); li.appendChild(small);
        list.insertBefore(li, list.firstChild);
      },
      failed: function (item, message) { P.show($("checkin-status"), message, "error"); }
    });
    button.addEventListener("click", function () {
      P.show($("checkin-status"), t("gps_wait"));
      locate(function (point) {
        outbox.add("/api/patrol/checkins", { lon: point.lon, lat: point.lat, accuracy_m: point.accuracy });
      });
    });
    outbox.resume();
  }

  function initAct() {
    var form = $("act-form");
    if (!form) { return; }
    var photos = new P.Photos(form.querySelector("[name=photo]"), $("thumbs"), "/api/attachments");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var action = e.submitter ? e.submitter.value : "";
      if (photos.busy) { P.show($("act-status"), t("uploading"), "warn"); return; }
      var body = { note: form.note.value, attachments: photos.ids(), version: parseInt(form.dataset.version, 10) };
      P.show($("act-status"), t("sending"));
      P.request("/api/cases/" + encodeURIComponent(form.dataset.number) + "/actions/" + action,
                { method: "POST", headers: P.jsonHeaders(), body: JSON.stringify(body) })
        .then(function (res) {
          if (res.status === 200) { P.show($("act-status"), t("done"), "ok"); location.reload(); }
          else { P.show($("act-status"), P.errorText(res), "error"); }
        }, function () { P.show($("act-status"), t("offline"), "error"); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { initReport(); initPatrol(); initAct(); });
})();
