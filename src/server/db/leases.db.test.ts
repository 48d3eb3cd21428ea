// The jobs lease: runJob runs a tick only on the leader and records it in job_runs; on a
// PostgreSQL server (STEWARD_TEST_DATABASE_URL) one of two leases leads and the other takes
// over when the first stops.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, PG_URL } from '../../../test/helpers/database.js';
import type { DatabaseHandle } from './client.js';
import { createLeaderLease, type LeaderLease } from './leases.js';

let database: DatabaseHandle & { dropDatabase: () => Promise<void> };
const leases: LeaderLease[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const l of leases) await l.stop();
  await database?.close();
  await database?.dropDatabase();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const runsOf = (job: string) =>
  database.db.selectFrom('job_runs').selectAll().where('job', '=', job).orderBy('id').execute();

describe('LeaderLease.runJob', () => {
  it('runs the tick on the leader and records it, with the failure when it throws', async () => {
    const lease = createLeaderLease(database, 'unit-a', { replicaId: 'replica-a', retryMs: 100 });
    leases.push(lease);
    await until('leading', () => lease.isLeader());
    let ran = 0;
    expect(
      await lease.runJob('unit_ok', async () => {
        ran++;
      }),
    ).toBe(true);
    expect(ran).toBe(1);
    await expect(
      lease.runJob('unit_fail', async () => {
        throw new Error('the tick failed');
      }),
    ).rejects.toThrow('the tick failed');
    const [ok] = await runsOf('unit_ok');
    expect(ok).toMatchObject({ replica_id: 'replica-a', ok: true, error: null });
    expect(ok?.finished_at).not.toBeNull();
    expect(new Date(ok?.finished_at as Date).getTime()).toBeGreaterThanOrEqual(
      new Date(ok?.started_at as Date).getTime(),
    );
    const [failed] = await runsOf('unit_fail');
    expect(failed).toMatchObject({ replica_id: 'replica-a', ok: false, error: 'the tick failed' });
  });
});

describe.skipIf(!PG_URL)('two leases on one PostgreSQL database', () => {
  it('one leads; the follower neither runs nor records a tick; it takes over when the leader stops', async () => {
    const one = createLeaderLease(database, 'unit-pair', { replicaId: 'one', retryMs: 100 });
    leases.push(one);
    await until('one leads', () => one.isLeader());
    const two = createLeaderLease(database, 'unit-pair', { replicaId: 'two', retryMs: 100 });
    leases.push(two);
    await sleep(400); // several attempts of the second lease
    expect(two.isLeader()).toBe(false);
    let ran = 0;
    const tick = async () => {
      ran++;
    };
    expect(await two.runJob('unit_pair', tick)).toBe(false);
    expect(await one.runJob('unit_pair', tick)).toBe(true);
    expect(ran).toBe(1);
    expect((await runsOf('unit_pair')).map((r) => r.replica_id)).toEqual(['one']);

    await one.stop();
    await until('two takes over', () => two.isLeader(), 3000);
    expect(await two.runJob('unit_pair', tick)).toBe(true);
    expect((await runsOf('unit_pair')).map((r) => r.replica_id)).toEqual(['one', 'two']);
  });
});
