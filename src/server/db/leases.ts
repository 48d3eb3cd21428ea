// Leader election for background jobs that must run once across all replicas (health polling,
// rollouts, retention, scheduled backups). On a PostgreSQL server the leader is whoever holds a
// session-level advisory lock on a dedicated connection; when that replica dies its connection
// closes, the server releases the lock, and another replica takes it at its next attempt
// (every `retryMs`, 2 s by default: well within the 30 s takeover budget). On the embedded
// database there is one process, so it always leads.

import pg from 'pg';
import type { DatabaseHandle } from './client.js';

export interface LeaderLease {
  isLeader(): boolean;
  onChange(fn: (leader: boolean) => void): void;
  stop(): Promise<void>;
}

export function createLeaderLease(database: DatabaseHandle, name: string, retryMs = 2000): LeaderLease {
  const listeners: ((leader: boolean) => void)[] = [];
  if (database.kind !== 'postgres' || !database.connectionString) {
    return { isLeader: () => true, onChange: () => {}, stop: async () => {} };
  }
  const url = database.connectionString;
  let leader = false;
  let client: pg.Client | undefined;
  let stopped = false;
  const set = (v: boolean) => {
    if (v === leader) return;
    leader = v;
    for (const fn of listeners) fn(v);
  };
  const attempt = async () => {
    if (stopped) return;
    try {
      if (!client) {
        const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
        c.on('error', () => {});
        c.on('end', () => {
          if (client === c) client = undefined;
          set(false);
        });
        await c.connect();
        client = c;
      }
      if (!leader) {
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
          `steward.lease.${name}`,
        ]);
        set(r.rows[0]?.ok === true);
      } else {
        // Still connected means still holding the lock; a cheap query proves the connection.
        await client.query('SELECT 1');
      }
    } catch {
      set(false);
      await client?.end().catch(() => {});
      client = undefined;
    }
  };
  const timer = setInterval(() => void attempt(), retryMs);
  timer.unref();
  void attempt();
  return {
    isLeader: () => leader,
    onChange(fn) {
      listeners.push(fn);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      set(false);
      await client?.end().catch(() => {});
    },
  };
}
