// Unit tests of hook.js's pure functions, with Node's test runner and no
// browser. Run: node --test test/unit.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const hook = require('../hook.js');
const { flows } = require('../../demo/static/simulator.js');

test('hook.js in Node exports only the pure functions', () => {
  assert.equal(typeof hook.originAllowed, 'function');
  assert.equal(globalThis.callrelay, undefined);
});

test('parseOrigin', async (t) => {
  const cases = [
    ['https://crm.example.com', { scheme: 'https', host: 'crm.example.com', port: '443' }],
    ['HTTPS://CRM.Example.COM/', { scheme: 'https', host: 'crm.example.com', port: '443' }],
    ['http://localhost:8080', { scheme: 'http', host: 'localhost', port: '8080' }],
    ['http://[::1]:8080', { scheme: 'http', host: '[::1]', port: '8080' }],
    ['https://a.example.com:0443', { scheme: 'https', host: 'a.example.com', port: '443' }],
    ['https://crm.example.com/app', null],
    ['https://user@crm.example.com', null],
    ['ws://crm.example.com', null],
    ['crm.example.com', null],
    ['null', null],
    ['https://', null],
    ['https://a.example.com:99999', null],
    [42, null]
  ];
  for (const [in_, want] of cases) {
    await t.test(String(in_), () => assert.deepEqual(hook.parseOrigin(in_), want));
  }
});

test('compileOrigins refuses what trusts too much', () => {
  const c = hook.compileOrigins(['*', 'https://*', 'https://*.com', 'https://a.*.com', 'https://*.*.example.com',
    'https://a*.example.com', '*.example.com', 'https://*..com', 'https://*.-x.example.com', '', '  ',
    'https://ok.example.com', 'https://*.sobot.com']);
  assert.deepEqual(c.invalid, ['*', 'https://*', 'https://*.com', 'https://a.*.com', 'https://*.*.example.com',
    'https://a*.example.com', '*.example.com', 'https://*..com', 'https://*.-x.example.com']);
  assert.deepEqual(Object.keys(c.exact), ['https://ok.example.com:443']);
  assert.equal(c.patterns.length, 1);
});

test('originAllowed: exact, patterns, no substring matching', async (t) => {
  const c = hook.compileOrigins(['https://crm.example.com', 'http://127.0.0.1:8081', 'https://*.sobot.com', 'https://*.eu.example.org:8443']);
  const cases = [
    ['https://crm.example.com', true],
    ['https://crm.example.com:443', true],
    ['https://CRM.example.com', true],
    ['http://crm.example.com', false], // scheme
    ['https://crm.example.com:8443', false], // port
    ['https://crm.example.com.evil.net', false], // suffix of ours as prefix
    ['https://evilcrm.example.com', false],
    ['http://127.0.0.1:8081', true],
    ['http://127.0.0.1:8082', false],
    ['http://127.0.0.1', false],
    ['https://v6.sobot.com', true],
    ['https://a.b.sobot.com', true], // any depth
    ['https://sobot.com', false], // not the domain itself
    ['https://evilsobot.com', false], // no substring
    ['https://sobot.com.evil.net', false],
    ['http://v6.sobot.com', false],
    ['https://v6.sobot.com:444', false],
    ['https://x.eu.example.org:8443', true],
    ['https://x.eu.example.org', false],
    ['https://*.sobot.com', false], // a pattern is not an origin
    ['null', false],
    ['', false],
    [undefined, false]
  ];
  for (const [origin, want] of cases) {
    await t.test(String(origin), () => assert.equal(hook.originAllowed(c, origin), want));
  }
});

test('originAllowed with no origins allows nothing', () => {
  assert.equal(hook.originAllowed(hook.compileOrigins([]), 'https://v6.sobot.com'), false);
  assert.equal(hook.originAllowed(hook.compileOrigins(['*']), 'https://v6.sobot.com'), false);
});

test('isWorkbenchMessage', () => {
  const yes = [
    { source: 'agentCall', type: 'iframeParams', params: {} },
    { source: 'agentCall', type: 'callBarEvent', params: { messageID: 'EventRinging' } }
  ];
  const no = [null, undefined, 'agentCall', 42, [], {}, { source: 'agentCall' },
    { source: 'agentCall', type: 'IFRAME_READY' }, { source: 'agentCall', type: 'REQUEST_IFRAME_PARAMS' },
    { source: 'crm', type: 'callBarEvent' }, { source: 'agentcall', type: 'callBarEvent' },
    { source: 'agentCall', type: 'toString' }, { source: 'agentCall', type: '__proto__' }];
  for (const m of yes) assert.equal(hook.isWorkbenchMessage(m), true, JSON.stringify(m));
  for (const m of no) assert.equal(hook.isWorkbenchMessage(m), false, JSON.stringify(m));
  for (const m of flows.noise()) assert.equal(hook.isWorkbenchMessage(m), false, JSON.stringify(m));
  for (const m of flows.inbound({ now: 1 })) assert.equal(hook.isWorkbenchMessage(m), true);
});

test('backoffDelay: full jitter under an exponential, bounded ceiling', () => {
  const base = 500, max = 30000;
  // random() = 0 gives 0; random() just below 1 gives just below the ceiling.
  for (let n = 0; n < 40; n++) {
    const ceiling = Math.min(max, base * 2 ** Math.min(n, 30));
    assert.equal(hook.backoffDelay(n, base, max, () => 0), 0);
    const top = hook.backoffDelay(n, base, max, () => 0.999999);
    assert.ok(top < ceiling && top >= Math.floor(ceiling * 0.999) - 1, `attempt ${n}: got ${top}, want just below ${ceiling}`);
  }
  assert.equal(hook.backoffDelay(0, base, max, () => 0.5), 250);
  assert.equal(hook.backoffDelay(3, base, max, () => 0.5), 2000);
  assert.equal(hook.backoffDelay(100, base, max, () => 0.5), 15000);
  assert.equal(hook.backoffDelay(-3, base, max, () => 0.5), 250);
  // A broken random source cannot produce a negative or unbounded wait.
  for (const bad of [NaN, -1, 1, 7, Infinity]) assert.equal(hook.backoffDelay(5, base, max, () => bad), 0);
  // With Math.random the draws spread over the whole range.
  const draws = Array.from({ length: 2000 }, () => hook.backoffDelay(10, base, max, Math.random));
  assert.ok(draws.every((d) => d >= 0 && d < max));
  assert.ok(Math.min(...draws) < max * 0.1 && Math.max(...draws) > max * 0.9, 'draws do not spread');
});

test('trimOutbox: age first, then the oldest beyond the count', () => {
  const now = 1_000_000;
  const items = [
    { id: 'a', t: now - 5000 },
    { id: 'b', t: now - 4000 },
    { id: 'c', t: now - 300 },
    { id: 'd', t: now - 200 },
    { id: 'e', t: now - 100 }
  ];
  let r = hook.trimOutbox(items, now, 10, 1000);
  assert.deepEqual(r.items.map((i) => i.id), ['c', 'd', 'e']);
  assert.deepEqual(r.dropped.map((d) => [d.item.id, d.reason]), [['a', 'expired'], ['b', 'expired']]);
  r = hook.trimOutbox(items, now, 2, 10_000);
  assert.deepEqual(r.items.map((i) => i.id), ['d', 'e']);
  assert.deepEqual(r.dropped.map((d) => [d.item.id, d.reason]), [['a', 'outbox_full'], ['b', 'outbox_full'], ['c', 'outbox_full']]);
  r = hook.trimOutbox(items, now, 5, 10_000);
  assert.equal(r.items.length, 5);
  assert.equal(r.dropped.length, 0);
  assert.equal(items.length, 5, 'the input is not changed');
});

test('frames follow docs/protocol.md', () => {
  const data = flows.inbound({ now: 1763717400000 })[0];
  const item = { id: 'x-1', seenAt: '2026-11-21T09:30:00.000Z', t: 1, data };
  assert.deepEqual(JSON.parse(hook.eventFrame(item)), { type: 'event', id: 'x-1', seenAt: '2026-11-21T09:30:00.000Z', data });
  assert.deepEqual(JSON.parse(hook.helloFrame('s-1', '')), { type: 'hello', session: 's-1', client: 'callrelay-hook/1' });
  assert.deepEqual(JSON.parse(hook.helloFrame('s-1', 'tok')), { type: 'hello', session: 's-1', client: 'callrelay-hook/1', token: 'tok' });
});

test('beaconBodies: in order, bounded by bytes and count, oversize left out', () => {
  const mk = (i, size) => ({ id: 'id-' + i, seenAt: 'x', t: 0, data: { source: 'agentCall', type: 'callBarEvent', params: { pad: 'é'.repeat(size) } } });
  const items = Array.from({ length: 10 }, (_, i) => mk(i, 100));
  let bodies = hook.beaconBodies(items, 100000, 4);
  assert.deepEqual(bodies.map((b) => JSON.parse(b).events.length), [4, 4, 2]);
  assert.deepEqual(bodies.flatMap((b) => JSON.parse(b).events.map((e) => e.id)), items.map((i) => i.id));
  assert.ok(!('t' in JSON.parse(bodies[0]).events[0]), 'only wire fields are sent');
  bodies = hook.beaconBodies(items, 700, 500);
  assert.ok(bodies.every((b) => Buffer.byteLength(b) <= 700), 'a body is over the byte bound');
  assert.equal(bodies.flatMap((b) => JSON.parse(b).events).length, 10);
  bodies = hook.beaconBodies([mk(0, 10), mk(1, 5000), mk(2, 10)], 2000, 500);
  assert.deepEqual(bodies.flatMap((b) => JSON.parse(b).events.map((e) => e.id)), ['id-0', 'id-2']);
  assert.deepEqual(hook.beaconBodies([], 1000, 10), []);
  // With a token (the relay requires tokens): in every body, bounds kept.
  bodies = hook.beaconBodies(items, 700, 500, 'tok.en.sig');
  assert.ok(bodies.length > 1 && bodies.every((b) => JSON.parse(b).token === 'tok.en.sig' && Buffer.byteLength(b) <= 700));
  assert.equal(bodies.flatMap((b) => JSON.parse(b).events).length, 10);
});

test('utf8Length matches Buffer.byteLength', () => {
  for (const s of ['', 'abc', 'é', '中文', '😀', 'a😀b中', '\ud800']) {
    assert.equal(hook.utf8Length(s), Buffer.byteLength(s), JSON.stringify(s));
  }
});

test('eventsURL derives POST /v1/events from the WebSocket address', () => {
  assert.equal(hook.eventsURL('ws://127.0.0.1:8080/v1/ws'), 'http://127.0.0.1:8080/v1/events');
  assert.equal(hook.eventsURL('wss://relay.example.com/v1/ws'), 'https://relay.example.com/v1/events');
  assert.equal(hook.eventsURL('wss://relay.example.com/callrelay/v1/ws?x=1'), 'https://relay.example.com/callrelay/v1/events');
  assert.equal(hook.eventsURL('wss://relay.example.com'), 'https://relay.example.com/v1/events');
  assert.equal(hook.eventsURL('https://relay.example.com/v1/ws'), null);
  assert.equal(hook.eventsURL(''), null);
});

test('newId: randomUUID, else getRandomValues, else random; always a v4 UUID', () => {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  assert.match(hook.newId(globalThis.crypto, Math.random), uuid);
  assert.match(hook.newId({ getRandomValues: (a) => globalThis.crypto.getRandomValues(a) }, Math.random), uuid);
  assert.match(hook.newId(undefined, Math.random), uuid);
  assert.match(hook.newId({ randomUUID() { throw new Error('insecure context'); } }, Math.random), uuid);
  const seen = new Set(Array.from({ length: 1000 }, () => hook.newId(undefined, Math.random)));
  assert.equal(seen.size, 1000);
});

test('readConfig: data attributes, served origins win, defaults', () => {
  let c = hook.readConfig({ relay: 'wss://r.example.com/v1/ws', 'workbench-origins': 'https://a.example.com, https://*.b.example.com' }, null, '');
  assert.equal(c.relay, 'wss://r.example.com/v1/ws');
  assert.equal(c.events, 'https://r.example.com/v1/events');
  assert.deepEqual(c.workbenchOrigins, ['https://a.example.com', 'https://*.b.example.com']);
  assert.equal(c.outboxMax, 500);
  assert.equal(c.outboxMaxAgeMs, 86400000);
  assert.equal(c.debug, false);
  c = hook.readConfig({ 'workbench-origins': 'https://a.example.com', 'outbox-max': '20', 'outbox-max-age': '60', 'backoff-max-ms': 'x', debug: '' },
    { workbenchOrigins: ['https://*.sobot.com'] }, 'https://relay.example.com/hook.js');
  assert.equal(c.relay, 'wss://relay.example.com/v1/ws');
  assert.deepEqual(c.workbenchOrigins, ['https://*.sobot.com']);
  assert.equal(c.outboxMax, 20);
  assert.equal(c.outboxMaxAgeMs, 60000);
  assert.equal(c.backoffMaxMs, 30000);
  assert.equal(c.debug, true);
});

test('the simulator plays the reference shapes', () => {
  const now = 1763717400000;
  const inb = flows.inbound({ now });
  assert.deepEqual(inb.map((m) => m.type === 'iframeParams' ? 'iframeParams' : m.params.messageID),
    ['EventRinging', 'iframeParams', 'EventEstablished', 'EventReleased', 'EventCallDeleted']);
  const talk = inb[1].params;
  assert.equal(talk.uphone, '158****2496');
  assert.ok(talk.encryptUphone);
  assert.equal(talk.callType, 2);
  assert.equal(talk.callId, inb[0].params.callID);
  const est = inb[2].params;
  for (const f of ['province', 'city', 'firstDistributedQueueUUID', 'firstDistributedQueueId', 'firstDistributedQueueName',
    'lastDistributedQueueUUID', 'lastDistributedQueueId', 'lastDistributedQueueName']) assert.ok(est[f], f);
  assert.equal(flows.outbound({ now })[0].params.messageID, 'EventDialing');
  assert.equal(flows.outbound({ now })[1].params.callType, 3);
  assert.deepEqual(flows.agentStates({ now }).map((m) => m.params.messageID),
    ['EventAgentLogin', 'EventAgentReady', 'EventAgentNotReady', 'EventAgentReady']);
});

test('closeText says why the connection closed in words, never a bare code', () => {
  const cases = [
    [4000, 'reconnect requested by the page', 'the page dropped the connection (callrelay.reconnect()): reconnect requested by the page; reconnecting'],
    [1001, 'relay shutting down', 'the relay went away: relay shutting down; reconnecting'],
    [1006, '', 'the connection to the relay was lost; reconnecting'],
    [1008, 'token refused: expired', 'the relay refused the connection: token refused: expired; reconnecting'],
    [1011, '', 'the relay failed; reconnecting'],
    [4999, '', 'the relay closed the connection; reconnecting']
  ];
  for (const [code, reason, want] of cases) {
    const got = hook.closeText(code, reason);
    assert.equal(got, want, `closeText(${code}, ${JSON.stringify(reason)})`);
    assert.doesNotMatch(got, /close \d|\b\d{4}\b/, 'no bare close code');
  }
});

test('firstWaiting: the oldest event not in flight holds everything newer', () => {
  const items = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
  assert.equal(hook.firstWaiting([], {}), -1);
  assert.equal(hook.firstWaiting(items, { a: true, b: true, c: true }), -1, 'all in flight: nothing waits');
  assert.equal(hook.firstWaiting(items, { a: true, b: true }), 2, 'only the newest waits: it may go at once');
  // b was answered with retry: c, newer, must not go ahead of it.
  assert.equal(hook.firstWaiting(items, { a: true, c: true }), 1);
  assert.equal(hook.firstWaiting(items, {}), 0);
});
