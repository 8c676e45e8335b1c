// The demo page's own script: status, buttons, the live NATS panel. It uses
// only the hook's public API (window.callrelay), like an integrator would.
(function () {
  'use strict';
  var MAX_ITEMS = 200;
  var statusEl = document.getElementById('status');
  var feed = document.getElementById('feed');
  var callbacks = document.getElementById('callbacks');
  var own = 0;

  function prepend(list, node) {
    list.insertBefore(node, list.firstChild);
    while (list.childNodes.length > MAX_ITEMS) list.removeChild(list.lastChild);
  }
  function item(text) {
    var li = document.createElement('li');
    li.textContent = text;
    return li;
  }

  // The page's own message listener: it sees every message, the hook's
  // included, because the hook never stops one.
  window.addEventListener('message', function () {
    own++;
    document.getElementById('own').textContent = String(own);
  });

  var hooked = false;
  function hook() {
    if (hooked || !window.callrelay) return;
    hooked = true;
    ['ack', 'nack', 'drop', 'state'].forEach(function (name) {
      window.callrelay.on(name, function (e) { prepend(callbacks, item(name + ' ' + JSON.stringify(e))); });
    });
  }
  setInterval(function () {
    hook();
    statusEl.textContent = window.callrelay ? JSON.stringify(window.callrelay.status(), null, 1) : 'the hook has not loaded';
  }, 300);

  document.getElementById('drop').addEventListener('click', function () {
    if (window.callrelay) window.callrelay.reconnect();
  });
  document.getElementById('reload').addEventListener('click', function () { location.reload(); });

  var state = document.getElementById('feedstate');
  var es = new EventSource('/demo/feed');
  es.onopen = function () { state.textContent = 'connected'; };
  es.onerror = function () { state.textContent = 'reconnecting ...'; };
  es.addEventListener('nats', function (ev) {
    var m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    var li = document.createElement('li');
    var s = document.createElement('span');
    s.className = 'subj';
    s.textContent = m.subject;
    li.appendChild(s);
    var d = m.data || {};
    var head = [d.messageID || d.type, d.callId && ('call ' + d.callId), d.queue && ('queue ' + (d.queue.last && d.queue.last.name)), d.id && ('id ' + d.id)]
      .filter(Boolean).join('  ');
    li.appendChild(document.createTextNode('  ' + head));
    var pre = document.createElement('pre');
    pre.textContent = JSON.stringify(d);
    li.appendChild(pre);
    prepend(feed, li);
  });
})();
