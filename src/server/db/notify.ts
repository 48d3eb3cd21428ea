// A message bus between manager replicas: PostgreSQL LISTEN/NOTIFY on a server, an in-process
// bus on the embedded database (one process, nothing to tell). Used to drop cached credentials
// on every replica when a token, session or user changes.
//
// A notification can be lost while the listening connection is down. The bus reconnects by
// itself and emits `resync` after every (re)connection, so subscribers drop their whole cache.

import pg from 'pg';
import { type Logger, silentLogger } from '../shared/logger.js';
import type { DatabaseHandle } from './client.js';

export const CHANNEL = 'steward_events';

export type BusMessage = { topic: string; data: Record<string, unknown>; from: string };
type Listener = (msg: BusMessage) => void;

export interface ClusterBus {
  readonly replicaId: string;
  /** Delivers to every other replica (and not to this one). */
  publish(topic: string, data: Record<string, unknown>): Promise<void>;
  subscribe(topic: string, fn: (data: Record<string, unknown>) => void): void;
  /** Called after the bus (re)connects: anything cached may have missed a message. */
  onResync(fn: () => void): void;
  close(): Promise<void>;
}

/** `log` hears when the listening connection cannot be made (once per outage); app.ts passes its logger. */
export function createClusterBus(
  database: DatabaseHandle,
  replicaId: string,
  log: Logger = silentLogger,
): ClusterBus {
  const url = database.connectionString;
  const listeners = new Map<string, Listener[]>();
  const resync: (() => void)[] = [];
  const deliver = (msg: BusMessage) => {
    if (msg.from === replicaId) return;
    for (const l of listeners.get(msg.topic) ?? []) l(msg);
  };
  const base = {
    replicaId,
    subscribe(topic: string, fn: (data: Record<string, unknown>) => void) {
      listeners.set(topic, [...(listeners.get(topic) ?? []), (m) => fn(m.data)]);
    },
    onResync(fn: () => void) {
      resync.push(fn);
    },
  };
  if (database.kind !== 'postgres' || !database.pool || !url) {
    return { ...base, publish: async () => {}, close: async () => {} };
  }
  const pool = database.pool;
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  /** Whether the current outage was logged: a retry every second must not log every second. */
  let outageLogged = false;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    c.on('error', () => {}); // not logged here: 'end' follows, and the reconnect reports a failure
    c.on('end', () => {
      if (client === c) client = undefined;
      schedule();
    });
    c.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      try {
        deliver(JSON.parse(n.payload) as BusMessage);
      } catch {
        // A payload from something else on the channel: ignore it.
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      client = c;
      outageLogged = false;
      for (const fn of resync) fn();
    } catch (err) {
      if (!outageLogged && !closed) {
        outageLogged = true;
        log.warn(
          { err },
          'cluster bus cannot listen; retrying every second (changes on other replicas reach this one when it is back)',
        );
      }
      await c.end().catch(() => {}); // not logged: this connection never worked, its failure is above
      schedule();
    }
  };
  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, 1000);
    timer.unref();
  };
  void connect();

  return {
    ...base,
    async publish(topic, data) {
      const payload = JSON.stringify({ topic, data, from: replicaId });
      // NOTIFY payloads are limited to 8000 bytes; our messages are a few digests.
      await pool.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => {}); // not logged: shutting down, a broken connection is gone anyway
    },
  };
}
