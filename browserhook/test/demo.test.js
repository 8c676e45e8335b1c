// The demo in a real browser (Debian's Chromium via playwright-core): the
// built relay in demo mode against a separate nats-server, `relay tail`
// checking what was published. It drives the page as a visitor would: a
// simulated NATS outage (events queue, the count shows, they are sent again
// after it), a reload in the middle of a call (the call goes on to its end),
// a dropped connection (the error reads in words and clears), the board of
// calls and agents, and a 900 px wide window. It takes the README's
// screenshots at each step and checks they are PNG images; they replace
// docs/img/demo-*.png only with CALLRELAY_UPDATE_SCREENSHOTS=1, so that a
// test run leaves the checkout as it found it.
// Run: node --test test/demo.test.js
// Update the README's images: CALLRELAY_UPDATE_SCREENSHOTS=1 node --test test/demo.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

const WAIT = 40000; // a paced call lasts about 22 s
const os = require('node:os');
const UPDATE = process.env.CALLRELAY_UPDATE_SCREENSHOTS === '1';
const IMG = UPDATE ? path.resolve(__dirname, '..', '..', 'docs', 'img')
  : fs.mkdtempSync(path.join(os.tmpdir(), 'callrelay-demo-img-'));
if (!UPDATE) process.on('exit', () => fs.rmSync(IMG, { recursive: true, force: true }));

// startDemoRelay runs the built relay with the demo on and returns the
// demo's URL and its workbench origin, read from the banner.
async function startDemoRelay(natsURL) {
  const port = await h.freePort();
  const child = spawn(h.relayBinary(), ['--addr', `127.0.0.1:${port}`, '--nats-url', natsURL, '--demo', 'on',
    '--demo-workbench-addr', '127.0.0.1:0', '--shutdown-timeout', '5s', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { out: '', err: '', exited: false };
  child.stdout.on('data', (b) => { p.out += b; });
  child.stderr.on('data', (b) => { p.err += b; });
  const done = new Promise((resolve) => child.on('exit', () => { p.exited = true; resolve(); }));
  p.stop = async () => {
    if (p.exited) return;
    child.kill('SIGTERM');
    await Promise.race([done, h.sleep(10000)]);
    if (!p.exited) child.kill('SIGKILL');
  };
  const m = await h.waitFor(() => {
    if (p.exited) throw new Error('relay exited: ' + p.err);
    return /demo\s+(http:\/\/\S+\/demo)\s+\(simulated workbench on (http:\/\/[^)\s]+)\)/.exec(p.out);
  }, 20000, 'the demo line of the banner');
  p.base = m[1].replace(/\/demo$/, '');
  p.workbench = m[2];
  return p;
}

async function setup(t) {
  const env = { pageErrors: [] };
  const cleanups = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });
  env.nats = await h.startNats();
  cleanups.push(() => env.nats.stop());
  env.relay = await startDemoRelay(env.nats.url);
  cleanups.push(() => env.relay.stop());
  env.tail = await h.startTail(env.nats.url);
  cleanups.push(() => env.tail.stop());
  env.browser = await h.launch();
  cleanups.push(() => env.browser.close());
  env.page = await env.browser.context.newPage();
  env.page.on('pageerror', (e) => env.pageErrors.push(String(e)));
  await env.page.setViewportSize({ width: 1280, height: 1000 });
  return env;
}

const status = (env) => env.page.evaluate(() => window.callrelay.status());
// text is an element's visible text, with no-break spaces as plain ones.
const text = async (env, sel) => (await env.page.locator(sel).first().innerText()).replace(/\u00a0/g, ' ');

async function workbench(env) {
  const frame = await h.waitFor(() => env.page.frames().find((f) => f.url().startsWith(env.relay.workbench)), WAIT, 'the workbench frame');
  await frame.waitForFunction(() => !!window.callrelaySimulator);
  return frame;
}

async function connected(env) {
  await h.waitFor(() => env.page.evaluate(() => !!window.callrelay && window.callrelay.status().connected), WAIT, 'the hook to connect');
}

// published lists the message IDs (or types) published for one call.
function published(env, callId) {
  return env.tail.events().filter((e) => e.callId === callId).map((e) => e.messageID || e.type);
}

async function screenshot(env, name) {
  fs.mkdirSync(IMG, { recursive: true });
  const file = path.join(IMG, name);
  await env.page.screenshot({ path: file });
  const png = fs.readFileSync(file);
  assert.ok(png.length > 10000 && png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
    `${name}: not a PNG image of a page (${png.length} bytes)`);
}

test('the demo shows an outage, the resend, a reload mid-call and the board', async (t) => {
  const env = await setup(t);

  // GET / leads to the demo; the page has an icon.
  await env.page.goto(env.relay.base + '/');
  assert.equal(new URL(env.page.url()).pathname, '/demo', 'GET / leads to /demo');
  assert.equal(await env.page.locator('link[rel="icon"]').getAttribute('href'), '/demo/favicon.svg');
  const icon = await fetch(env.relay.base + '/demo/favicon.svg');
  assert.equal(icon.status, 200);
  await connected(env);
  let frame = await workbench(env);

  // The outage: events queue in the hook, the page counts them, nothing is published.
  await env.page.click('#outage');
  await h.waitFor(() => env.page.locator('#outagebanner').isVisible(), WAIT, 'the outage banner');
  assert.equal((await fetch(env.relay.base + '/readyz')).status, 503, '/readyz during the outage');
  await frame.click('button[data-flow="inbound"]');
  await h.waitFor(async () => (await status(env)).queued >= 2, WAIT, 'two queued events');
  const callId = await frame.evaluate(() => window.callrelaySimulator.saved().callId ||
    window.callrelaySimulator.flows.inbound({ now: window.callrelaySimulator.saved().now, seq: window.callrelaySimulator.saved().seq })[0].params.callID);
  let s = await status(env);
  assert.ok(['sink_unavailable', 'held_for_order'].includes(s.lastError && s.lastError.code), `the hook says why the events wait: ${JSON.stringify(s.lastError)}`);
  await h.waitFor(async () => Number(await text(env, '#queued')) >= 2, WAIT, 'the queued count on the page');
  assert.match(await env.page.locator('#queuedbox').getAttribute('class'), /busy/);
  assert.match(await text(env, '#lasterror'), /not (be )?published/);
  assert.deepEqual(published(env, callId), [], 'nothing is published during the outage');
  await env.page.click('.callbacks summary'); // the retryable nacks, for the picture
  await h.waitFor(async () => /nack \S+ \(retry: kept, sent again\)/.test(await text(env, '#callbacks')), WAIT, 'a retryable nack in the callbacks');
  await screenshot(env, 'demo-outage.png');

  // The outage ends: the queued events go out once each, the error clears.
  await env.page.click('#outage');
  await h.waitFor(async () => (await status(env)).queued === 0, WAIT, 'the queue to empty after the outage');
  await h.waitFor(() => published(env, callId).length >= 2, WAIT, 'the queued events on NATS');
  assert.deepEqual(published(env, callId).slice(0, 2), ['EventRinging', 'iframeParams'], 'in the order they were seen');
  await h.waitFor(async () => (await status(env)).lastError === null, WAIT, 'lastError to clear after the resend');
  assert.equal((await fetch(env.relay.base + '/readyz')).status, 200);

  // A reload in the middle of the call: the simulator carries on from where it was.
  const card = `article.card[data-call="${callId}"]`;
  await h.waitFor(async () => (await env.page.locator(card).getAttribute('data-state').catch(() => '')) === 'established', WAIT, 'the call established on the board');
  const before = await frame.evaluate(() => window.callrelaySimulator.saved());
  assert.ok(before && before.next >= 3 && before.next < 5, `the call is in progress before the reload: ${JSON.stringify(before)}`);
  await env.page.reload();
  await connected(env);
  frame = await workbench(env);
  await h.waitFor(async () => (await env.page.locator(card).getAttribute('data-state').catch(() => '')) === 'established', WAIT, 'the board after the reload');
  await h.waitFor(async () => /running/.test(await env.page.locator(card).innerText()), WAIT, 'the talk time running');
  const cardText = await text(env, card);
  for (const want of ['inbound', 'agent.li@example.com', 'ext 8001', '158****2496', 'c***@example.com', 'After-sales → VIP after-sales', 'Talk']) {
    assert.ok(cardText.includes(want), `the call card lacks ${want}:\n${cardText}`);
  }
  assert.ok(!cardText.includes('customer.wang@'), 'the card masks the customer\'s email');
  await h.waitFor(async () => (await text(env, '.agroup[data-state="on a call"]')).includes('agent.li@example.com'), WAIT, 'the agent on a call');
  await h.sleep(1200); // one more tick of the running times, for the picture
  await screenshot(env, 'demo-board.png');

  // 900 px wide: one column, nothing wider than the window, words whole.
  await env.page.setViewportSize({ width: 900, height: 1100 });
  await h.sleep(300);
  const layout = await env.page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    wordBreak: getComputedStyle(document.querySelector('.card')).wordBreak,
    columns: getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length
  }));
  assert.ok(layout.scroll <= 900, `the page is ${layout.scroll} px wide in a 900 px window`);
  assert.equal(layout.wordBreak, 'normal');
  assert.equal(layout.columns, 1);
  await env.page.evaluate(() => document.querySelector('#hookpanel').scrollIntoView());
  await screenshot(env, 'demo-900.png');
  await env.page.setViewportSize({ width: 1280, height: 1000 });

  await h.waitFor(async () => (await env.page.locator(card).getAttribute('data-state')) === 'ended', WAIT, 'the call to end after the reload');
  await h.waitFor(() => published(env, callId).length >= 5, WAIT, 'the whole call on NATS');
  await h.sleep(300);
  assert.deepEqual(published(env, callId), ['EventRinging', 'iframeParams', 'EventEstablished', 'EventReleased', 'EventCallDeleted'],
    'every message of the call once, in order, across the outage and the reload');
  assert.equal(await frame.evaluate(() => window.callrelaySimulator.saved()), null, 'the simulator forgets a finished call');

  // The agent's presence, from the agent-state events.
  await frame.click('button[data-flow="agentStates"]');
  await h.waitFor(async () => (await text(env, '#feed')).includes('EventAgentNotReady'), WAIT, 'the agent\'s break on NATS');
  await h.waitFor(async () => (await frame.evaluate(() => window.callrelaySimulator.saved())) === null, WAIT, 'the agent state flow to end');
  await h.waitFor(async () => (await text(env, '.agroup[data-state="ready"]')).includes('ext 8001'), WAIT, 'the agent ready again');

  // A dropped connection reads in words, and the error clears once the relay answers again.
  await env.page.evaluate(() => {
    window.dropErrors = [];
    window.callrelay.on('state', (e) => { if (!e.connected) window.dropErrors.push(window.callrelay.status().lastError); });
  });
  await env.page.click('#drop');
  await h.waitFor(() => env.page.evaluate(() => window.dropErrors.length > 0), WAIT, 'the drop');
  const dropped = await env.page.evaluate(() => window.dropErrors[0]);
  assert.equal(dropped.code, 'disconnected');
  assert.match(dropped.message, /^the page dropped the connection/);
  assert.doesNotMatch(dropped.message, /close \d+/);
  await connected(env);
  await h.waitFor(async () => (await status(env)).lastError === null, WAIT, 'lastError to clear after the reconnect');

  assert.deepEqual(env.pageErrors, [], 'the page saw errors');
});
