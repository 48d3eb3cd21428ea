// The health service's rounds against real agents on 127.0.0.1: online/offline transitions reach the
// onTransition listener after they are recorded (never for appliances in maintenance, whose
// transitions are not alarmed), and an unchanged appliance is not written every poll. Two
// services on one database stand for two replicas (ADR 0006): a transition both see is recorded
// once, and a replica taking an appliance over reads its row fresh first.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kysely, KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import type { DatabaseHandle } from '../../db/client.js';
import type { Database } from '../../db/schema.js';
import { createTransactor } from '../../db/transactor.js';
import { type Clock, systemClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/logger.js';
import { createSecretBox } from '../../shared/secret-box.js';
import { createAuditRepo } from '../audit/audit.repo.js';
import { createAuditService } from '../audit/audit.service.js';
import { createConfigRepo } from '../config/config.repo.js';
import { createFleetRepo } from '../fleet/fleet.repo.js';
import { createFleetService } from '../fleet/fleet.service.js';
import { createManagerKeyStore } from '../fleet/manager-key.js';
import { createHealthRepo } from './health.repo.js';
import { type ApplianceTransition, createHealthService } from './health.service.js';
import { createHealthSampler, type HealthSampler } from './health-history.service.js';
import { createHealthSamplesRepo } from './health-samples.repo.js';

let database: DatabaseHandle & { dropDatabase: () => Promise<void> };
const agents: TestAgent[] = [];
const secrets = createSecretBox(randomBytes(32));

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const a of agents) await a.cleanup();
  await database?.close();
  await database?.dropDatabase();
});

function services(
  telemetryMs: number,
  seen: { e: ApplianceTransition; online: boolean | undefined }[],
  db: Kysely<Database> = database.db,
  sampler?: HealthSampler,
  clock: Clock = systemClock,
) {
  const repo = createFleetRepo(db);
  const audit = createAuditService({ repo: createAuditRepo(db), clock: systemClock });
  const tx = createTransactor(db);
  const fleet = createFleetService({
    repo,
    groups: createConfigRepo(db),
    tx,
    audit,
    clock: systemClock,
    secrets,
    managerKey: createManagerKeyStore(repo, secrets),
  });
  return createHealthService({
    repo,
    healthRepo: createHealthRepo(db),
    tx,
    fleet,
    audit,
    clock,
    intervalMs: 60_000,
    log: silentLogger,
    sampler,
    telemetryMs,
    onTransition: (e) => {
      // Recorded already: a read from outside the transaction sees the new state.
      const entry: { e: ApplianceTransition; online: boolean | undefined } = { e, online: undefined };
      seen.push(entry);
      void db
        .selectFrom('appliances')
        .select('online')
        .where('id', '=', e.appliance.id)
        .executeTakeFirst()
        .then((r) => {
          entry.online = r?.online;
        });
    },
  });
}

/** An Analyze agent as the manager keeps it after `PUT .../authorization/` with its API token. */
async function addAppliance(name: string, maintenance: boolean) {
  const a = await startTestAgent({ type: 'a1000', name });
  agents.push(a);
  const row = await database.db
    .insertInto('appliances')
    .values({
      name,
      type: 'a1000',
      url: a.url,
      uuid: a.state.identity.uuid,
      authorized: true,
      agent_token_sealed: secrets.seal(a.token),
      online: false,
      status: 'offline',
      maintenance,
      system_data: JSON.stringify({}),
      configuration_status_details: JSON.stringify({}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { agent: a, id: row.id };
}

/** Sets the agent's running configuration as the manager's apply does (PUT /agent/v1/config). */
async function putConfig(agent: TestAgent, revision: number, content: Record<string, unknown>) {
  const res = await agent.app.inject({
    method: 'PUT',
    url: '/agent/v1/config',
    headers: { authorization: `Token ${agent.token}` },
    payload: { revision, content },
  });
  expect(res.statusCode).toBe(200);
}

const get = (id: number) =>
  database.db.selectFrom('appliances').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('health service', () => {
  it('keeps one health sample per appliance per 5-minute slot, written in the round', async () => {
    const samples = createHealthSamplesRepo(database.db);
    const job = services(60_000, [], database.db, createHealthSampler(samples));
    const { id } = await addAppliance('hj-sampled', false);
    await job.pollAll();
    await job.pollAll(); // the same slot: no second sample
    const rows = await samples.listSamples(id, new Date(Date.now() - 60_000));
    expect(rows).toHaveLength(1);
    const s = rows[0] as (typeof rows)[number];
    expect(Number(s.memory_used_percent)).toBeGreaterThan(0);
    expect(Number(s.memory_used_percent)).toBeLessThanOrEqual(100);
    expect(Number(s.load1)).toBeGreaterThanOrEqual(0);
    expect(Number(s.uptime_seconds)).toBeGreaterThanOrEqual(0);
  });

  it('tells the listener about transitions after they commit, except in maintenance', async () => {
    const seen: { e: ApplianceTransition; online: boolean | undefined }[] = [];
    const job = services(60_000, seen);
    const normal = await addAppliance('hj-normal', false);
    const quiet = await addAppliance('hj-quiet', true);

    await job.pollAll();
    expect((await get(normal.id)).online).toBe(true);
    expect((await get(quiet.id)).online).toBe(true);
    expect(seen.map((s) => s.e)).toEqual([
      { online: true, appliance: { id: normal.id, name: 'hj-normal', type: 'a1000' }, reason: '' },
    ]);

    await normal.agent.close();
    await quiet.agent.close();
    await job.pollAll();
    expect((await get(normal.id)).online).toBe(false);
    expect((await get(quiet.id)).status).toBe('offline');
    expect(seen).toHaveLength(2);
    const offline = seen[1] as (typeof seen)[number];
    expect(offline.e).toMatchObject({ online: false, appliance: { id: normal.id, name: 'hj-normal' } });
    expect(offline.e.reason).toMatch(/cannot reach|no answer/);
    await new Promise((r) => setTimeout(r, 50));
    expect(offline.online).toBe(false);

    const events = await database.db
      .selectFrom('fleet_events')
      .select(['appliance_name', 'severity', 'message'])
      .where('kind', '=', 'appliance.offline')
      .orderBy('appliance_name')
      .execute();
    expect(events).toEqual([
      expect.objectContaining({ appliance_name: 'hj-normal', severity: 'warning' }),
      expect.objectContaining({ appliance_name: 'hj-quiet', severity: 'info' }),
    ]);
    expect(events[1]?.message).toContain('(in maintenance)');
  });

  it('writes latency and system data at most once per telemetry interval while nothing changes', async () => {
    const throttled = services(60_000, []);
    const { id } = await addAppliance('hj-steady', false);
    await throttled.pollAll();
    const first = await get(id);
    expect(first.online).toBe(true);
    expect(first.last_polled).not.toBeNull();
    expect(first.system_data).toHaveProperty('disk');
    await new Promise((r) => setTimeout(r, 20));
    await throttled.pollAll();
    expect((await get(id)).last_polled).toEqual(first.last_polled);

    // Between rounds: a new appliance is polled at the next round, a removed one no longer.
    const later = await addAppliance('hj-later', false);
    await database.db.deleteFrom('appliances').where('id', '=', id).execute();
    await throttled.pollAll();
    expect((await get(later.id)).online).toBe(true);
    const gone = await database.db
      .selectFrom('fleet_events')
      .select('id')
      .where('appliance_name', '=', 'hj-steady')
      .where('kind', '=', 'appliance.offline')
      .execute();
    expect(gone).toEqual([]);
    // A column the poll reads, changed elsewhere, reaches the cached targets (poll_version).
    await database.db
      .updateTable('appliances')
      .set({ maintenance: true })
      .where('id', '=', later.id)
      .execute();
    await later.agent.close();
    await throttled.pollAll();
    const quiet = await database.db
      .selectFrom('fleet_events')
      .select(['severity', 'message'])
      .where('appliance_name', '=', 'hj-later')
      .where('kind', '=', 'appliance.offline')
      .execute();
    expect(quiet).toEqual([expect.objectContaining({ severity: 'info' })]);
  });

  it('writes telemetry every poll with a zero interval', async () => {
    const { id } = await addAppliance('hj-eager', false);
    const eager = services(0, []);
    await eager.pollAll();
    const first = await get(id);
    await new Promise((r) => setTimeout(r, 20));
    await eager.pollAll();
    expect((await get(id)).last_polled?.getTime()).toBeGreaterThan(first.last_polled?.getTime() ?? 0);
  });

  it('records a transition two replicas see in the same slot once', async () => {
    const seenA: { e: ApplianceTransition; online: boolean | undefined }[] = [];
    const seenB: { e: ApplianceTransition; online: boolean | undefined }[] = [];
    const a = services(60_000, seenA);
    const b = services(60_000, seenB);
    const { agent, id } = await addAppliance('hj-twice', false);
    const only = (x: number) => x === id;
    await Promise.all([a.pollAll(only), b.pollAll(only)]);
    await agent.close();
    await Promise.all([a.pollAll(only), b.pollAll(only)]);
    expect((await get(id)).online).toBe(false);
    const kinds = await database.db
      .selectFrom('fleet_events')
      .select('kind')
      .where('appliance_id', '=', id)
      .where('kind', 'in', ['appliance.online', 'appliance.offline'])
      .orderBy('id')
      .execute();
    expect(kinds.map((k) => k.kind)).toEqual(['appliance.online', 'appliance.offline']);
    expect([...seenA, ...seenB].map((s) => s.e.online)).toEqual(expect.arrayContaining([true, false]));
    expect(seenA.length + seenB.length).toBe(2);
    const audited = await database.db
      .selectFrom('audit_log')
      .select('action')
      .where('target_id', '=', String(id))
      .where('action', 'in', ['appliance.online', 'appliance.offline'])
      .execute();
    expect(audited).toHaveLength(2);
  });

  it("reads an appliance fresh when it joins this replica's share (its cache may be old)", async () => {
    const a = services(60_000, []);
    const b = services(60_000, []);
    const { agent, id } = await addAppliance('hj-moved', false);
    const only = (x: number) => x === id;
    const none = () => false;
    // A owns it and records it online; B reads the fleet then (its cache: online).
    await a.pollAll(only);
    await b.pollAll(none);
    // A records it offline: online is written by the poller, with no new poll_version, so B's
    // cached row still says online.
    await agent.close();
    await a.pollAll(only);
    expect((await get(id)).online).toBe(false);
    const back = await agent.restart();
    agents.push(back);
    // The share moves to B (A left): B must see the row as offline and record it back online.
    await b.pollAll(none);
    await b.pollAll(only);
    expect((await get(id)).online).toBe(true);
    const kinds = await database.db
      .selectFrom('fleet_events')
      .select('kind')
      .where('appliance_id', '=', id)
      .where('kind', 'in', ['appliance.online', 'appliance.offline'])
      .orderBy('id')
      .execute();
    expect(kinds.map((k) => k.kind)).toEqual(['appliance.online', 'appliance.offline', 'appliance.online']);
  });

  it('polls conditionally between telemetry refreshes; a change on the agent is read at the next poll', async () => {
    const { agent, id } = await addAppliance('hj-conditional', false);
    // What the agent was asked and answered, poll by poll.
    const seen: { tag: string | undefined; status: number }[] = [];
    agent.app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.startsWith('/agent/v1/status')) return;
      const entry = { tag: req.headers['if-none-match'], status: 0 };
      seen.push(entry);
      res.on('finish', () => {
        entry.status = res.statusCode;
      });
    });
    // Telemetry every minute, on a clock this test moves.
    let ahead = 0;
    const clock = { now: () => new Date(Date.now() + ahead) };
    const job = services(60_000, [], database.db, undefined, clock);
    const only = (x: number) => x === id;
    await job.pollAll(only);
    const first = await get(id);
    expect(first.online).toBe(true);
    await job.pollAll(only);
    await job.pollAll(only);
    expect(seen.map((s) => s.status)).toEqual([200, 304, 304]);
    expect(seen[0]?.tag).toBeUndefined();
    expect(seen[1]?.tag).toMatch(/^W\/"/);
    expect((await get(id)).online).toBe(true);
    expect((await get(id)).last_polled).toEqual(first.last_polled);

    // A new event on the agent: the next poll reads the whole answer and pulls the event.
    agent.state.addEvent({ kind: 'test.conditional', severity: 'warning', message: 'disk checked' });
    await job.pollAll(only);
    expect(seen.at(-1)?.status).toBe(200);
    const pulled = await database.db
      .selectFrom('fleet_events')
      .select('kind')
      .where('appliance_id', '=', id)
      .where('source', '=', 'appliance')
      .execute();
    expect(pulled.map((e) => e.kind)).toContain('test.conditional');

    // Changed locally on the appliance after the manager applied: drift is seen at the next poll.
    const applied = await get(id);
    await database.db
      .updateTable('appliances')
      .set({ configuration_status: 'done', applied_hash: applied.running_hash, applied_revision: 0 })
      .where('id', '=', id)
      .execute();
    await job.pollAll(only);
    expect(seen.at(-1)?.status).toBe(304);
    await putConfig(agent, 9, { snmp__enable: true });
    await job.pollAll(only);
    expect(seen.at(-1)?.status).toBe(200);
    expect((await get(id)).configuration_status).toBe('mismatch');

    // Telemetry due: a whole answer again, written.
    ahead = 61_000;
    await job.pollAll(only);
    expect(seen.at(-1)).toEqual({ tag: undefined, status: 200 });
    expect((await get(id)).last_polled?.getTime()).toBeGreaterThan(first.last_polled?.getTime() ?? 0);

    // Gone and back: the first poll after it is a whole answer.
    await agent.close();
    await job.pollAll(only);
    expect((await get(id)).online).toBe(false);
    const back = await agent.restart();
    agents.push(back);
    const before = seen.length;
    back.app.server.prependListener('request', (req: IncomingMessage) => {
      if (req.url?.startsWith('/agent/v1/status'))
        seen.push({ tag: req.headers['if-none-match'], status: 0 });
    });
    await job.pollAll(only);
    expect((await get(id)).online).toBe(true);
    expect(seen.slice(before).map((s) => s.tag)).toEqual([undefined]);
  });

  it("writes the agent's report of an apply at the next poll, though the apply recorded its hash", async () => {
    const { agent, id } = await addAppliance('hj-applied', false);
    const job = services(60_000, []);
    const only = (x: number) => x === id;
    await job.pollAll(only);
    const before = await get(id);
    // A fresh agent runs no revision from the manager.
    expect(before.system_data).toMatchObject({ running_config: { revision: null } });
    // The apply: the agent takes revision 4, and the manager records the hash it answered, as
    // config.repo does for a done apply, so the poll sees no change of running hash.
    await putConfig(agent, 4, { snmp__enable: true });
    const status = await agent.app.inject({
      method: 'GET',
      url: '/agent/v1/status',
      headers: { authorization: `Token ${agent.token}` },
    });
    const hash = (status.json() as { config: { hash: string } }).config.hash;
    expect(hash).not.toBe(before.running_hash);
    await database.db
      .updateTable('appliances')
      .set({ configuration_status: 'done', applied_revision: 4, applied_hash: hash, running_hash: hash })
      .where('id', '=', id)
      .execute();
    // Within the telemetry period: the conditional poll gets a whole answer, and its report is kept.
    await job.pollAll(only);
    const after = await get(id);
    expect(after.system_data).toMatchObject({ running_config: { revision: 4, hash } });
    expect(after.configuration_status).toBe('done');
    // Nothing new since: the next poll is a 304 again and writes nothing.
    await job.pollAll(only);
    expect((await get(id)).last_polled).toEqual(after.last_polled);
  });

  it('costs a fixed number of statements per round, however many appliances answer unchanged', async () => {
    // Every statement the service sends (a plugin sees each query, raw SQL included).
    let statements = 0;
    const counter: KyselyPlugin = {
      transformQuery(args) {
        statements++;
        return args.node;
      },
      async transformResult(args) {
        return args.result;
      },
    };
    const counted = database.db.withPlugin(counter);
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) ids.push((await addAppliance(`hj-quiet-${i}`, false)).id);
    const mine = new Set(ids);
    const owns = (x: number) => mine.has(x);
    const measure = async (job: ReturnType<typeof services>) => {
      statements = 0;
      await job.pollAll(owns);
      return statements;
    };
    const throttled = services(60_000, [], counted);
    // The first round records each appliance coming online (a transaction each) and its telemetry;
    // the release it wrote is a column the poll reads, so the second reads those rows back once.
    await measure(throttled);
    await measure(throttled);
    expect((await get(ids[0] as number)).online).toBe(true);
    // Unchanged, telemetry not due: one statement (the poll head), not one per appliance.
    const quiet = await measure(throttled);
    expect(quiet).toBe(1);
    // Telemetry due for every appliance: one more, the batched UPDATE of all of them.
    const eager = services(0, [], counted);
    await measure(eager); // its first round reads the targets and credentials in full
    const due = await measure(eager);
    expect(due).toBe(2);
    console.log(
      `health round of ${ids.length} unchanged appliances: ${quiet} statement (telemetry not due), ${due} (telemetry of all due)`,
    );
  });
});
