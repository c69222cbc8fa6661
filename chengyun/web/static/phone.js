// Shared by the phone pages: translated messages, a fetch with a time limit, photo upload, and the outbox —
// unsent writes kept in localStorage and re-sent with the same Idempotency-Key until the server answers.
(function () {
  "use strict";
  var node = document.getElementById("phone-messages");
  var MSG = node ? JSON.parse(node.textContent || "{}") : {};
  var TIMEOUT_MS = 20000;
  var MAX_DELAY_MS = 60000;
  var SHRINK_ABOVE = 1500000;  // photos larger than this are re-encoded at 1600 px before upload (slow networks)

  function t(key, params) {
    var text = MSG[key] || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }

  function csrf() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // fetch that gives up after `ms`; resolves {status, body} for any HTTP answer, rejects on network trouble
  function request(url, options, ms) {
    var ctrl = window.AbortController ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, ms || TIMEOUT_MS) : null;
    var opts = Object.assign({ credentials: "same-origin" }, options || {});
    if (ctrl) { opts.signal = ctrl.signal; }
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        return { status: r.status, body: body };
      });
    }).finally(function () { if (timer) { clearTimeout(timer); } });
  }

  function errorText(res) {
    var err = res && res.body && res.body.error;
    return err && err.message ? err.message : t("failed") + " (HTTP " + (res ? res.status : "?") + ")";
  }

  function jsonHeaders(key) {
    var h = { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() };
    if (key) { h["Idempotency-Key"] = key; }
    return h;
  }

  function shrink(file) {
    if (file.size <= SHRINK_ABOVE || !window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (img) {
      var scale = Math.min(1, 1600 / Math.max(img.width, img.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(img.width * scale); canvas.height = Math.round(img.height * scale);
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  // upload one photo, retrying network failures and 5xx a few times; resolves the stored ids
  function upload(url, file, tries) {
    tries = tries || 0;
    return shrink(file).then(function (blob) {
      var form = new FormData();
      form.append("file", blob, file.name || "photo.jpg");
      return request(url, { method: "POST", body: form, headers: { "X-CSRF-Token": csrf() } }, 60000);
    }).then(function (res) {
      if (res.status >= 200 && res.status < 300) { return res.body; }
      if (res.status >= 500 && tries < 3) { return upload(url, file, tries + 1); }
      throw new Error(errorText(res));
    }, function () {
      if (tries < 3) { return new Promise(function (ok) { setTimeout(ok, 1500 * (tries + 1)); })
        .then(function () { return upload(url, file, tries + 1); }); }
      throw new Error(t("offline"));
    });
  }

  // Photo picker: uploads each chosen photo at once and shows it; `ids()` lists the uploaded ids
  function Photos(input, thumbs, url) {
    var self = this;
    this.uploaded = []; this.busy = 0;
    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files || [], function (file) { self.add(file, thumbs, url); });
      input.value = "";
    });
  }
  Photos.prototype.add = function (file, thumbs, url) {
    var self = this, figure = document.createElement("figure"), img = document.createElement("img");
    img.src = URL.createObjectURL(file); img.alt = file.name || "";
    var caption = document.createElement("figcaption"); caption.textContent = t("uploading");
    figure.appendChild(img); figure.appendChild(caption); figure.dataset.state = "uploading";
    thumbs.appendChild(figure);
    this.busy += 1;
    upload(url, file).then(function (stored) {
      self.uploaded.push(stored.id); figure.dataset.state = "uploaded"; figure.dataset.id = stored.id;
      caption.textContent = t("uploaded");
    }, function (err) {
      figure.dataset.state = "failed"; caption.textContent = t("photo_failed") + " " + err.message;
    }).finally(function () { self.busy -= 1; });
  };
  Photos.prototype.ids = function () { return this.uploaded.slice(); };
  Photos.prototype.clear = function (thumbs) { this.uploaded = []; thumbs.innerHTML = ""; };

  // Outbox: every write is stored before it is sent and removed only on 2xx (or a 4xx, which no retry fixes)
  function Outbox(name, handlers) {
    this.key = "chengyun.outbox." + name;
    this.handlers = handlers;
    this.inflight = {};
    var self = this;
    window.addEventListener("online", function () { self.resume(); });
  }
  Outbox.prototype.items = function () {
    try { return JSON.parse(localStorage.getItem(this.key) || "[]"); } catch (e) { return []; }
  };
  Outbox.prototype.save = function (items) {
    localStorage.setItem(this.key, JSON.stringify(items));
    if (this.handlers.changed) { this.handlers.changed(items); }
  };
  Outbox.prototype.update = function (item) {
    this.save(this.items().map(function (i) { return i.key === item.key ? item : i; }));
  };
  Outbox.prototype.remove = function (key) {
    this.save(this.items().filter(function (i) { return i.key !== key; }));
  };
  Outbox.prototype.add = function (url, body, extra) {
    var item = Object.assign({ key: uuid(), url: url, body: body, tries: 0, created: Date.now() }, extra || {});
    this.save(this.items().concat([item]));
    this.attempt(item.key);
    return item;
  };
  Outbox.prototype.resume = function () {
    var self = this;
    this.items().forEach(function (item) { self.attempt(item.key); });
  };
  Outbox.prototype.attempt = function (key) {
    var self = this, item = this.items().filter(function (i) { return i.key === key; })[0];
    if (!item || this.inflight[key]) { return; }
    this.inflight[key] = true;
    if (this.handlers.sending) { this.handlers.sending(item); }
    request(item.url, { method: "POST", headers: jsonHeaders(item.key), body: JSON.stringify(item.body) })
      .then(function (res) {
        delete self.inflight[key];
        if (res.status >= 200 && res.status < 300) {
          self.remove(key); self.handlers.done(item, res.body);
        } else if (res.status >= 500) {
          self.retry(item);
        } else {
          if (res.status !== 401) { self.remove(key); }  // signed out: kept until the next sign-in and reload
          self.handlers.failed(item, errorText(res));
        }
      }, function () { delete self.inflight[key]; self.retry(item); });
  };
  Outbox.prototype.retry = function (item) {
    var self = this;
    item.tries += 1;
    this.update(item);
    var delay = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, Math.min(item.tries, 6))) * (0.75 + Math.random() / 2);
    if (this.handlers.retrying) { this.handlers.retrying(item, delay); }
    setTimeout(function () { self.attempt(item.key); }, delay);
  };

  // "Possibly already reported nearby": open cases like the one being typed; the reporter may follow one instead
  // of filing another (the choice goes with the report as follow_case).
  function Nearby(box, url) { this.box = box; this.url = url; this.chosen = null; this.asked = 0; }
  Nearby.prototype.check = function (params) {
    var self = this, asked = ++this.asked;
    if (!params.text || !params.text.trim()) { self.render([]); return; }
    var query = Object.keys(params).filter(function (k) { return params[k] !== null && params[k] !== ""; })
      .map(function (k) { return k + "=" + encodeURIComponent(params[k]); }).join("&");
    request(self.url + "?" + query, { headers: { Accept: "application/json" } }).then(function (res) {
      if (asked === self.asked) { self.render(res.status === 200 ? (res.body.items || []) : []); }
    }, function () { if (asked === self.asked) { self.render([]); } });
  };
  Nearby.prototype.render = function (items) {
    var self = this, box = this.box;
    if (!box) { return; }
    if (!items.some(function (i) { return i.case_number === self.chosen; })) { self.chosen = null; }
    box.innerHTML = "";
    box.hidden = !items.length;
    if (!items.length) { return; }
    var head = document.createElement("p");
    head.className = "phone-nearby-head"; head.textContent = t("nearby_heading");
    box.appendChild(head);
    items.forEach(function (item) {
      var row = document.createElement("div"), text = document.createElement("span");
      var button = document.createElement("button");
      row.className = "phone-nearby-item"; row.dataset.case = item.case_number;
      text.textContent = item.title + " · " + item.state_label + (item.distance_m !== null
        ? " · " + t("nearby_distance", { m: Math.round(item.distance_m) }) : "");
      button.type = "button"; button.className = "phone-chip"; button.setAttribute("data-testid", "follow-case");
      function label() {
        button.textContent = self.chosen === item.case_number ? t("nearby_following") : t("nearby_follow");
        button.classList.toggle("on", self.chosen === item.case_number);
      }
      button.addEventListener("click", function () {
        self.chosen = self.chosen === item.case_number ? null : item.case_number;
        Array.prototype.forEach.call(box.querySelectorAll("button"), function (b) { b.dispatchEvent(new Event("relabel")); });
      });
      button.addEventListener("relabel", label);
      label();
      row.appendChild(text); row.appendChild(button); box.appendChild(row);
    });
  };
  Nearby.prototype.clear = function () { this.chosen = null; this.asked += 1; this.render([]); };

  function show(el, text, kind) {
    if (!el) { return; }
    el.textContent = text;
    el.dataset.kind = kind || "info";
  }

  window.Phone = { t: t, csrf: csrf, uuid: uuid, request: request, errorText: errorText, jsonHeaders: jsonHeaders,
                   upload: upload, Photos: Photos, Outbox: Outbox, Nearby: Nearby, show: show };
})();
