// The demo page's own script: the hook's status, the outage switch, a board
// of calls and agents built from what reaches NATS, and the live feed. It
// uses only the hook's public API (window.callrelay), like an integrator
// would, and the relay's subjects, like a dashboard would.
(function () {
  'use strict';
  var MAX_FEED = 200;
  var MAX_CALLBACKS = 100;
  var MAX_CARDS = 6;
  var $ = function (id) { return document.getElementById(id); };

  // ------------------------------------------------------------- helpers

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }
  function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = '0' + n; return n; }
  function clock(t) {
    var d = t ? new Date(t) : new Date();
    if (isNaN(d.getTime())) d = new Date();
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
  }
  function timeEl(t) {
    var n = el('time', '', clock(t));
    n.dateTime = new Date(t || Date.now()).toISOString();
    return n;
  }
  function duration(sec) {
    if (typeof sec !== 'number' || !isFinite(sec) || sec < 0) return '-';
    sec = Math.floor(sec);
    var h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
    return (h ? h + ':' + pad(m) : String(m)) + ':' + pad(s);
  }
  // parts fills node with the non-empty items, each kept on one line,
  // between separators where the line may wrap.
  function parts(node, items, sep) {
    items = items.filter(Boolean);
    items.forEach(function (x, i) {
      if (i) node.appendChild(document.createTextNode(sep || ' · '));
      node.appendChild(el('span', 'nw', x));
    });
    return node;
  }
  function ext(n) { return n ? 'ext\u00a0' + n : ''; }
  function prepend(list, node, max) {
    list.insertBefore(node, list.firstChild);
    while (list.childNodes.length > max) list.removeChild(list.lastChild);
  }
  // maskPhone keeps the first 3 and last 4 digits; maskEmail the first letter
  // and the domain. The board shows who is calling without showing it all.
  function maskPhone(p) {
    p = String(p || '');
    if (!p) return '';
    if (p.indexOf('*') >= 0 || p.length <= 7) return p;
    return p.slice(0, 3) + '****' + p.slice(-4);
  }
  function maskEmail(e) {
    e = String(e || '');
    var at = e.indexOf('@');
    return at > 0 ? e[0] + '***' + e.slice(at) : '';
  }

  // ------------------------------------------------------------- the hook

  var own = 0;
  window.addEventListener('message', function (e) {
    own++;
    $('own').textContent = String(own);
    // The simulated workbench asks whether this page's hook is listening
    // before it resumes a call after a reload.
    if (e.data && e.data.source === 'callrelay-demo' && e.data.type === 'listening?' && window.callrelay && e.source) {
      e.source.postMessage({ source: 'callrelay-demo', type: 'listening' }, e.origin);
    }
  });

  var callbacks = $('callbacks');
  var cbCount = 0;
  function callback(name, e) {
    cbCount++;
    $('cbcount').textContent = '(' + cbCount + ')';
    var li = el('li');
    li.appendChild(timeEl());
    var text, id = '';
    if (name === 'ack') { text = 'ack ' + e.status; id = e.id; }
    else if (name === 'nack') { text = 'nack ' + e.code + (e.retry ? ' (retry: kept, sent again)' : ' (refused, dropped)'); id = e.id; }
    else if (name === 'state') text = e.connected ? 'connected' : 'disconnected' + (e.reason ? ': ' + e.reason : '');
    else { text = name + ' ' + (e.reason || '') + (e.code ? ' ' + e.code : ''); id = e.id; }
    li.appendChild(document.createTextNode(text + ' '));
    if (id) li.appendChild(el('span', 'nw note', id));
    prepend(callbacks, li, MAX_CALLBACKS);
  }

  var hooked = false;
  function showStatus() {
    var api = window.callrelay;
    if (!api) { $('conn').textContent = 'not loaded'; return; }
    if (!hooked) {
      hooked = true;
      ['ack', 'nack', 'drop', 'state'].forEach(function (name) { api.on(name, function (e) { callback(name, e); }); });
    }
    var s = api.status();
    var conn = $('conn');
    conn.textContent = s.connected ? 'connected' : 'reconnecting';
    conn.className = 'value ' + (s.connected ? 'up' : 'down');
    $('queued').textContent = String(s.queued);
    $('queuedbox').className = 'stat' + (s.queued > 0 ? ' busy' : '');
    $('sent').textContent = String(s.sent);
    $('acked').textContent = String(s.acked);
    var le = $('lasterror');
    if (s.lastError) {
      le.className = 'lasterror bad';
      le.textContent = 'Last problem, at ' + clock(s.lastError.at) + ': ' + s.lastError.message + ' (' + s.lastError.code + ')';
    } else {
      le.className = 'lasterror ok';
      le.textContent = s.queued > 0 ? 'Sending ' + s.queued + ' queued event(s).' : 'No problem: every event seen has been acknowledged.';
    }
  }
  setInterval(showStatus, 250);
  showStatus();

  $('drop').addEventListener('click', function () { if (window.callrelay) window.callrelay.reconnect(); });
  $('reload').addEventListener('click', function () { location.reload(); });

  // ------------------------------------------------------------- the outage switch

  var outageBtn = $('outage');
  function showOutage(down) {
    if (!outageBtn) return;
    outageBtn.setAttribute('aria-pressed', down ? 'true' : 'false');
    outageBtn.textContent = down ? 'End the NATS outage' : 'Simulate a NATS outage';
    $('outagebanner').hidden = !down;
  }
  if (outageBtn) {
    fetch('/demo/outage').then(function (r) { return r.json(); }).then(function (o) { showOutage(o.down); }, function () {});
    outageBtn.addEventListener('click', function () {
      var down = outageBtn.getAttribute('aria-pressed') !== 'true';
      fetch('/demo/outage', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ down: down }) })
        .then(function (r) { return r.json(); })
        .then(function (o) { showOutage(o.down); }, function () {});
    });
  }

  // ------------------------------------------------------------- the board

  var calls = {}; // callId -> latest view (highest revision)
  var callExt = {}; // callId -> the agent's extension (thisDN), from the phone-bar events
  var agents = {}; // key -> {name, ext, presence}

  function agentKey(ext, name) { return ext ? 'ext ' + ext : name; }
  function agentOf(key) {
    if (!agents[key]) agents[key] = { name: '', ext: '', presence: '' };
    return agents[key];
  }

  var PRESENCE = { EventAgentLogin: 'logged in', EventAgentReady: 'ready', EventAgentNotReady: 'not ready', EventAgentLogout: 'logged out', EventUnreachable: 'unreachable', EventUnregistered: 'unreachable' };

  // onEvent learns agents and extensions from the phone-bar events.
  function onEvent(ev) {
    var p = ev.params || {};
    var ext = p.thisDN ? String(p.thisDN) : '';
    if (ev.callId && ext) callExt[ev.callId] = ext;
    var presence = PRESENCE[ev.messageID];
    if (presence) {
      var name = (ev.agent && (ev.agent.email || ev.agent.subject)) || (p.agentID ? 'agent ' + p.agentID : '');
      var a = agentOf(agentKey(ext, name));
      a.ext = a.ext || ext;
      a.name = a.name || name;
      a.presence = presence;
      renderAgents();
    }
  }

  function onCall(v) {
    if (!v || !v.callId) return;
    var old = calls[v.callId];
    if (old && old.revision >= v.revision) return;
    calls[v.callId] = v;
    var ext = callExt[v.callId] || '';
    var name = v.agent && (v.agent.email || v.agent.subject || v.agent.id) || '';
    if (ext || name) {
      var a = agentOf(agentKey(ext, name));
      a.ext = a.ext || ext;
      if (name) a.name = name;
    }
    renderCalls();
    renderAgents();
  }

  function since(t) { return t ? (Date.now() - Date.parse(t)) / 1000 : NaN; }
  function ringOf(v) {
    if (typeof v.ringSeconds === 'number') return { s: v.ringSeconds, running: false };
    var from = v.ringingAt || v.dialingAt;
    if (from && (v.state === 'ringing' || v.state === 'dialing')) return { s: since(from), running: true };
    return { s: NaN, running: false };
  }
  function talkOf(v) {
    if (typeof v.talkSeconds === 'number') return { s: v.talkSeconds, running: false };
    if (v.establishedAt && v.state === 'established') return { s: since(v.establishedAt), running: true };
    return { s: NaN, running: false };
  }

  function sortedCalls() {
    return Object.keys(calls).map(function (k) { return calls[k]; })
      .sort(function (a, b) { return Date.parse(b.ringingAt || b.dialingAt || b.updatedAt) - Date.parse(a.ringingAt || a.dialingAt || a.updatedAt); })
      .slice(0, MAX_CARDS);
  }

  function card(v) {
    var c = el('article', 'card ' + (v.state || 'unknown'));
    c.setAttribute('data-call', v.callId);
    c.setAttribute('data-state', v.state || '');
    var top = el('div', 'top');
    top.appendChild(el('span', 'state', v.state || 'talk details only'));
    top.appendChild(el('span', 'dir', v.direction || 'direction unknown'));
    c.appendChild(top);
    c.appendChild(el('div', 'cid', 'call ' + v.callId + ' · revision ' + v.revision));
    var dl = el('dl');
    function row(k, items, sep, none) {
      items = items.filter(Boolean);
      if (!items.length && !none) return;
      dl.appendChild(el('dt', '', k));
      dl.appendChild(items.length ? parts(el('dd'), items, sep) : el('dd', 'note', none));
    }
    var agent = v.agent && (v.agent.email || v.agent.subject || v.agent.id);
    row('Agent', [agent, ext(callExt[v.callId])], ' · ', 'not known yet');
    var cu = v.customer || {};
    row('Customer', [maskPhone(cu.uphone), maskEmail(cu.uemail)], ' · ', v.talkDetails ? 'no number' : 'waiting for talk details');
    if (v.queue) {
      var q1 = v.queue.first && v.queue.first.name, q2 = v.queue.last && v.queue.last.name;
      row('Queue', q1 !== q2 ? [q1, q2] : [q2], ' → ');
    }
    if (v.location) row('Where', [v.location.city, v.location.province], ', ');
    c.appendChild(dl);
    var timers = el('div', 'timers');
    var ring = ringOf(v), talk = talkOf(v);
    [['Ring', ring], ['Talk', talk]].forEach(function (x) {
      var span = el('span', x[1].running ? 'running' : '');
      span.appendChild(document.createTextNode(x[0] + ' '));
      var b = el('b', '', duration(x[1].s));
      b.className = x[0].toLowerCase();
      span.appendChild(b);
      if (x[1].running) span.appendChild(document.createTextNode(' running'));
      timers.appendChild(span);
    });
    c.appendChild(timers);
    return c;
  }

  function renderCalls() {
    var box = $('calls');
    var list = sortedCalls();
    if (!list.length) return;
    box.textContent = '';
    list.forEach(function (v) { box.appendChild(card(v)); });
  }

  // activity is what an agent is doing, from its latest call, else its
  // presence (the agent-state events).
  function activity(key) {
    var a = agents[key], best = null;
    Object.keys(calls).forEach(function (id) {
      var v = calls[id];
      var ext = callExt[id] || '';
      var name = v.agent && (v.agent.email || v.agent.subject || v.agent.id) || '';
      if (agentKey(ext, name) !== key && !(a.name && name === a.name)) return;
      if (!best || Date.parse(v.updatedAt) > Date.parse(best.updatedAt)) best = v;
    });
    if (best) {
      if (best.state === 'ringing' || best.state === 'dialing') return 'ringing';
      if (best.state === 'established') return 'on a call';
      if (best.state === 'released') return 'wrap-up';
    }
    return a.presence || 'logged in';
  }

  var GROUPS = ['on a call', 'ringing', 'wrap-up', 'ready', 'not ready', 'logged in', 'logged out', 'unreachable'];
  function renderAgents() {
    var keys = Object.keys(agents);
    if (!keys.length) return;
    var by = {};
    keys.forEach(function (k) { var s = activity(k); (by[s] = by[s] || []).push(k); });
    var box = $('agents');
    box.textContent = '';
    GROUPS.forEach(function (g) {
      if (!by[g] && ['on a call', 'ready', 'not ready'].indexOf(g) < 0) return;
      var div = el('div', 'agroup ' + g.replace(/ /g, '-') + (by[g] ? ' has' : ''));
      div.setAttribute('data-state', g);
      var h = el('h4');
      h.appendChild(el('span', '', g));
      h.appendChild(el('span', 'n', (by[g] || []).length));
      div.appendChild(h);
      var ul = el('ul');
      (by[g] || []).forEach(function (k) {
        var a = agents[k];
        ul.appendChild(parts(el('li'), [a.name || k, ext(a.ext)]));
      });
      div.appendChild(ul);
      box.appendChild(div);
    });
  }

  // The running ring and talk times.
  setInterval(function () {
    var box = $('calls');
    sortedCalls().forEach(function (v) {
      var c = box.querySelector('[data-call="' + (window.CSS && CSS.escape ? CSS.escape(v.callId) : v.callId) + '"]');
      if (!c) return;
      var r = ringOf(v), t = talkOf(v);
      if (r.running) c.querySelector('b.ring').textContent = duration(r.s);
      if (t.running) c.querySelector('b.talk').textContent = duration(t.s);
    });
  }, 1000);

  // ------------------------------------------------------------- the feed

  function kindOf(subject) {
    var parts = String(subject).split('.');
    var i = parts.indexOf('callBarEvent');
    if (i >= 0) return { kind: 'event', label: parts.slice(i + 1).join('.') || 'callBarEvent' };
    var last = parts[parts.length - 1];
    if (last === 'iframeParams') return { kind: 'event', label: 'talk details' };
    if (last === 'call') return { kind: 'call', label: 'call view' };
    if (last === 'rejected') return { kind: 'rejected', label: 'rejected' };
    return { kind: 'other', label: subject };
  }

  function summary(k, d) {
    if (k.kind === 'call') return ['call ' + d.callId, d.state, 'revision ' + d.revision];
    if (k.kind === 'rejected') return [d.code, d.message];
    var p = d.params || {};
    return [d.callId && 'call ' + d.callId, d.direction, d.queue && d.queue.last && 'queue ' + d.queue.last.name,
      d.talk && 'with talk details', !d.callId && p.agentID && 'agent ' + p.agentID, !d.callId && ext(p.thisDN), d.id && 'id ' + d.id];
  }

  var feed = $('feed');
  var state = $('feedstate');
  var es = new EventSource('/demo/feed');
  es.onopen = function () { state.textContent = 'connected'; };
  es.onerror = function () { state.textContent = 'reconnecting'; };
  es.addEventListener('nats', function (ev) {
    var m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    var d = m.data && typeof m.data === 'object' ? m.data : {};
    var k = kindOf(m.subject);
    if (k.kind === 'call') onCall(d);
    else if (k.kind === 'event' && d.type === 'callBarEvent') onEvent(d);

    var li = el('li');
    li.setAttribute('data-subject', m.subject);
    var det = el('details');
    var sum = el('summary');
    sum.appendChild(timeEl(d.receivedAt || d.updatedAt));
    sum.appendChild(el('span', 'kind ' + k.kind, k.label));
    sum.appendChild(parts(el('span', 'sum'), summary(k, d)));
    det.appendChild(sum);
    det.appendChild(el('div', 'note', m.subject));
    det.appendChild(el('pre', '', JSON.stringify(m.data, null, 2)));
    li.appendChild(det);
    var none = $('nofeed');
    if (none) none.parentNode.removeChild(none);
    prepend(feed, li, MAX_FEED);
  });
})();
