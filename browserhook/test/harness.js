// Test harness of the browser tests: real processes only. It builds the
// relay binary once, starts Debian's nats-server (so that NATS outlives a
// relay that is stopped and started again), the relay with --nats-url,
// `relay tail` as the subscriber, two static origins (the parent page and
// the simulated workbench, whose files come from demo/static, the demo's own
// simulator), and Debian's Chromium through playwright-core.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const DEMO_STATIC = path.join(ROOT, 'demo', 'static');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// limit is a bound for Promise.race: its timer does not keep the process
// alive once everything else is done (a plain sleep would hold the test
// process idle for its whole length after the last test).
function limit(ms) { return new Promise((r) => setTimeout(r, ms).unref()); }

// waitFor polls fn until it returns a truthy value, for at most ms.
async function waitFor(fn, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what} (last: ${last && last.message ? last.message : JSON.stringify(last)})`);
    await sleep(50);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Temporary directories (the built relay, NATS stores, browser profiles)
// are removed when the test process exits, however the tests ended.
const tmpDirs = [];
process.on('exit', () => {
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch (e) { /* best effort */ }
  }
});

function tmpDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

let builtRelay = null;
// relayBinary builds cmd/relay once per test process.
function relayBinary() {
  if (!builtRelay) {
    const out = path.join(tmpDir('callrelay-bin-'), 'relay');
    execFileSync('go', ['build', '-o', out, './cmd/relay'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300000 });
    builtRelay = out;
  }
  return builtRelay;
}

// Proc wraps a child process: its output, and a bounded stop.
class Proc {
  constructor(name, cmd, args) {
    this.name = name;
    this.out = '';
    this.err = '';
    this.exited = false;
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (b) => { this.out += b; });
    this.child.stderr.on('data', (b) => { this.err += b; if (this.err.length > 1e6) this.err = this.err.slice(-5e5); });
    this.done = new Promise((resolve) => this.child.on('exit', (code, sig) => { this.exited = true; resolve({ code, sig }); }));
  }

  async stop(ms = 15000) {
    if (this.exited) return this.done;
    this.child.kill('SIGTERM');
    const r = await Promise.race([this.done, limit(ms).then(() => null)]);
    if (r) return r;
    this.child.kill('SIGKILL');
    throw new Error(`${this.name} did not exit within ${ms}ms of SIGTERM`);
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// startNats runs Debian's nats-server with JetStream on a free port and a
// fresh store, or, given the port and dir of one stopped before, again
// over the same store.
async function startNats({ port, dir } = {}) {
  port = port || await freePort();
  dir = dir || tmpDir('callrelay-nats-');
  const p = new Proc('nats-server', 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]);
  p.url = `nats://127.0.0.1:${port}`;
  p.port = port;
  p.dir = dir;
  await waitFor(() => p.exited ? Promise.reject(new Error(p.err)) : canConnect(port), 10000, 'nats-server to listen');
  return p;
}

// startRelay runs the built relay against an external NATS. opts: port,
// natsURL, allowedOrigins, workbenchOrigins, and tokenSecret to require tokens.
async function startRelay(opts) {
  const args = ['--addr', `127.0.0.1:${opts.port}`, '--nats-url', opts.natsURL, '--demo', 'off',
    '--allowed-origins', opts.allowedOrigins.join(','), '--workbench-origins', opts.workbenchOrigins.join(','),
    '--shutdown-timeout', '5s', '--log-level', 'warn'];
  if (opts.tokenSecret) args.push('--token-secret', opts.tokenSecret);
  const p = new Proc('relay', relayBinary(), args);
  await waitFor(() => {
    if (p.exited) throw new Error('relay exited: ' + p.err);
    return p.out.includes('websocket');
  }, 20000, 'the relay banner');
  return p;
}

// startTail follows <prefix>.<tenant>.> with `relay tail`; lines holds
// every published message, parsed, in the order NATS delivered them.
async function startTail(natsURL) {
  const p = new Proc('relay tail', relayBinary(), ['tail', '--nats-url', natsURL]);
  p.lines = [];
  let buf = '';
  p.child.stdout.on('data', (b) => {
    buf += b;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) p.lines.push(JSON.parse(line));
    }
  });
  await waitFor(() => {
    if (p.exited) throw new Error('tail exited: ' + p.err);
    return p.err.includes('following');
  }, 10000, 'relay tail to subscribe');
  // events: the accepted workbench events (not rejected records, not call views).
  p.events = () => p.lines.filter((l) => (l.type === 'callBarEvent' || l.type === 'iframeParams') && l.params && !l.code);
  p.rejected = () => p.lines.filter((l) => l.code);
  return p;
}

// serve answers GET path -> {type, body} on a free port of 127.0.0.1.
async function serve(routes) {
  const server = http.createServer((req, res) => {
    const r = routes[req.url.split('?')[0]];
    if (!r) { res.writeHead(404); res.end('not found'); return; }
    const body = typeof r.body === 'function' ? r.body() : r.body;
    res.writeHead(200, { 'Content-Type': r.type, 'Cache-Control': 'no-store' });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.origin = `http://127.0.0.1:${server.address().port}`;
  server.stop = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return server;
}

// serveWorkbench serves the demo's simulated workbench, from its own files.
function serveWorkbench() {
  return serve({
    '/': { type: 'text/html; charset=utf-8', body: () => fs.readFileSync(path.join(DEMO_STATIC, 'workbench.html')) },
    '/simulator.js': { type: 'text/javascript; charset=utf-8', body: () => fs.readFileSync(path.join(DEMO_STATIC, 'simulator.js')) }
  });
}

// parentPage is an integrator's page: the README's tag (with a short back-off
// ceiling so that the tests do not wait long, or hookAttrs), the workbench frame(s), and
// the page's own message listener. With tokens, the tag names a callback
// that fetches a fresh token from the page's own back end (GET /token).
function parentPage(relayPort, frames, { tokens = false, hookAttrs = 'data-backoff-max-ms="800"' } = {}) {
  const iframes = frames.map((f) => `<iframe name="${f.name}" src="${f.origin}/"></iframe>`).join('\n');
  const tokenAttr = tokens ? ' data-token-callback="getRelayToken"' : '';
  const tokenScript = tokens ? '<script>window.tokenFetches = 0; window.getRelayToken = function () { window.tokenFetches++; return fetch("/token").then(function (r) { return r.text(); }); };</script>\n' : '';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>parent page</title>
${tokenScript}<script src="http://127.0.0.1:${relayPort}/hook.js" data-relay="ws://127.0.0.1:${relayPort}/v1/ws" ${hookAttrs}${tokenAttr} async></script>
</head><body>
<h1>An integrator's page</h1>
${iframes}
<script>
  window.ownMessages = [];
  window.addEventListener('message', function (e) { window.ownMessages.push({ origin: e.origin, data: e.data }); });
  window.hookEvents = [];
  (function attach() {
    if (!window.callrelay) { setTimeout(attach, 5); return; }
    ['ack', 'nack', 'drop', 'state'].forEach(function (n) {
      window.callrelay.on(n, function (e) { window.hookEvents.push(Object.assign({ name: n }, e)); });
    });
  })();
</script>
</body></html>`;
}

// launch starts Debian's Chromium with a fresh profile directory.
async function launch() {
  const dir = tmpDir('callrelay-chromium-');
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30000
  });
  context.setDefaultTimeout(15000);
  const close = async () => {
    await Promise.race([context.close(), limit(10000)]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { context, close };
}

// metric reads one sample of the relay's /metrics (0 when absent).
async function metric(relayPort, name, labels) {
  const res = await fetch(`http://127.0.0.1:${relayPort}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels && !Object.entries(labels).every(([k, v]) => (m[2] || '').includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
  }
  return sum;
}

// mintToken signs an HS256 JSON Web Token, as an integrator's back end does.
function mintToken(secret, sub, ttlSeconds) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const signed = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ sub, iat: now, exp: now + ttlSeconds });
  return signed + '.' + require('node:crypto').createHmac('sha256', secret).update(signed).digest('base64url');
}

module.exports = { mintToken, waitFor, sleep, freePort, startNats, startRelay, startTail, serve, serveWorkbench, parentPage, launch, metric, relayBinary };
