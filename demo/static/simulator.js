/*
 * callrelay workbench simulator: plays call flows the way the Sobot V6 agent
 * workbench posts them to its parent page (event.data = {source: "agentCall",
 * type: "iframeParams" | "callBarEvent", params}), shaped after the vendor's
 * tables (shared/reference). All data is invented.
 *
 * The demo's simulated workbench (/ on --demo-workbench-addr) and the
 * browser tests (browserhook/test) load this same file, so they cannot drift.
 * In a page it defines window.callrelaySimulator; in Node, module.exports.
 */
(function (root) {
  'use strict';

  var COMPANY = 'c3f1a2b4d5e6';
  var AGENT = { email: 'agent.li@example.com', agentID: '1001', agentUUID: 'a8c2e4f6-1b3d-4e5f-8a9b-0c1d2e3f4a5b', thisDN: '8001' };
  var QUEUE = {
    firstDistributedQueueUUID: 'q-7f3e9a', firstDistributedQueueId: '301', firstDistributedQueueName: 'After-sales',
    lastDistributedQueueUUID: 'q-2b8d1c', lastDistributedQueueId: '305', lastDistributedQueueName: 'VIP after-sales'
  };

  // callID makes a call id like the vendor's: digits, unique per call.
  function callID(now, seq) {
    return String(now) + String(1000 + (seq % 9000));
  }

  function bar(params) { return { source: 'agentCall', type: 'callBarEvent', params: params }; }
  function talk(params) { return { source: 'agentCall', type: 'iframeParams', params: params }; }

  function common(messageID, t, extra) {
    var p = { messageID: messageID, creationTime: t, companyId: COMPANY, referenceID: 'ref-' + t };
    for (var k in extra) if (Object.prototype.hasOwnProperty.call(extra, k)) p[k] = extra[k];
    return p;
  }

  // inbound: a customer calls in, the agent answers, the customer hangs up.
  function inbound(opts) {
    var now = opts.now, id = opts.callId || callID(now, opts.seq || 1);
    var leg = { callID: id, partyID: id + '-2', callType: 'Inbound', partyRole: 'Agent', ANI: '158****2496', DNIS: '4008001234', thisDN: AGENT.thisDN, otherDN: '158****2496', thisDNRole: 'Destination', otherDNRole: 'Origination', attachedData: '{"ivr":"after-sales","lang":"zh"}' };
    return [
      bar(common('EventRinging', now, leg)),
      talk({
        partnerId: 'crm-778812', uid: 'u-20931', uemail: 'customer.wang@example.com', email: AGENT.email,
        sign: 'e10adc3949ba59abbe56e057f20f883e', timestamp: now + 5,
        uphone: '158****2496', encryptUphone: 'U2FsdGVkX19kZW1vLWVuY3J5cHRlZC11cGhvbmU=',
        gatewayNumber: '4008001234', callType: 2, callId: id, province: 'Zhejiang', city: 'Hangzhou',
        startTime: now, orderNo: 'SO-2026-118204'
      }),
      bar(common('EventEstablished', now + 4200, Object.assign({}, leg, { province: 'Zhejiang', city: 'Hangzhou' }, QUEUE))),
      bar(common('EventReleased', now + 96300, leg)),
      bar(common('EventCallDeleted', now + 96400, { callID: id, callType: 'Inbound' }))
    ];
  }

  // outbound: the agent dials a customer, who answers; the agent hangs up.
  function outbound(opts) {
    var now = opts.now, id = opts.callId || callID(now, opts.seq || 2);
    var leg = { callID: id, partyID: id + '-1', callType: 'Outbound', partyRole: 'Agent', ANI: '4008001234', DNIS: '139****7781', thisDN: AGENT.thisDN, otherDN: '139****7781', thisDNRole: 'Origination', otherDNRole: 'Destination' };
    return [
      bar(common('EventDialing', now, leg)),
      talk({
        partnerId: 'crm-530017', uid: 'u-55102', uemail: '', email: AGENT.email,
        sign: '5f4dcc3b5aa765d61d8327deb882cf99', timestamp: now + 3,
        uphone: '139****7781', encryptUphone: 'U2FsdGVkX19vdXRib3VuZC1kZW1vLXBob25l',
        gatewayNumber: '4008001234', callType: 3, callId: id, province: 'Guangdong', city: 'Shenzhen',
        startTime: now
      }),
      bar(common('EventEstablished', now + 7800, Object.assign({}, leg, { province: 'Guangdong', city: 'Shenzhen' }))),
      bar(common('EventReleased', now + 61200, leg)),
      bar(common('EventCallDeleted', now + 61300, { callID: id, callType: 'Outbound' }))
    ];
  }

  // agentStates: the agent logs in, becomes ready, takes a break, is ready again.
  function agentStates(opts) {
    var now = opts.now;
    var a = { agentID: AGENT.agentID, agentUUID: AGENT.agentUUID, thisDN: AGENT.thisDN, thisQueues: '301,305' };
    return [
      bar(common('EventAgentLogin', now, a)),
      bar(common('EventAgentReady', now + 1000, a)),
      bar(common('EventAgentNotReady', now + 2000, Object.assign({ attachedData: '{"reason":"break"}' }, a))),
      bar(common('EventAgentReady', now + 3000, a))
    ];
  }

  // noise: messages a real page also sees, which the hook must leave alone.
  function noise() {
    return [
      { source: 'agentCall', type: 'IFRAME_READY' },
      { source: 'crm-widget', type: 'callBarEvent', params: { messageID: 'EventRinging' } },
      'a plain string message'
    ];
  }

  var flows = { inbound: inbound, outbound: outbound, agentStates: agentStates, noise: noise };

  if (typeof module === 'object' && module && module.exports) {
    module.exports = { flows: flows };
    return;
  }
  if (!root || !root.document) return;

  var seq = 0;
  var SAVE_KEY = 'callrelay.simulator.v1';

  // play posts the named flow to the parent page and resolves with the
  // messages it posted. By default one message every opts.gapMs (default
  // 400), with the flow's own times. With opts.pace, an array of waits in ms
  // (before each message), it plays like a real call instead: each message
  // is stamped with the time it is posted, and with opts.persist its
  // progress is kept in sessionStorage so that resume() carries on after
  // the page is reloaded. opts.onPost(i, n, msg) follows every post;
  // opts.onWait(state, msgs, ms) reports each wait of a paced flow.
  function play(name, opts) {
    opts = opts || {};
    var flow = flows[name];
    if (!flow) return Promise.reject(new Error('no such flow: ' + name));
    var now = Date.now();
    var s = ++seq;
    if (Array.isArray(opts.pace)) {
      var st = { name: name, now: now, seq: s, callId: opts.callId || null, next: 0, pace: opts.pace, at: now + (opts.pace[0] || 0), persist: !!opts.persist };
      if (st.persist) save(st);
      return paced(st, opts);
    }
    var msgs = flow({ now: now, seq: s, callId: opts.callId });
    var gap = typeof opts.gapMs === 'number' ? opts.gapMs : 400;
    var target = opts.target || root.parent;
    return new Promise(function (resolve) {
      var i = 0;
      (function next() {
        if (i >= msgs.length) { resolve(msgs); return; }
        target.postMessage(msgs[i++], '*');
        if (typeof opts.onPost === 'function') opts.onPost(i, msgs.length, msgs[i - 1]);
        if (gap > 0) root.setTimeout(next, gap); else next();
      })();
    });
  }

  // saved returns the paced flow in progress that a reload interrupted, or null.
  function saved() {
    try {
      var st = JSON.parse(root.sessionStorage.getItem(SAVE_KEY));
      return st && flows[st.name] && Array.isArray(st.pace) && st.next >= 0 ? st : null;
    } catch (e) {
      return null;
    }
  }
  function save(st) {
    try { root.sessionStorage.setItem(SAVE_KEY, JSON.stringify(st)); } catch (e) { /* the flow just won't survive a reload */ }
  }
  function forget() {
    try { root.sessionStorage.removeItem(SAVE_KEY); } catch (e) { /* nothing kept */ }
  }

  // resume carries on the flow a reload interrupted, from the message after
  // the last one posted and on its schedule; null when there is none.
  function resume(opts) {
    var st = saved();
    return st ? paced(st, opts || {}) : null;
  }

  // stamp returns a copy of msg carrying the current time, as the workbench
  // would have stamped it at that moment.
  function stamp(msg) {
    var m = JSON.parse(JSON.stringify(msg));
    if (m.type === 'callBarEvent') m.params.creationTime = Date.now();
    else if (m.type === 'iframeParams') m.params.timestamp = Date.now();
    return m;
  }

  function paced(st, opts) {
    var msgs = flows[st.name]({ now: st.now, seq: st.seq, callId: st.callId || undefined });
    var target = opts.target || root.parent;
    return new Promise(function (resolve) {
      (function step() {
        if (st.next >= msgs.length) { if (st.persist) forget(); resolve(msgs); return; }
        var wait = st.at - Date.now();
        if (wait > 0) {
          if (typeof opts.onWait === 'function') opts.onWait(st, msgs, wait);
          root.setTimeout(step, Math.min(wait, 1000));
          return;
        }
        var m = stamp(msgs[st.next]);
        target.postMessage(m, '*');
        st.next++;
        st.at = Date.now() + (st.pace[st.next] || 0);
        if (st.persist) { if (st.next < msgs.length) save(st); else forget(); }
        if (typeof opts.onPost === 'function') opts.onPost(st.next, msgs.length, m);
        step();
      })();
    });
  }

  root.callrelaySimulator = { flows: flows, play: play, resume: resume, saved: saved };
})(typeof window !== 'undefined' ? window : this);
