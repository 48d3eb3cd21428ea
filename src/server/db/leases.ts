// Leader election for background jobs that must run once across all replicas (retention, token
// expiry warnings; health polling is shared among the replicas instead, ADR 0006). On a PostgreSQL server the leader is whoever holds a
// session-level advisory lock on a dedicated connection; when that replica dies its connection
// closes, the server releases the lock, and another replica takes it at its next attempt
// (every `retryMs`, 2 s by default: well within the 30 s takeover budget). On the embedded
// database there is one process, so it always leads.
//
// `runJob` runs one tick of a job if this replica leads and records the run in `job_runs`
// (job, replica, start, end, outcome), so an admin (GET /api/v1/cluster/) and the cluster tests
// can see which replica ran each tick.

import pg from 'pg';
import { type Logger, silentLogger } from '../shared/logger.js';
import type { DatabaseHandle } from './client.js';

export interface LeaderLease {
  isLeader(): boolean;
  onChange(fn: (leader: boolean) => void): void;
  /**
   * Runs one tick of `job` if this replica leads, recorded in `job_runs`; resolves false without
   * running it otherwise. A failure of `fn` is recorded and rethrown.
   */
  runJob(job: string, fn: () => Promise<unknown>): Promise<boolean>;
  stop(): Promise<void>;
}

export interface LeaderLeaseOptions {
  /** The replica's id, written with each job run (the id GET /api/v1/cluster/ lists). */
  replicaId?: string;
  /** How often a follower tries to take the lock and a leader checks its connection. */
  retryMs?: number;
  /** Hears of a job run whose end could not be recorded; the server passes its logger. */
  log?: Logger;
}

/** Longest a leader waits for its lock connection to answer before it gives up leading. */
const CHECK_TIMEOUT_MS = 2000;

export function createLeaderLease(
  database: DatabaseHandle,
  name: string,
  opts: LeaderLeaseOptions = {},
): LeaderLease {
  const replicaId = opts.replicaId ?? 'local';
  const retryMs = opts.retryMs ?? 2000;
  const log = opts.log ?? silentLogger;
  const listeners: ((leader: boolean) => void)[] = [];
  let leader = database.kind !== 'postgres' || !database.connectionString;

  async function runJob(job: string, fn: () => Promise<unknown>): Promise<boolean> {
    if (!leader) return false;
    // The job needs the database anyway: if this insert fails, so would the tick. The times are
    // this replica's: a statement held up by a frozen server must not show a later start.
    const run = await database.db
      .insertInto('job_runs')
      .values({ job, replica_id: replicaId, started_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    let error: string | null = null;
    try {
      await fn();
    } catch (err) {
      error = (err instanceof Error ? err.message : String(err)).slice(0, 300);
      throw err;
    } finally {
      await database.db
        .updateTable('job_runs')
        .set({ finished_at: new Date(), ok: error === null, error })
        .where('id', '=', run.id)
        .execute()
        .catch((err: unknown) =>
          log.warn(
            { err, job, jobRun: run.id },
            'could not record the end of a job run; job_runs shows it unfinished',
          ),
        );
    }
    return true;
  }

  if (database.kind !== 'postgres' || !database.connectionString) {
    return { isLeader: () => true, onChange: () => {}, runJob, stop: async () => {} };
  }
  const url = database.connectionString;
  let client: pg.Client | undefined;
  let stopped = false;
  let busy = false;
  const set = (v: boolean) => {
    if (v === leader) return;
    leader = v;
    for (const fn of listeners) fn(v);
  };
  const attempt = async () => {
    // A check that has not answered yet (a frozen server) must not pile up behind itself.
    if (stopped || busy) return;
    busy = true;
    try {
      if (!client) {
        // query_timeout: on a frozen server or a silently dropped connection the check fails
        // after 2 s and this replica stops leading, instead of believing it leads forever.
        const c = new pg.Client({
          connectionString: url,
          connectionTimeoutMillis: 2000,
          query_timeout: CHECK_TIMEOUT_MS,
        });
        c.on('error', () => {}); // not logged here: the failed query or 'end' below reports it
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
      const c = client;
      client = undefined;
      // Closing the connection releases the lock if the server still thinks we hold it. Not
      // awaited: on a frozen server the goodbye waits for the server too.
      void c?.end().catch(() => {}); // not logged: the connection has already failed
    } finally {
      busy = false;
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
    runJob,
    async stop() {
      stopped = true;
      clearInterval(timer);
      set(false);
      await client?.end().catch(() => {}); // not logged: a broken connection holds no lock either
    },
  };
}
