// The hook in a real browser (Debian's Chromium via playwright-core): a
// parent page and a simulated workbench on two origins, the real relay, a
// separate nats-server and `relay tail` checking what was published. Each
// test starts its own processes and stops them; every wait is bounded.
// Run: node --test test/browser.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const WAIT = 20000;

// setup starts NATS, the relay, the subscriber, the workbench origin(s), the
// parent page's origin and the browser, and registers their cleanup.
async function setup(t, { evil = false, tokenSecret = '', hookAttrs } = {}) {
  const env = {};
  const cleanups = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });
  env.nats = await h.startNats();
  cleanups.push(() => env.nats.stop());
  env.wb = await h.serveWorkbench();
  cleanups.push(() => env.wb.stop());
  const frames = [{ name: 'workbench', origin: env.wb.origin }];
  if (evil) {
    env.evil = await h.serveWorkbench();
    cleanups.push(() => env.evil.stop());
    frames.push({ name: 'evil', origin: env.evil.origin });
  }
  env.relayPort = await h.freePort();
  env.parent = await h.serve({
    '/': { type: 'text/html; charset=utf-8', body: () => h.parentPage(env.relayPort, frames, { tokens: !!tokenSecret, hookAttrs }) },
    '/token': { type: 'text/plain; charset=utf-8', body: () => h.mintToken(tokenSecret, 'agent-1001', 300) }
  });
  cleanups.push(() => env.parent.stop());
  env.relayOpts = { port: env.relayPort, natsURL: env.nats.url, allowedOrigins: [env.parent.origin], workbenchOrigins: [env.wb.origin], tokenSecret };
  env.relay = await h.startRelay(env.relayOpts);
  cleanups.push(() => env.relay.stop());
  env.tail = await h.startTail(env.nats.url);
  cleanups.push(() => env.tail.stop());
  env.browser = await h.launch();
  cleanups.push(() => env.browser.close());
  env.page = await env.browser.context.newPage();
  env.pageErrors = [];
  env.hookLogs = [];
  env.page.on('pageerror', (e) => env.pageErrors.push(String(e)));
  env.page.on('console', (m) => { if (m.text().includes('[callrelay]')) env.hookLogs.push(m.text()); });
  env.restartRelay = async () => { env.relay = await h.startRelay(env.relayOpts); cleanups.push(() => env.relay.stop()); };
  return env;
}

async function open(env) {
  await env.page.goto(env.parent.origin + '/');
  await h.waitFor(() => env.page.evaluate(() => window.callrelay && window.callrelay.status().connected), WAIT, 'the hook to connect');
  return simulator(env, 'workbench');
}

async function simulator(env, name) {
  const frame = await h.waitFor(() => env.page.frame({ name }), WAIT, `frame ${name}`);
  await frame.waitForFunction(() => !!window.callrelaySimulator);
  return frame;
}

const play = (frame, flow) => frame.evaluate((f) => window.callrelaySimulator.play(f, { gapMs: 20 }), flow);
const status = (env) => env.page.evaluate(() => window.callrelay.status());
const hookEvents = (env, name) => env.page.evaluate((n) => window.hookEvents.filter((e) => e.name === n), name);

// quiet checks what must hold after every test: nothing thrown into the
// page, nothing logged by the hook.
function quiet(env) {
  assert.deepEqual(env.pageErrors, [], 'the page saw errors');
  assert.deepEqual(env.hookLogs, [], 'the hook logged without data-debug');
}

function countBy(list, key) {
  const m = new Map();
  for (const x of list) m.set(key(x), (m.get(key(x)) || 0) + 1);
  return m;
}

function assertEachOnce(events, wantCount) {
  const counts = countBy(events, (e) => e.id);
  assert.equal(counts.size, wantCount, `got ${counts.size} distinct ids, want ${wantCount}`);
  for (const [id, n] of counts) assert.equal(n, 1, `event ${id} published ${n} times`);
}

test('an inbound call arrives on NATS complete, in order, once, with the contract fields', async (t) => {
  const env = await setup(t);
  const frame = await open(env);
  const posted = await play(frame, 'inbound');
  const events = await h.waitFor(() => env.tail.events().length >= 5 && env.tail.events(), WAIT, '5 events on NATS');
  await h.sleep(300);
  assert.equal(env.tail.events().length, 5, 'more than 5 events published');

  assert.deepEqual(events.map((e) => e.messageID || e.type), ['EventRinging', 'iframeParams', 'EventEstablished', 'EventReleased', 'EventCallDeleted']);
  assertEachOnce(events, 5);
  const callId = posted[0].params.callID;
  events.forEach((e, i) => {
    assert.equal(e.tenant, 'default');
    assert.equal(e.type, posted[i].type);
    assert.deepEqual(e.params, posted[i].params, 'params exactly as the workbench sent them');
    assert.equal(e.callId, callId);
    assert.match(e.seenAt, RFC3339);
    assert.match(e.receivedAt, RFC3339);
    assert.match(e.id, /^[0-9a-f-]{36}$/);
  });
  const est = events[2];
  assert.deepEqual(est.queue, {
    first: { uuid: 'q-7f3e9a', id: '301', name: 'After-sales' },
    last: { uuid: 'q-2b8d1c', id: '305', name: 'VIP after-sales' }
  });
  // The hook's acks name the same ids, each published.
  const acks = await hookEvents(env, 'ack');
  assert.deepEqual(acks.map((a) => a.id).sort(), events.map((e) => e.id).sort());
  assert.ok(acks.every((a) => a.status === 'published'));

  const s = await status(env);
  assert.deepEqual({ connected: s.connected, queued: s.queued, sent: s.sent, acked: s.acked, dropped: s.dropped, lastError: s.lastError, storage: s.storage },
    { connected: true, queued: 0, sent: 5, acked: 5, dropped: 0, lastError: null, storage: 'session' });
  // status() has exactly the fields hook.d.ts declares (typings and code cannot drift).
  const dts = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'hook.d.ts'), 'utf8');
  const block = /interface CallrelayStatus \{([\s\S]*?)\n\}/.exec(dts)[1];
  const declared = [...block.matchAll(/^\s+(\w+):/gm)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(s).sort(), declared);
  quiet(env);
});

test('only allowed origins and agentCall messages are forwarded; the page still gets every message', async (t) => {
  const env = await setup(t, { evil: true });
  const frame = await open(env);
  const evil = await simulator(env, 'evil');
  await play(evil, 'inbound'); // a frame of an origin not on --workbench-origins
  await play(evil, 'noise');
  await play(frame, 'noise'); // the allowed frame's other messages (IFRAME_READY, other sources, strings)
  await env.page.evaluate(() => window.postMessage({ source: 'crm-app', type: 'callBarEvent', params: { messageID: 'EventRinging' } }, '*'));
  // A barrier: the allowed frame's agent states arrive after all of the above.
  await play(frame, 'agentStates');
  await h.waitFor(() => env.tail.events().length >= 4, WAIT, '4 events on NATS');
  await h.sleep(500);

  assert.deepEqual(env.tail.events().map((e) => e.messageID), ['EventAgentLogin', 'EventAgentReady', 'EventAgentNotReady', 'EventAgentReady']);
  assert.deepEqual(env.tail.rejected(), [], 'nothing refused reached the relay');
  assert.equal(await h.metric(env.relayPort, 'callrelay_events_received_total'), 4, 'the relay received only the 4 allowed events');
  const own = await env.page.evaluate(() => window.ownMessages);
  assert.equal(own.length, 5 + 3 + 3 + 1 + 4, 'the page\'s own listener got every message');
  assert.ok(own.some((m) => m.data && m.data.source === 'crm-app'), 'the page\'s own message reached its listener');
  assert.equal(own.filter((m) => m.origin === env.evil.origin).length, 8);
  const s = await status(env);
  assert.deepEqual([s.queued, s.sent, s.acked, s.dropped], [0, 4, 4, 0]);
  quiet(env);
});

test('relay stopped while the workbench posts, then started again: every event exactly once', async (t) => {
  const env = await setup(t);
  const frame = await open(env);
  await play(frame, 'inbound');
  await h.waitFor(() => env.tail.events().length >= 5, WAIT, 'the first call on NATS');

  await env.relay.stop();
  await h.waitFor(async () => !(await status(env)).connected, WAIT, 'the hook to see the relay gone');
  await play(frame, 'agentStates');
  await play(frame, 'outbound');
  let s = await status(env);
  assert.equal(s.queued, 9);
  assert.equal(s.connected, false);
  assert.equal(s.lastError && s.lastError.code, 'disconnected', 'lastError tells of the lost connection');
  assert.match(s.lastError.message, /^the (relay went away|connection to the relay was lost)/, 'in words');

  await env.restartRelay();
  await h.waitFor(() => env.tail.events().length >= 14, WAIT, 'all 14 events on NATS');
  await h.waitFor(async () => (await status(env)).queued === 0, WAIT, 'the outbox to empty');
  await h.sleep(500);
  assertEachOnce(env.tail.events(), 14);
  // In order within what was queued.
  assert.deepEqual(env.tail.events().slice(5).map((e) => e.messageID || e.type),
    ['EventAgentLogin', 'EventAgentReady', 'EventAgentNotReady', 'EventAgentReady', 'EventDialing', 'iframeParams', 'EventEstablished', 'EventReleased', 'EventCallDeleted']);
  s = await status(env);
  assert.deepEqual([s.connected, s.queued, s.acked, s.dropped], [true, 0, 14, 0]);
  assert.ok(s.sent >= 14);
  assert.equal(s.lastError, null, 'lastError is cleared once the relay answers again');
  const states = await hookEvents(env, 'state');
  assert.deepEqual(states.map((e) => e.connected).slice(-2), [false, true], 'state callbacks: lost, then back');
  assert.match(states.at(-2).reason || '', /relay shutting down/, 'the lost connection said why');
  quiet(env);
});

test('reload with queued events while the relay is down: all arrive after it returns', async (t) => {
  const env = await setup(t);
  const frame = await open(env);
  const session = (await status(env)).session;
  await env.relay.stop();
  await h.waitFor(async () => !(await status(env)).connected, WAIT, 'the hook to see the relay gone');
  await play(frame, 'inbound');
  assert.equal((await status(env)).queued, 5);
  const stored = await env.page.evaluate(() => JSON.parse(sessionStorage.getItem('callrelay.outbox.v1')));
  assert.equal(stored.items.length, 5);

  await env.page.reload();
  await h.waitFor(() => env.page.evaluate(() => !!window.callrelay), WAIT, 'the hook after the reload');
  let s = await status(env);
  assert.deepEqual([s.queued, s.connected, s.session], [5, false, session], 'the outbox and session survive the reload');

  await env.restartRelay();
  await h.waitFor(() => env.tail.events().length >= 5, WAIT, '5 events on NATS');
  await h.waitFor(async () => (await status(env)).queued === 0, WAIT, 'the outbox to empty');
  await h.sleep(300);
  assertEachOnce(env.tail.events(), 5);
  assert.deepEqual(env.tail.events().map((e) => e.id), stored.items.map((i) => i.id), 'the ids made before the reload, in order');
  s = await status(env);
  assert.deepEqual([s.connected, s.queued, s.acked, s.dropped], [true, 0, 5, 0]);
  assert.equal(await env.page.evaluate(() => sessionStorage.getItem('callrelay.outbox.v1')), null);
  quiet(env);
});

// holdWebSocket lets the hook's WebSocket open but keeps its frames from the
// relay (nothing is acked), until release() lets later connections through.
async function holdWebSocket(env) {
  const held = [];
  let pass = false;
  await env.page.routeWebSocket(/\/v1\/ws$/, (ws) => {
    if (pass) ws.connectToServer();
    else { ws.onMessage(() => {}); held.push(ws); }
  });
  return {
    release: async () => { pass = true; for (const ws of held) await ws.close({ code: 1001, reason: 'test releases' }); }
  };
}

test('hidden page: queued events go through POST /v1/events; the later WebSocket resend is a duplicate', async (t) => {
  const env = await setup(t);
  const hold = await holdWebSocket(env);
  const frame = await open(env);
  await play(frame, 'inbound');
  await h.waitFor(async () => (await status(env)).sent === 5, WAIT, 'the hook to send 5 frames');
  assert.equal((await status(env)).queued, 5);
  assert.equal(env.tail.events().length, 0);

  await env.page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await h.waitFor(() => env.tail.events().length >= 5, WAIT, 'the beacon\'s events on NATS');
  assert.equal(await h.metric(env.relayPort, 'callrelay_ack_latency_seconds_count', { transport: 'http' }), 1, 'one POST /v1/events');
  assert.equal(await h.metric(env.relayPort, 'callrelay_ack_latency_seconds_count', { transport: 'ws' }), 0);
  let s = await status(env);
  assert.deepEqual([s.beaconed, s.queued], [5, 5], 'beaconed events stay queued until an ack');

  await hold.release();
  await h.waitFor(async () => (await status(env)).queued === 0, WAIT, 'the WebSocket resend to be acked');
  const acks = await hookEvents(env, 'ack');
  assert.equal(acks.length, 5);
  assert.ok(acks.every((a) => a.status === 'duplicate'), `got ${JSON.stringify(acks.map((a) => a.status))}, want 5 duplicates`);
  await h.sleep(300);
  assertEachOnce(env.tail.events(), 5);
  s = await status(env);
  assert.deepEqual([s.connected, s.queued, s.acked, s.dropped, s.sent], [true, 0, 5, 0, 10]);
  quiet(env);
});

test('tab closed with queued events: the pagehide beacon delivers them', async (t) => {
  const env = await setup(t);
  await holdWebSocket(env);
  const frame = await open(env);
  await play(frame, 'agentStates');
  await h.waitFor(async () => (await status(env)).sent === 4, WAIT, 'the hook to send 4 frames');
  quiet(env);
  await env.page.close({ runBeforeUnload: false });
  await h.waitFor(() => env.tail.events().length >= 4, WAIT, 'the unload beacon\'s events on NATS');
  assertEachOnce(env.tail.events(), 4);
  assert.deepEqual(env.pageErrors, []);
});

test('with tokens: the hook fetches one per connection from the page\'s back end; WebSocket and beacon are both authenticated', async (t) => {
  const env = await setup(t, { tokenSecret: 'browser-test-secret-0123456789abcdef' });
  const frame = await open(env);
  await play(frame, 'inbound');
  await h.waitFor(() => env.tail.events().length >= 5, WAIT, '5 events on NATS');
  for (const e of env.tail.events()) assert.equal(e.agent && e.agent.subject, 'agent-1001', `event ${e.messageID || e.type} lacks the token's subject`);
  assert.ok(await env.page.evaluate(() => window.tokenFetches) >= 1);

  // The beacon path carries the token in its body (sendBeacon sets no headers).
  const hold = await holdWebSocket(env);
  await env.page.evaluate(() => window.callrelay.reconnect());
  await h.waitFor(async () => (await status(env)).connected, WAIT, 'the held reconnect');
  await play(frame, 'agentStates');
  await h.waitFor(async () => (await status(env)).queued === 4, WAIT, '4 queued events');
  await env.page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await h.waitFor(() => env.tail.events().length >= 9, WAIT, 'the beacon\'s events on NATS');
  assert.equal(await h.metric(env.relayPort, 'callrelay_auth_failures_total'), 0, 'no token was refused');
  for (const e of env.tail.events().slice(5)) assert.equal(e.agent && e.agent.subject, 'agent-1001');
  await hold.release();
  await h.waitFor(async () => (await status(env)).queued === 0, WAIT, 'the outbox to empty');
  assertEachOnce(env.tail.events(), 9);
  quiet(env);
});

test('NATS away and back: the hook holds newer events behind the refused one and resends all at once on resume, oldest first', async (t) => {
  // A back-off of about a minute (random() pinned near 1): only the relay's
  // resume frame can get the events out within the test's wait.
  const env = await setup(t, { hookAttrs: 'data-backoff-base-ms="60000" data-backoff-max-ms="60000"' });
  await env.page.addInitScript(() => { Math.random = () => 0.999; });
  const frame = await open(env);
  const ready = async () => (await fetch(`http://127.0.0.1:${env.relayPort}/readyz`)).status;

  await env.nats.stop();
  await h.waitFor(async () => (await ready()) === 503, WAIT, 'the relay to see NATS gone');
  const msgs = await frame.evaluate(() => window.callrelaySimulator.flows.inbound({ now: Date.now(), seq: 7, callId: 'RESUME-7' }));
  const post = (m) => frame.evaluate((x) => window.parent.postMessage(x, '*'), m);
  await post(msgs[0]);
  await h.waitFor(async () => (await hookEvents(env, 'nack')).length === 1, WAIT, 'the first event to be refused');
  for (const m of msgs.slice(1)) await post(m);
  await h.waitFor(async () => (await status(env)).queued === msgs.length, WAIT, 'every event queued');
  const held = await status(env);
  assert.equal(held.sent, 1, 'events newer than the refused one were sent ahead of it');
  const [nack] = await hookEvents(env, 'nack');
  assert.equal(nack.code, 'sink_unavailable');
  assert.equal(nack.retry, true);
  const order = await env.page.evaluate(() => JSON.parse(sessionStorage.getItem('callrelay.outbox.v1')).items.map((i) => i.id));
  assert.equal(order[0], nack.id);

  env.nats = await h.startNats({ port: env.nats.port, dir: env.nats.dir });
  t.after(() => env.nats.stop());
  await h.waitFor(async () => (await status(env)).queued === 0, WAIT, 'the outbox to empty after NATS is back');
  const acks = await hookEvents(env, 'ack');
  assert.deepEqual(acks.map((a) => a.id), order, 'acked oldest first, each once');
  assert.ok(acks.every((a) => a.status === 'published'));
  assert.equal((await hookEvents(env, 'nack')).length, 1, 'nothing was refused after NATS came back');
  assert.equal(await h.metric(env.relayPort, 'callrelay_sink_resumes_total'), 1);
  quiet(env);
});
