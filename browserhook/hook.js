/*
 * callrelay browser hook: carries the Sobot V6 agent workbench's postMessage
 * events (source "agentCall", type iframeParams / callBarEvent) from the
 * parent page to the relay, without loss. Include it with one tag:
 *
 *   <script src="https://relay.example.com/hook.js"
 *           data-relay="wss://relay.example.com/v1/ws" async></script>
 *
 * Contract: docs/integration.md (the page side) and docs/protocol.md (the
 * wire). One namespace, window.callrelay; no dependencies; never throws into
 * the page; logs nothing unless data-debug is set.
 *
 * The first part of this file holds pure functions (no DOM, no clock, no
 * randomness of their own); Node's test runner loads them through
 * module.exports. The second part wires them to the browser.
 */
(function (root) {
  'use strict';

  // The relay replaces the literal null below with its configuration, e.g.
  // {"workbenchOrigins":["https://*.sobot.com"]}, when it serves GET /hook.js.
  // Used as a plain file, it stays null and data-workbench-origins applies.
  var SERVED_CONFIG = /*callrelay:config*/null/*callrelay:end*/;

  var CLIENT = 'callrelay-hook/1';
  var STORAGE_KEY = 'callrelay.outbox.v1';
  var SESSION_KEY = 'callrelay.session.v1';
  var FORWARDED_TYPES = { iframeParams: true, callBarEvent: true };
  var DEFAULTS = {
    outboxMax: 500, // events kept at most; the oldest is dropped beyond
    outboxMaxAgeMs: 24 * 60 * 60 * 1000, // events older than this are dropped
    backoffBaseMs: 500, // first reconnect waits up to this long
    backoffMaxMs: 30000, // no reconnect waits longer than this
    maxMessageBytes: 65536, // until the relay's welcome says otherwise
    beaconMaxBytes: 60000, // one sendBeacon body (browsers allow 64 KiB in flight)
    beaconMaxEvents: 500 // the relay's batch limit
  };

  // ---------------------------------------------------------------- pure part

  var ORIGIN_RE = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[^\/?#@:\[\]\s]+)(?::(\d{1,5}))?\/?$/;
  var DEFAULT_PORTS = { http: '80', https: '443' };

  // parseOrigin splits "scheme://host[:port]" into lower-case parts with an
  // explicit port (the scheme's default when absent). It returns null for
  // anything else: paths, user info, other schemes.
  function parseOrigin(s) {
    if (typeof s !== 'string') return null;
    var m = ORIGIN_RE.exec(s.trim().toLowerCase());
    if (!m || !DEFAULT_PORTS[m[1]]) return null;
    var port = m[3] || DEFAULT_PORTS[m[1]];
    if (Number(port) > 65535) return null;
    return { scheme: m[1], host: m[2], port: String(Number(port)) };
  }

  var LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

  // compileOrigins turns an allowlist (exact origins and "https://*.domain"
  // patterns, the relay's --workbench-origins syntax) into a matcher.
  // Entries that are not valid are ignored and returned in invalid; a lone
  // "*" is one of them: no setting trusts every origin.
  function compileOrigins(list) {
    var out = { exact: {}, patterns: [], invalid: [] };
    (list || []).forEach(function (raw) {
      if (typeof raw !== 'string' || raw.trim() === '') return;
      var o = parseOrigin(raw);
      if (!o) { out.invalid.push(raw); return; }
      if (o.host.indexOf('*') === -1) {
        out.exact[o.scheme + '://' + o.host + ':' + o.port] = true;
        return;
      }
      var rest = o.host.slice(2);
      var labels = rest.split('.');
      if (o.host.slice(0, 2) !== '*.' || labels.length < 2 || !labels.every(function (l) { return LABEL_RE.test(l); })) {
        out.invalid.push(raw);
        return;
      }
      out.patterns.push({ scheme: o.scheme, suffix: '.' + rest, port: o.port });
    });
    return out;
  }

  // originAllowed reports whether origin (a MessageEvent's origin) is on the
  // compiled allowlist: scheme, host and port compared exactly, patterns
  // matching proper subdomains only, never a substring.
  function originAllowed(compiled, origin) {
    var o = parseOrigin(origin);
    if (!o || o.host.indexOf('*') !== -1) return false;
    if (compiled.exact[o.scheme + '://' + o.host + ':' + o.port] === true) return true;
    for (var i = 0; i < compiled.patterns.length; i++) {
      var p = compiled.patterns[i];
      if (p.scheme === o.scheme && p.port === o.port && o.host.length > p.suffix.length &&
          o.host.slice(-p.suffix.length) === p.suffix) {
        return true;
      }
    }
    return false;
  }

  // isWorkbenchMessage reports whether data is a message the hook forwards.
  function isWorkbenchMessage(data) {
    return data !== null && typeof data === 'object' && data.source === 'agentCall' &&
      typeof data.type === 'string' && FORWARDED_TYPES[data.type] === true;
  }

  // closeText says in words why a WebSocket closed, for lastError: what the
  // close code means to the page, then the relay's reason when it gave one.
  function closeText(code, reason) {
    var what;
    switch (code) {
      case 4000: what = 'the page dropped the connection (callrelay.reconnect())'; break;
      case 1001: what = 'the relay went away'; break;
      case 1006: what = 'the connection to the relay was lost'; break;
      case 1008: what = 'the relay refused the connection'; break;
      case 1011: what = 'the relay failed'; break;
      default: what = 'the relay closed the connection';
    }
    if (reason) what += ': ' + reason;
    return what + '; reconnecting';
  }

  // backoffDelay is the wait before reconnect attempt number attempt (0 for
  // the first): "full jitter", a uniform draw from [0, min(max, base * 2^n)).
  // random is a function returning [0, 1), like Math.random.
  function backoffDelay(attempt, baseMs, maxMs, random) {
    var n = Math.max(0, Math.min(attempt | 0, 30));
    var ceiling = Math.min(maxMs, baseMs * Math.pow(2, n));
    var r = random();
    if (!(r >= 0 && r < 1)) r = 0;
    return Math.floor(r * ceiling);
  }

  // trimOutbox applies the bounds to items (oldest first, each with t, the
  // time seen in ms): events older than maxAgeMs go first, then the oldest
  // ones beyond maxCount. It returns the kept items and the dropped ones with
  // their reason ("expired" or "outbox_full").
  function trimOutbox(items, now, maxCount, maxAgeMs) {
    var kept = [];
    var dropped = [];
    items.forEach(function (it) {
      if (now - it.t > maxAgeMs) dropped.push({ item: it, reason: 'expired' });
      else kept.push(it);
    });
    var over = kept.length - Math.max(0, maxCount);
    if (over > 0) {
      kept.splice(0, over).forEach(function (it) { dropped.push({ item: it, reason: 'outbox_full' }); });
    }
    return { items: kept, dropped: dropped };
  }

  // firstWaiting returns the index of the oldest item in items (oldest
  // first) that is not in flight (inflight: id -> true), or -1. An item that
  // waits (not yet sent on this connection, or answered with retry) holds
  // every newer one behind it: the hook never sends a newer event ahead of
  // an older one (docs/protocol.md, "Order and pipelining").
  function firstWaiting(items, inflight) {
    for (var i = 0; i < items.length; i++) {
      if (!inflight[items[i].id]) return i;
    }
    return -1;
  }

  // eventObject is the wire shape of one outbox item (docs/protocol.md).
  function eventObject(item) {
    return { id: item.id, seenAt: item.seenAt, data: item.data };
  }

  // eventFrame is the WebSocket frame of one outbox item, as text.
  function eventFrame(item) {
    return JSON.stringify({ type: 'event', id: item.id, seenAt: item.seenAt, data: item.data });
  }

  // helloFrame is the first frame on every connection.
  function helloFrame(session, token) {
    var f = { type: 'hello', session: session, client: CLIENT };
    if (typeof token === 'string' && token !== '') f.token = token;
    return JSON.stringify(f);
  }

  // utf8Length is the byte length of s in UTF-8.
  function utf8Length(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; }
      else n += 3;
    }
    return n;
  }

  // beaconBodies splits items into POST /v1/events bodies of at most
  // maxBytes and maxEvents each, in order. An item too large for any body on
  // its own is left out (the WebSocket path reports it). A token, when
  // given, rides in every body: sendBeacon cannot set headers.
  function beaconBodies(items, maxBytes, maxEvents, token) {
    var bodies = [];
    var parts = [];
    var size = 0;
    var head = token ? '{"token":' + JSON.stringify(token) + ',"events":[' : '{"events":[';
    var overhead = utf8Length(head) + 2;
    function flush() {
      if (parts.length) bodies.push(head + parts.join(',') + ']}');
      parts = [];
      size = 0;
    }
    items.forEach(function (it) {
      var s = JSON.stringify(eventObject(it));
      var n = utf8Length(s) + 1;
      if (n + overhead > maxBytes) return;
      if (parts.length >= maxEvents || size + n + overhead > maxBytes) flush();
      parts.push(s);
      size += n;
    });
    flush();
    return bodies;
  }

  // eventsURL derives the POST /v1/events address from the WebSocket one:
  // ws://h/v1/ws -> http://h/v1/events, wss -> https.
  function eventsURL(wsURL) {
    var m = /^(wss?):\/\/([^\/?#]+)(\/[^?#]*)?/i.exec(wsURL || '');
    if (!m) return null;
    var scheme = m[1].toLowerCase() === 'wss' ? 'https' : 'http';
    var path = m[3] || '/';
    path = /\/ws$/.test(path) ? path.replace(/\/ws$/, '/events') : '/v1/events';
    return scheme + '://' + m[2] + path;
  }

  // newId returns a random UUID: crypto.randomUUID where it exists (secure
  // contexts), else one built from crypto.getRandomValues, else from random.
  function newId(cryptoObj, random) {
    try {
      if (cryptoObj && typeof cryptoObj.randomUUID === 'function') return cryptoObj.randomUUID();
    } catch (e) { /* fall through */ }
    var b = new Array(16);
    var filled = false;
    try {
      if (cryptoObj && typeof cryptoObj.getRandomValues === 'function') {
        var a = cryptoObj.getRandomValues(new Uint8Array(16));
        for (var i = 0; i < 16; i++) b[i] = a[i];
        filled = true;
      }
    } catch (e) { /* fall through */ }
    if (!filled) for (var j = 0; j < 16; j++) b[j] = Math.floor(random() * 256) & 255;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = b.map(function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // positiveInt parses a data attribute as a positive integer, or returns def.
  function positiveInt(s, def) {
    if (typeof s !== 'string' || !/^\s*\d+\s*$/.test(s)) return def;
    var n = parseInt(s, 10);
    return n > 0 ? n : def;
  }

  // readConfig builds the settings from the script tag's data attributes
  // (attrs: name without "data-" -> value) and the relay's served config.
  function readConfig(attrs, served, scriptSrc) {
    var relayURL = attrs.relay || '';
    if (!relayURL && scriptSrc) {
      var m = /^(https?):\/\/([^\/?#]+)/i.exec(scriptSrc);
      if (m) relayURL = (m[1].toLowerCase() === 'https' ? 'wss' : 'ws') + '://' + m[2] + '/v1/ws';
    }
    var origins = served && Array.isArray(served.workbenchOrigins) ? served.workbenchOrigins :
      String(attrs['workbench-origins'] || '').split(/[\s,]+/);
    return {
      relay: relayURL,
      events: attrs.events || eventsURL(relayURL),
      token: attrs.token || '',
      tokenCallback: attrs['token-callback'] || '',
      workbenchOrigins: origins.filter(function (s) { return s !== ''; }),
      outboxMax: positiveInt(attrs['outbox-max'], DEFAULTS.outboxMax),
      outboxMaxAgeMs: positiveInt(attrs['outbox-max-age'], DEFAULTS.outboxMaxAgeMs / 1000) * 1000,
      backoffBaseMs: positiveInt(attrs['backoff-base-ms'], DEFAULTS.backoffBaseMs),
      backoffMaxMs: positiveInt(attrs['backoff-max-ms'], DEFAULTS.backoffMaxMs),
      debug: attrs.debug !== undefined && attrs.debug !== 'false'
    };
  }

  var pure = {
    parseOrigin: parseOrigin,
    compileOrigins: compileOrigins,
    originAllowed: originAllowed,
    isWorkbenchMessage: isWorkbenchMessage,
    backoffDelay: backoffDelay,
    trimOutbox: trimOutbox,
    firstWaiting: firstWaiting,
    eventFrame: eventFrame,
    helloFrame: helloFrame,
    utf8Length: utf8Length,
    closeText: closeText,
    beaconBodies: beaconBodies,
    eventsURL: eventsURL,
    newId: newId,
    readConfig: readConfig,
    DEFAULTS: DEFAULTS
  };

  if (typeof module === 'object' && module && module.exports) {
    module.exports = pure;
    return;
  }
  if (!root || !root.document || root.callrelay) return; // not a page, or loaded twice

  // ------------------------------------------------------------- browser part

  var win = root;
  var doc = win.document;
  var script = doc.currentScript || doc.querySelector('script[data-relay]');
  var attrs = {};
  if (script && script.attributes) {
    for (var ai = 0; ai < script.attributes.length; ai++) {
      var an = script.attributes[ai].name;
      if (an.indexOf('data-') === 0) attrs[an.slice(5)] = script.attributes[ai].value;
    }
  }
  var cfg = readConfig(attrs, SERVED_CONFIG, script && script.src);
  var allow = compileOrigins(cfg.workbenchOrigins);

  var listeners = { ack: [], nack: [], drop: [], state: [] };
  var counts = { sent: 0, acked: 0, dropped: 0, beaconed: 0 };
  var lastError = null;
  var outbox = []; // {id, seenAt, t, data}, oldest first
  var inflight = {}; // id -> true, sent on the current socket and unanswered
  var storageMode = 'session';
  var ws = null;
  var connected = false;
  var draining = false; // the relay said it is shutting down: send nothing more on this socket
  var attempt = 0;
  var reconnectTimer = null;
  var resendTimer = null;
  var persistTimer = null;
  var maxMessageBytes = DEFAULTS.maxMessageBytes;
  var lastBeacon = 0;
  var lastToken = ''; // the token of the latest connection, for beacons

  function debug() {
    if (!cfg.debug) return;
    try {
      var args = Array.prototype.slice.call(arguments);
      args.unshift('[callrelay]');
      win.console.debug.apply(win.console, args);
    } catch (e) { /* never throw */ }
  }

  // guard wraps every function the browser calls: nothing escapes into the page.
  function guard(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (e) {
        fail('internal', e && e.message ? e.message : String(e));
      }
    };
  }

  // fail records the latest problem. until names what ends it, if anything
  // does: "welcome" (the relay answered a new connection) or "ack" (the
  // relay published again); settle clears it then.
  function fail(code, message, until) {
    lastError = { code: code, message: String(message || ''), at: new Date().toISOString(), until: until || '' };
    debug('error', code, lastError.message);
  }

  function settle(what) {
    if (lastError && lastError.until === what) lastError = null;
  }

  function emit(name, payload) {
    var fns = listeners[name].slice();
    for (var i = 0; i < fns.length; i++) {
      try { fns[i](payload); } catch (e) { debug('a ' + name + ' callback threw', e); }
    }
  }

  // ------------------------------------------------------------- storage

  function storage() {
    try { return win.sessionStorage || null; } catch (e) { return null; }
  }

  function loadSession() {
    var s = storage();
    var id = null;
    try { id = s && s.getItem(SESSION_KEY); } catch (e) { /* memory only */ }
    if (!id || !/^[A-Za-z0-9._:-]{1,128}$/.test(id)) {
      id = newId(win.crypto, Math.random);
      try { if (s) s.setItem(SESSION_KEY, id); } catch (e) { /* memory only */ }
    }
    return id;
  }

  function loadOutbox() {
    var s = storage();
    if (!s) { storageMode = 'memory'; return []; }
    try {
      var raw = s.getItem(STORAGE_KEY);
      if (!raw) return [];
      var parsed = JSON.parse(raw);
      if (!parsed || parsed.v !== 1 || !Array.isArray(parsed.items)) return [];
      return parsed.items.filter(function (it) {
        return it && typeof it.id === 'string' && typeof it.seenAt === 'string' && typeof it.t === 'number' && isWorkbenchMessage(it.data);
      });
    } catch (e) {
      storageMode = 'memory';
      fail('storage_unavailable', 'sessionStorage could not be read: ' + (e && e.name));
      return [];
    }
  }

  // persist writes the outbox to sessionStorage. A failure (storage blocked,
  // quota full) switches to memory: the outbox keeps working, it just does
  // not survive a reload; every later change tries storage again.
  function persist() {
    if (persistTimer) { win.clearTimeout(persistTimer); persistTimer = null; }
    var s = storage();
    if (!s) { storageMode = 'memory'; return; }
    try {
      if (outbox.length === 0) s.removeItem(STORAGE_KEY);
      else s.setItem(STORAGE_KEY, JSON.stringify({ v: 1, items: outbox }));
      if (storageMode !== 'session') debug('sessionStorage works again');
      storageMode = 'session';
    } catch (e) {
      if (storageMode === 'session') {
        fail(e && e.name === 'QuotaExceededError' ? 'storage_full' : 'storage_unavailable',
          'the outbox is kept in memory only: ' + (e && e.name));
      }
      storageMode = 'memory';
    }
  }

  // persistSoon batches the writes that only remove events: losing one of
  // those to a crash costs a harmless duplicate resend, never an event.
  function persistSoon() {
    if (!persistTimer) persistTimer = win.setTimeout(guard(persist), 100);
  }

  // ------------------------------------------------------------- outbox

  function drop(item, reason, detail) {
    counts.dropped++;
    delete inflight[item.id];
    debug('dropped', item.id, reason);
    emit('drop', { id: item.id, reason: reason, code: detail && detail.code, message: detail && detail.message });
  }

  function trim() {
    var r = trimOutbox(outbox, Date.now(), cfg.outboxMax, cfg.outboxMaxAgeMs);
    outbox = r.items;
    r.dropped.forEach(function (d) { drop(d.item, d.reason); });
    if (r.dropped.length) fail('outbox_dropped', r.dropped.length + ' event(s) dropped: ' + r.dropped[0].reason);
  }

  function removeById(id) {
    for (var i = 0; i < outbox.length; i++) {
      if (outbox[i].id === id) return outbox.splice(i, 1)[0];
    }
    return null;
  }

  function enqueue(data) {
    var now = Date.now();
    var item = { id: newId(win.crypto, Math.random), seenAt: new Date(now).toISOString(), t: now, data: data };
    try {
      JSON.stringify(item.data);
    } catch (e) {
      counts.dropped++;
      fail('unserializable', 'a workbench message could not be encoded as JSON');
      emit('drop', { id: item.id, reason: 'unserializable' });
      return;
    }
    outbox.push(item);
    trim();
    persist();
    debug('queued', item.id, data.type, data.params && data.params.messageID);
    // Sent at once only when nothing older waits to be sent again;
    // otherwise it goes out behind the older ones, on the next resend.
    if (connected && firstWaiting(outbox, inflight) === outbox.length - 1) sendItem(item);
  }

  // ------------------------------------------------------------- WebSocket

  function sendItem(item) {
    if (!connected || draining || inflight[item.id]) return;
    var frame = eventFrame(item);
    if (utf8Length(frame) > maxMessageBytes) {
      // The relay would close the connection (1009); sending it again after
      // every reconnect would block everything behind it.
      removeById(item.id);
      persist();
      fail('too_large', 'an event is larger than the relay accepts (' + maxMessageBytes + ' bytes)');
      drop(item, 'too_large', { code: 'too_large' });
      return;
    }
    try {
      ws.send(frame);
      inflight[item.id] = true;
      counts.sent++;
    } catch (e) {
      fail('send_failed', e && e.message);
    }
  }

  function sendAll() {
    outbox.slice().forEach(sendItem);
  }

  function setConnected(c, detail) {
    if (connected === c) return;
    connected = c;
    emit('state', { connected: c, code: detail && detail.code, reason: detail && detail.reason });
  }

  function resolveToken(cb) {
    if (cfg.tokenCallback) {
      var fn = win[cfg.tokenCallback];
      if (typeof fn !== 'function') {
        fail('token_failed', 'data-token-callback names no function: ' + cfg.tokenCallback);
        cb(cfg.token);
        return;
      }
      var settled = false;
      var done = function (t) { if (!settled) { settled = true; cb(typeof t === 'string' ? t : ''); } };
      try {
        var r = fn();
        if (r && typeof r.then === 'function') {
          r.then(guard(done), guard(function (e) { fail('token_failed', e && e.message); done(''); }));
          win.setTimeout(guard(function () { if (!settled) { fail('token_failed', 'the token callback did not answer within 10s'); done(''); } }), 10000);
        } else {
          done(r);
        }
      } catch (e) {
        fail('token_failed', e && e.message);
        done('');
      }
      return;
    }
    cb(cfg.token);
  }

  function connect() {
    reconnectTimer = null;
    if (ws || !cfg.relay) return;
    resolveToken(guard(function (token) {
      lastToken = token || '';
      if (ws) return;
      var sock;
      try {
        sock = new win.WebSocket(cfg.relay);
      } catch (e) {
        fail('connect_failed', e && e.message, 'welcome');
        scheduleReconnect();
        return;
      }
      ws = sock;
      sock.onopen = guard(function () {
        if (ws !== sock) return;
        inflight = {};
        draining = false;
        sock.send(helloFrame(session, token));
        setConnected(true);
        debug('connected; resending', outbox.length);
        sendAll();
      });
      sock.onmessage = guard(function (ev) {
        if (ws === sock) onFrame(ev.data);
      });
      sock.onclose = guard(function (ev) {
        if (ws !== sock) return;
        onClose(ev.code, ev.reason);
      });
      sock.onerror = guard(function () { /* onclose follows */ });
    }));
  }

  function onClose(code, reason) {
    ws = null;
    inflight = {};
    if (resendTimer) { win.clearTimeout(resendTimer); resendTimer = null; }
    if (code === 1009 || code === 1003) {
      // The hook checks sizes and sends only text: either is a bug to report.
      fail('closed_' + code, reason || 'the relay refused a frame');
    } else if (code !== 1000) {
      fail('disconnected', closeText(code, reason), 'welcome');
    }
    setConnected(false, { code: code, reason: reason });
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    var delay = backoffDelay(attempt++, cfg.backoffBaseMs, cfg.backoffMaxMs, Math.random);
    debug('reconnect in', delay, 'ms');
    reconnectTimer = win.setTimeout(guard(connect), delay);
  }

  function onFrame(text) {
    var f;
    try { f = JSON.parse(text); } catch (e) { fail('bad_frame', 'the relay sent a frame that is not JSON'); return; }
    if (!f || typeof f !== 'object') return;
    switch (f.type) {
      case 'welcome':
        settle('welcome'); // the relay answered: a lost connection's lastError is over
        if (typeof f.maxMessageBytes === 'number' && f.maxMessageBytes > 0) maxMessageBytes = f.maxMessageBytes;
        resendNow(); // the relay answered: the back-off starts afresh
        break;
      case 'resume':
        debug('the relay can publish again; resending', outbox.length);
        resendNow();
        break;
      case 'draining':
        // The relay answers what it has read, then closes with 1001; what
        // is not acknowledged goes out again on the next connection.
        draining = true;
        debug('the relay is shutting down');
        break;
      case 'ack': {
        delete inflight[f.id];
        var item = removeById(f.id);
        if (item) {
          counts.acked++;
          persistSoon();
        }
        settle('ack');
        emit('ack', { id: f.id, status: f.status });
        break;
      }
      case 'nack': {
        delete inflight[f.id];
        emit('nack', { id: f.id, code: f.code, message: f.message, retry: f.retry === true });
        if (f.retry === true) {
          fail(f.code || 'nack', f.message, 'ack');
          scheduleResend();
        } else {
          var gone = f.id ? removeById(f.id) : null;
          fail(f.code || 'nack', f.message);
          if (gone) {
            persist();
            drop(gone, 'rejected', { code: f.code, message: f.message });
          }
        }
        break;
      }
      default:
        break;
    }
  }

  // resendNow resets the back-off and sends at once, oldest first, what is
  // not in flight: on welcome, and when the relay says it can publish again
  // (resume) instead of waiting out the back-off.
  function resendNow() {
    attempt = 0;
    if (resendTimer) { win.clearTimeout(resendTimer); resendTimer = null; }
    sendAll();
  }

  // scheduleResend sends what is not in flight again after a back-off, on
  // the same connection (the relay said "not now", e.g. NATS is down).
  function scheduleResend() {
    if (resendTimer) return;
    var delay = backoffDelay(attempt++, cfg.backoffBaseMs, cfg.backoffMaxMs, Math.random);
    resendTimer = win.setTimeout(guard(function () {
      resendTimer = null;
      sendAll();
    }), delay);
  }

  // ------------------------------------------------------------- beacon

  // beacon hands what is still queued to navigator.sendBeacon. The events
  // stay in the outbox: the WebSocket sends them again later and the relay
  // acks that resend as a duplicate.
  function beacon(force) {
    if (!outbox.length || !cfg.events) return;
    var now = Date.now();
    if (!force && now - lastBeacon < 2000) return;
    lastBeacon = now;
    var nav = win.navigator;
    if (!nav || typeof nav.sendBeacon !== 'function') return;
    persist();
    var bodies = beaconBodies(outbox, DEFAULTS.beaconMaxBytes, DEFAULTS.beaconMaxEvents, lastToken || cfg.token);
    var n = 0;
    for (var i = 0; i < bodies.length; i++) {
      var ok = false;
      try { ok = nav.sendBeacon(cfg.events, bodies[i]); } catch (e) { ok = false; }
      if (!ok) { fail('beacon_refused', 'the browser refused a beacon'); break; }
      n++;
    }
    var items = n === bodies.length ? outbox.length : 0;
    counts.beaconed += items;
    debug('beacon', items, 'events');
  }

  // ------------------------------------------------------------- page events

  function onMessage(ev) {
    if (!ev || !originAllowed(allow, ev.origin)) return;
    var data = ev.data;
    if (!isWorkbenchMessage(data)) return;
    enqueue(data);
  }

  var session = loadSession();
  outbox = loadOutbox();
  trim();
  if (allow.invalid.length) fail('config', 'invalid workbench origins ignored: ' + allow.invalid.join(', '));
  if (!cfg.relay) fail('config', 'data-relay is missing');

  win.addEventListener('message', guard(onMessage));
  doc.addEventListener('visibilitychange', guard(function () {
    if (doc.visibilityState === 'hidden') beacon(false);
    else if (!ws && !connected) { attempt = 0; if (reconnectTimer) { win.clearTimeout(reconnectTimer); reconnectTimer = null; } connect(); }
  }));
  win.addEventListener('pagehide', guard(function () { persist(); beacon(true); }));
  win.addEventListener('online', guard(function () {
    if (!ws) { attempt = 0; if (reconnectTimer) { win.clearTimeout(reconnectTimer); reconnectTimer = null; } connect(); }
  }));

  var api = {
    version: CLIENT,
    status: function () {
      return {
        connected: connected,
        queued: outbox.length,
        sent: counts.sent,
        acked: counts.acked,
        dropped: counts.dropped,
        beaconed: counts.beaconed,
        lastError: lastError ? { code: lastError.code, message: lastError.message, at: lastError.at } : null,
        storage: storageMode,
        session: session
      };
    },
    on: function (name, fn) {
      if (!listeners[name] || typeof fn !== 'function') return function () {};
      listeners[name].push(fn);
      return function () {
        var i = listeners[name].indexOf(fn);
        if (i !== -1) listeners[name].splice(i, 1);
      };
    },
    reconnect: function () {
      try {
        if (ws) ws.close(4000, 'reconnect requested by the page');
        else { attempt = 0; if (reconnectTimer) { win.clearTimeout(reconnectTimer); reconnectTimer = null; } connect(); }
      } catch (e) { /* never throw */ }
    }
  };
  try {
    Object.defineProperty(win, 'callrelay', { value: Object.freeze(api), enumerable: true });
  } catch (e) {
    win.callrelay = api;
  }
  debug('started; relay', cfg.relay, 'origins', cfg.workbenchOrigins.join(','), 'restored', outbox.length);
  connect();
})(typeof window !== 'undefined' ? window : this);
