// The cluster repository on a real database: PGlite here, PostgreSQL when the route-test tier runs
// again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { createClusterRepo, createCounterStore } from './cluster.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const t0 = new Date('2026-11-24T10:00:00.000Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

describe('cluster repository', () => {
  it('writes one row per replica, updated by each heartbeat, listed oldest first, pruned when silent', async () => {
    const repo = createClusterRepo(database.db);
    const beat = (id: string, started: Date, now: Date, leader = false, address = `https://${id}:8443`) =>
      repo.heartbeat({
        id,
        address,
        release: '0.1.0',
        started_at: started,
        now,
        leader,
        polls_from: at(30),
        round: undefined,
      });
    await beat('b', at(10), at(10));
    await beat('a', at(0), at(0), true);
    // A second beat updates address, time and leadership; started_at and release stay.
    await repo.heartbeat({
      id: 'b',
      address: 'https://b2:8443',
      release: '9.9.9',
      started_at: at(99),
      now: at(20),
      leader: true,
      polls_from: at(99),
      round: { polled: 1234, ms: 87, at: at(19) },
    });
    const rows = await repo.list();
    expect(rows.map((r) => r.id)).toEqual(['a', 'b']);
    expect(rows[1]).toMatchObject({
      address: 'https://b2:8443',
      release: '0.1.0',
      leader: true,
      polled_appliances: 1234,
      last_round_ms: 87,
    });
    // The slot it joined in stays; the round is the last one told.
    expect(new Date(rows[1]?.polls_from as Date).toISOString()).toBe(at(30).toISOString());
    expect(new Date(rows[1]?.last_round_at as Date).toISOString()).toBe(at(19).toISOString());
    expect(rows[0]).toMatchObject({ polled_appliances: null, last_round_ms: null, last_round_at: null });
    expect(new Date(rows[1]?.started_at as Date).toISOString()).toBe(at(10).toISOString());
    expect(new Date(rows[1]?.last_heartbeat as Date).toISOString()).toBe(at(20).toISOString());
    await repo.prune(at(5));
    expect((await repo.list()).map((r) => r.id)).toEqual(['b']);
    await repo.remove('b');
    expect(await repo.list()).toEqual([]);
  });

  it('gives the last run of each job and the runs since a time; trims old runs', async () => {
    const repo = createClusterRepo(database.db);
    expect(await repo.jobs(at(0))).toEqual([]);
    const run = (job: string, started: Date, ok: boolean | null, replica = 'r1') =>
      database.db
        .insertInto('job_runs')
        .values({
          job,
          replica_id: replica,
          started_at: started,
          finished_at: ok === null ? null : started,
          ok,
        } as never)
        .execute();
    await run('retention', at(-7200), true);
    await run('fleet_health', at(-10), true);
    await run('fleet_health', at(0), false, 'r2');
    // Same start time: the later row (higher id) is the last run.
    await run('fleet_health', at(0), null, 'r3');
    const jobs = await repo.jobs(at(-60));
    expect(jobs.map((j) => [j.job, j.replica_id, j.ok, j.runs])).toEqual([
      ['fleet_health', 'r3', null, 3],
      ['retention', 'r1', true, 0],
    ]);
    expect(jobs[0]?.finished_at).toBeNull();
    await repo.pruneJobRuns(at(-60));
    expect((await repo.jobs(at(-60))).map((j) => j.job)).toEqual(['fleet_health']);
  });

  it('adds the rate limiter’s counts across replicas and prunes past windows', async () => {
    const store = createCounterStore(database.db);
    const w1 = at(0);
    expect(
      await store.add(
        w1,
        new Map([
          ['ip:1', 3],
          ['ip:2', 1],
        ]),
      ),
    ).toEqual(
      new Map([
        ['ip:1', 3],
        ['ip:2', 1],
      ]),
    );
    // Another replica's counts for the same window add up.
    expect(await store.add(w1, new Map([['ip:1', 2]]))).toEqual(new Map([['ip:1', 5]]));
    const w2 = at(60);
    expect(await store.add(w2, new Map([['ip:1', 1]]))).toEqual(new Map([['ip:1', 1]]));
    await store.prune(w2);
    const left = await database.db.selectFrom('rate_limit_counters').select(['key', 'count']).execute();
    expect(left).toEqual([{ key: 'ip:1', count: 1 }]);
  });
});
