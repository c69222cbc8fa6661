// Live in-app notifications (联动通知) for signed-in pages: listens to /api/notifications/stream (server-sent
// events) and shows each new notification as a card with its "confirm" button. Include it on pages of signed-in
// staff: <script src="/static/notifications.js" defer></script>. No innerHTML: every text is set as text.
(function () {
  'use strict';
  if (!window.EventSource || !document.body || window.chengyunNotifications) return;
  window.chengyunNotifications = true;  // once per page, however often the script is included

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    try { return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || ''; }
    catch (e) { return ''; }
  }

  var zh = (document.documentElement.lang || 'zh-CN').indexOf('en') !== 0;
  var words = zh ? { confirm: '确认：', done: '已确认', close: '关闭', failed: '确认失败，请重试' }
                 : { confirm: 'Confirm: ', done: 'Confirmed', close: 'Close', failed: 'Could not confirm; try again' };

  var box = document.createElement('div');
  box.setAttribute('role', 'status');
  box.setAttribute('aria-live', 'assertive');
  box.dataset.testid = 'live-notifications';
  box.style.cssText = 'position:fixed;right:12px;bottom:12px;z-index:1000;max-width:380px;' +
    'display:flex;flex-direction:column;gap:8px';
  document.body.appendChild(box);

  function button(label, primary) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.style.cssText = 'min-height:44px;padding:6px 12px;margin:8px 8px 0 0;font-size:16px;border-radius:4px;' +
      (primary ? 'background:#c62828;color:#fff;border:0' : 'background:#fff;color:#111;border:1px solid #999');
    return b;
  }

  function acknowledge(item, ok, status) {
    ok.disabled = true;
    fetch('/api/linkage/notifications/' + item.id + '/ack', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken() },
      body: JSON.stringify({ note: '' })
    }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      status.textContent = words.done;
      ok.remove();
    }).catch(function () {
      status.textContent = words.failed;
      ok.disabled = false;
    });
  }

  function show(item) {
    var card = document.createElement('div');
    card.dataset.notification = String(item.id);
    card.style.cssText = 'background:#fff4f2;color:#111;border-left:6px solid #c62828;padding:10px 12px;' +
      'box-shadow:0 2px 8px rgba(0,0,0,.25);font-size:16px;line-height:1.4';
    var title = document.createElement('strong');
    title.textContent = item.title;
    var text = document.createElement('div');
    text.style.cssText = 'white-space:pre-line;max-height:9em;overflow:auto;margin-top:4px';
    text.textContent = item.message;
    var status = document.createElement('div');
    status.style.fontWeight = 'bold';
    var ok = button(words.confirm + item.must_confirm, true);
    ok.addEventListener('click', function () { acknowledge(item, ok, status); });
    var close = button(words.close, false);
    close.addEventListener('click', function () { card.remove(); });
    card.append(title, text, status, ok, close);
    box.prepend(card);
  }

  var source = new EventSource('/api/notifications/stream');
  source.addEventListener('notification', function (event) {
    try { show(JSON.parse(event.data)); } catch (e) { /* a malformed event is skipped */ }
  });
})();
