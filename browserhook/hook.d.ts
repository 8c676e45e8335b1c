// Typings of the callrelay browser hook (browserhook/hook.js): the API it
// puts on window.callrelay. See docs/integration.md.

export {};

declare global {
  interface Window {
    /** The callrelay hook, once its script has run. */
    readonly callrelay?: CallrelayHook;
  }
}

/** What the hook reports about itself. Counts are for this page load. */
export interface CallrelayStatus {
  /** A WebSocket to the relay is open. */
  connected: boolean;
  /** Events in the outbox: seen, not yet acknowledged (restored ones included). */
  queued: number;
  /** Event frames written to the WebSocket, resends included. */
  sent: number;
  /** Outbox events the relay acknowledged (published or duplicate), each once. */
  acked: number;
  /** Events given up: rejected by the relay (nack retry:false), too large, or over the outbox bounds. */
  dropped: number;
  /** Events handed to navigator.sendBeacon when the page was hidden or unloaded (they stay queued until acked). */
  beaconed: number;
  /** The most recent problem, or null; a lost connection clears once the relay answers again, a retryable nack once an event is acknowledged. */
  lastError: CallrelayError | null;
  /** Where the outbox lives: "session" (sessionStorage, survives a reload) or "memory" (storage blocked or full). */
  storage: 'session' | 'memory';
  /** The tab's session id, sent in the hello frame; stable across reloads. */
  session: string;
}

export interface CallrelayError {
  /**
   * A nack code from docs/protocol.md (e.g. "sink_unavailable", "invalid_field"), or one of the hook's:
   * "disconnected", "connect_failed", "closed_1009", "closed_1003", "too_large", "storage_full",
   * "storage_unavailable", "outbox_dropped", "beacon_refused", "token_failed", "unserializable",
   * "config", "bad_frame", "send_failed", "internal".
   */
  code: string;
  /** A human description; never contains event data. */
  message: string;
  /** When it happened, RFC 3339. */
  at: string;
}

export interface CallrelayAck {
  id: string;
  /** "published", or "duplicate" when the relay had already published this id. */
  status: 'published' | 'duplicate';
}

export interface CallrelayNack {
  id?: string;
  code: string;
  message: string;
  /** true: the hook keeps the event and sends it again; false: it is dropped (a "drop" follows). */
  retry: boolean;
}

export interface CallrelayDrop {
  id: string;
  reason: 'rejected' | 'too_large' | 'expired' | 'outbox_full' | 'unserializable';
  /** The nack code, for reason "rejected". */
  code?: string;
  message?: string;
}

export interface CallrelayState {
  connected: boolean;
  /** The WebSocket close code, when the connection ended. */
  code?: number;
  reason?: string;
}

export interface CallrelayEvents {
  ack: CallrelayAck;
  nack: CallrelayNack;
  drop: CallrelayDrop;
  state: CallrelayState;
}

export interface CallrelayHook {
  /** "callrelay-hook/1". */
  readonly version: string;
  /** A snapshot of the hook's state. */
  status(): CallrelayStatus;
  /** Calls fn on every such event; returns a function that removes it. A callback that throws is ignored. */
  on<K extends keyof CallrelayEvents>(name: K, fn: (e: CallrelayEvents[K]) => void): () => void;
  /** Closes the WebSocket; the hook reconnects with its back-off (the demo's "drop the connection"). */
  reconnect(): void;
}
