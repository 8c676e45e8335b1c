// Compiled with `tsc --noEmit` (never run): an integrator's use of the
// typings in hook.d.ts. A change to the hook's API that breaks this code
// breaks the test.
/// <reference path="../../hook.d.ts" />
import type { CallrelayStatus, CallrelayAck, CallrelayNack, CallrelayDrop, CallrelayState } from '../../hook';

const hook = window.callrelay;
if (hook) {
  const s: CallrelayStatus = hook.status();
  const counts: number = s.queued + s.sent + s.acked + s.dropped + s.beaconed;
  const where: 'session' | 'memory' = s.storage;
  const problem: string | undefined = s.lastError?.code;
  const off1: () => void = hook.on('ack', (a: CallrelayAck) => { const st: 'published' | 'duplicate' = a.status; void st; });
  hook.on('nack', (n: CallrelayNack) => { if (n.retry) void n.code; });
  hook.on('drop', (d: CallrelayDrop) => { void d.reason; });
  hook.on('state', (e: CallrelayState) => { void e.connected; });
  hook.reconnect();
  off1();
  void [counts, where, problem, hook.version, s.session, s.connected];
  // @ts-expect-error: there is no such event
  hook.on('published', () => {});
}
