// docs/asyncapi.yaml checked by the AsyncAPI project's own parser (which
// validates the document and resolves every $ref, files included), and
// against the repository: every JSON Schema of a published message in
// events/schema/ is referenced (the same files the Go tests check real
// output against), no reference points at a missing file, and every frame
// type that docs/protocol.md shows is a message of the WebSocket channel.
// Run: npm ci && node --test
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Parser, fromFile } = require('@asyncapi/parser');

const DOCS = path.resolve(__dirname, '..');
const ROOT = path.resolve(DOCS, '..');
const DOC = path.join(DOCS, 'asyncapi.yaml');
const SCHEMAS = path.join(ROOT, 'events', 'schema');

// Diagnostic severities of @stoplight/types: 0 error, 1 warning, 2 info, 3 hint.
const ERROR = 0;

let parsed;
async function parse() {
  if (!parsed) parsed = await fromFile(new Parser(), DOC).parse();
  return parsed;
}

// headerProps gathers the properties of a headers schema and of its allOf
// parts: name -> list of the schemas that describe it.
function headerProps(schema, out = {}) {
  for (const [k, v] of Object.entries(schema.properties() || {})) (out[k] = out[k] || []).push(v);
  for (const part of schema.allOf() || []) headerProps(part, out);
  return out;
}

function describe(d) {
  return `${d.code} at ${(d.path || []).join('.')}: ${d.message}`;
}

// fileRefs walks the raw YAML text for $ref values that name a file.
function fileRefs(text) {
  const refs = [];
  const re = /\$ref:\s*['"]?([^'"\s#][^'"\s]*)['"]?/g;
  let m;
  while ((m = re.exec(text)) !== null) refs.push(m[1]);
  return refs;
}

test('the AsyncAPI parser accepts the document with no error', async () => {
  const { document, diagnostics } = await parse();
  const errors = diagnostics.filter((d) => d.severity === ERROR);
  assert.deepEqual(errors.map(describe), [], 'parser errors');
  assert.ok(document, 'no document was returned');
  assert.equal(document.version(), '3.0.0');
  const warnings = diagnostics.filter((d) => d.severity === 1);
  if (warnings.length) console.log('parser warnings:\n  ' + warnings.map(describe).join('\n  '));
});

test('every schema file of a published message is referenced, and only files that exist', () => {
  const text = fs.readFileSync(DOC, 'utf8');
  const refs = fileRefs(text).map((r) => path.resolve(DOCS, r.split('#')[0]));
  assert.ok(refs.length > 0, 'the document references no schema file');
  for (const r of refs) {
    assert.ok(fs.existsSync(r), `${path.relative(ROOT, r)} is referenced but does not exist`);
  }
  const published = fs.readdirSync(SCHEMAS).filter((f) => f.endsWith('.schema.json'));
  assert.ok(published.length >= 3, `got ${published.length} schema files in events/schema, want the event, call and rejected schemas`);
  for (const f of published) {
    assert.ok(refs.includes(path.join(SCHEMAS, f)), `events/schema/${f} describes a published message but the document does not reference it`);
  }
});

test('each NATS subject carries the schema the Go tests use', async () => {
  const { document } = await parse();
  const want = {
    'agentcall.{tenant}.callBarEvent.{messageID}': 'callrelay event',
    'agentcall.{tenant}.iframeParams': 'callrelay event',
    'agentcall.{tenant}.call': 'callrelay call view',
    'agentcall.{tenant}.rejected': 'callrelay rejection'
  };
  // The ce-type of each subject (README, "Subjects").
  const ceType = {
    'agentcall.{tenant}.callBarEvent.{messageID}': 'com.sobot.agentcall.callBarEvent.EventRinging',
    'agentcall.{tenant}.iframeParams': 'com.sobot.agentcall.iframeParams',
    'agentcall.{tenant}.call': 'com.sobot.agentcall.call',
    'agentcall.{tenant}.rejected': 'com.sobot.agentcall.rejected'
  };
  const seen = {};
  for (const ch of document.channels().all()) {
    if (!ch.servers().all().some((s) => s.protocol() === 'nats')) continue;
    const titles = ch.messages().all().map((m) => m.payload() && m.payload().title());
    seen[ch.address()] = titles;
    for (const m of ch.messages().all()) {
      const h = m.headers();
      assert.ok(h, `${ch.address()}: message ${m.name()} has no headers`);
      const props = headerProps(h);
      for (const k of ['Nats-Msg-Id', 'ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time', 'ce-subject', 'content-type']) {
        assert.ok(props[k], `${ch.address()}: message ${m.name()} lacks the ${k} header`);
      }
      const types = props['ce-type'].map((x) => x.json());
      const type = ceType[ch.address()];
      for (const t of types) {
        if (t.const !== undefined) assert.equal(t.const, type, `${ch.address()}: ce-type`);
        if (t.pattern) assert.match(type, new RegExp(t.pattern), `${ch.address()}: ce-type ${type} against ${t.pattern}`);
      }
      assert.ok(types.some((t) => t.const !== undefined || (t.pattern && t.pattern.endsWith('$'))), `${ch.address()}: ce-type is not pinned down`);
    }
  }
  assert.deepEqual(Object.keys(seen).sort(), Object.keys(want).sort(), 'NATS channels');
  for (const [addr, title] of Object.entries(want)) {
    assert.deepEqual(seen[addr], [title], `${addr}: payload schema titles`);
  }
  for (const op of document.operations().all()) {
    const nats = op.channels().all().some((c) => c.servers().all().some((s) => s.protocol() === 'nats'));
    if (nats) assert.equal(op.action(), 'send', `${op.id()}: the relay publishes to NATS`);
  }
});

// Only this direction: the relay's notices (resume, draining) of DESIGN
// section 4 may be described here before docs/protocol.md shows them.
test('every frame type of docs/protocol.md is a message of /v1/ws', async () => {
  const { document } = await parse();
  const protocol = fs.readFileSync(path.join(DOCS, 'protocol.md'), 'utf8');
  const types = new Set();
  const re = /\{\s*"type":\s*"([a-z_]+)"/g;
  let m;
  while ((m = re.exec(protocol)) !== null) types.add(m[1]);
  assert.ok(types.size >= 5, `found only ${[...types]} in docs/protocol.md`);
  const ws = document.channels().all().find((c) => c.address() === '/v1/ws');
  assert.ok(ws, 'no channel at /v1/ws');
  const described = new Set(ws.messages().all().map((msg) => msg.payload().properties().type.const()));
  for (const t of types) assert.ok(described.has(t), `docs/protocol.md shows a "${t}" frame that /v1/ws does not describe`);
});

test('every example of a WebSocket frame matches its schema', async () => {
  const Ajv = require('ajv');
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  const { document } = await parse();
  const ws = document.channels().all().find((c) => c.address() === '/v1/ws');
  let n = 0;
  for (const m of ws.messages().all()) {
    const validate = ajv.compile(m.payload().json());
    for (const ex of m.examples().all()) {
      n++;
      assert.ok(validate(ex.payload()), `${m.name()} example ${ex.name()}: ${ajv.errorsText(validate.errors)}`);
    }
    for (const other of ws.messages().all()) {
      if (other.name() === m.name()) continue;
      for (const ex of other.examples().all()) {
        assert.ok(!validate(ex.payload()), `${m.name()}: the schema accepts the ${other.name()} example`);
      }
    }
  }
  assert.ok(n >= 5, `got ${n} examples, want one per frame at least`);
});
