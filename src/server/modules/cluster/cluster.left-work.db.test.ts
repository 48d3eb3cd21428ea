// Work a replica leaves when it dies (ADR 0006): the rollout it left `pending` and the upgrade it
// was following are claimed by a live replica and finished, without sending an agent anything it
// already has, and without touching what a live replica is still doing. Real agents on 127.0.0.1;
// the dead replica's state is written as it would be left (its claim, then nothing more).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAuthorizedAgent, startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { createPublisher } from '../../../../test/helpers/agent-package.js';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { loadConfig } from '../../config/config.js';
import type { DatabaseHandle } from '../../db/client.js';
import { createServices } from '../../services.js';
import { systemActor } from '../../shared/actor.js';
import { silentLogger } from '../../shared/logger.js';
import { createSecretBox } from '../../shared/secret-box.js';

const key = randomBytes(32);
const secrets = createSecretBox(key);
const DEAD = 'replica-that-died';
const actor = systemActor('test');
let database: DatabaseHandle & { dropDatabase: () => Promise<void> };
let dataDir: string;
let live: ReturnType<typeof createServices>;
const agents: TestAgent[] = [];
const ids: number[] = [];
/** Configuration sends (PUT /agent/v1/config) each agent got, by appliance id. */
const sends = new Map<number, number>();

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'steward-left-work-'));
  for (let i = 0; i < 4; i++) {
    const a = await startTestAgent({ type: 'tiscale-worker', name: `left-${i}` });
    agents.push(a);
    const id = await insertAuthorizedAgent(database.db, a, secrets, 'tiscale-worker');
    ids.push(id);
    sends.set(id, 0);
    a.app.server.on('request', (req: { method?: string; url?: string }) => {
      if (req.method === 'PUT' && req.url?.startsWith('/agent/v1/config'))
        sends.set(id, (sends.get(id) ?? 0) + 1);
    });
  }
  live = createServices({
    config: { ...loadConfig({}), dataDir },
    database,
    secretKey: key,
    log: silentLogger,
    replicaId: 'replica-alive',
    jobIntervals: { fleetUpgradePoll: 50 },
  });
  if (database.kind === 'postgres') await live.cluster.heartbeat(true);
});

afterAll(async () => {
  await live?.close();
  for (const a of agents) await a.cleanup();
  await database?.close();
  await database?.dropDatabase();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Writes what a replica leaves when it dies after marking `appliances` pending for `revision`. */
async function leftPending(
  appliances: number[],
  revision: number,
  claimedBy: string | null,
  secondsAgo: number,
) {
  await database.db
    .updateTable('appliances')
    .set({
      configuration_status: 'pending',
      configuration_status_details: JSON.stringify({ revision }),
      configuration_claimed_by: claimedBy,
      updated: new Date(Date.now() - secondsAgo * 1000),
    })
    .where('id', 'in', appliances)
    .execute();
}

const statusOf = async (id: number) =>
  database.db
    .selectFrom('appliances')
    .select([
      'configuration_status',
      'configuration_status_details',
      'applied_revision',
      'configuration_claimed_by',
    ])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();

describe('a rollout a dead replica left pending', () => {
  it('is finished by a live replica, sending only to the agents that did not get it', async () => {
    const content = { ntp__servers: ['ntp.example.org'], analysis__max_concurrent: 8 };
    await live.config.create(actor, 'left-group');
    const names = agents.map((a) => a.state.identity.name);
    const saved = await live.config.save(actor, 'left-group', { appliances: names, content }, 'put');
    const revision = saved.revision as number;
    const [got, notYet, stillRunning, justNow] = ids as [number, number, number, number];

    // The dead replica had sent the revision to the first agent, not to the second; the third is
    // being sent by a replica that is alive; the fourth's claimer died seconds ago (its send may
    // still be in flight: the 30 s send timeout has not passed).
    const gotRow = await database.db
      .selectFrom('appliances')
      .select(['url', 'agent_token_sealed', 'tls_cert_pem'])
      .where('id', '=', got)
      .executeTakeFirstOrThrow();
    const sent = await live.fleet.agentCall(gotRow, 'agent/v1/config', {
      method: 'PUT',
      body: { revision, content },
    });
    expect(sent.status).toBe(200);
    await leftPending([got, notYet], revision, DEAD, 60);
    await leftPending([stillRunning], revision, 'replica-alive', 60);
    await leftPending([justNow], revision, DEAD, 5);
    const before = new Map(sends);

    const claimed = await live.config.resumeLeftRollouts(await live.cluster.liveReplicaIds());
    expect(claimed).toBe(2);
    await live.config.settle();

    // Never twice: the agent that had it got no second send; the other got exactly one.
    expect((sends.get(got) ?? 0) - (before.get(got) ?? 0)).toBe(0);
    expect((sends.get(notYet) ?? 0) - (before.get(notYet) ?? 0)).toBe(1);
    for (const id of [got, notYet]) {
      const s = await statusOf(id);
      expect(s.configuration_status).toBe('done');
      expect(s.applied_revision).toBe(revision);
      expect(s.configuration_claimed_by).toBe('replica-alive');
    }
    expect((await statusOf(got)).configuration_status_details).toMatchObject({
      revision,
      resumed: expect.any(String),
    });
    // Left alone: a live replica's rollout, and a dead claimer's within the send timeout.
    for (const id of [stillRunning, justNow]) {
      expect((await statusOf(id)).configuration_status).toBe('pending');
      expect(sends.get(id)).toBe(before.get(id));
    }

    // A second pass claims nothing more: nothing is sent twice by repeated sweeps.
    expect(await live.config.resumeLeftRollouts(await live.cluster.liveReplicaIds())).toBe(0);
    await live.config.settle();
    expect(sends.get(notYet)).toBe((before.get(notYet) ?? 0) + 1);
  });

  it('claims a pending row written without a claimer only after 15 minutes', async () => {
    const [, , , id] = ids as [number, number, number, number];
    const revision = (await live.config.retrieve('left-group')).revision as number;
    await leftPending([id], revision, null, 60);
    expect(await live.config.resumeLeftRollouts([])).toBe(0);
    await leftPending([id], revision, null, 16 * 60);
    expect(await live.config.resumeLeftRollouts([])).toBe(1);
    await live.config.settle();
    expect((await statusOf(id)).configuration_status).toBe('done');
  });
});

describe('an upgrade a dead replica was following', () => {
  let hubId = 0;
  let hub: TestAgent;
  /** Package uploads (POST /agent/v1/upgrade) the hub got. */
  let uploads = 0;

  beforeAll(async () => {
    hub = await startTestAgent({ type: 'tiscale-hub', name: 'left-hub', release: '5.0.0' });
    agents.push(hub);
    hub.app.server.on('request', (req: { method?: string; url?: string }) => {
      if (req.method === 'POST' && req.url?.startsWith('/agent/v1/upgrade')) uploads += 1;
    });
    hubId = (await live.fleet.create(actor, { name: 'left-hub', type: 'tiscale-hub', url: hub.url })).id;
    await live.fleet.authorizeByPairing(actor, hubId, null);
    const publisher = createPublisher(dataDir);
    for (const version of ['5.1.0', '5.2.0'])
      await live.upgrades.addPackage(
        actor,
        publisher.build({ type: 'tiscale-hub', version, requires: '5.0.0' }, '#!/bin/sh\necho installed\n'),
        'api',
      );
  });

  const leftUpgrade = async (version: string, runBy: string | null, minutesAgo: number) =>
    (
      await database.db
        .insertInto('fleet_upgrades')
        .values({
          appliance_id: hubId,
          version,
          status: 'downloading',
          started: new Date(Date.now() - minutesAgo * 60_000),
          run_by: runBy,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const upgrade = (id: number) =>
    database.db.selectFrom('fleet_upgrades').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('is sent by a live replica when the agent never got the package, and followed to its end', async () => {
    const id = await leftUpgrade('5.1.0', DEAD, 1);
    expect(await live.upgrades.resumeLeft(await live.cluster.liveReplicaIds())).toBe(true);
    await live.upgrades.settle();
    expect(uploads).toBe(1);
    expect(await upgrade(id)).toMatchObject({
      status: 'idle',
      run_by: 'replica-alive',
      finished: expect.any(Date),
    });
    const row = await database.db
      .selectFrom('appliances')
      .select('release')
      .where('id', '=', hubId)
      .executeTakeFirstOrThrow();
    expect(row.release).toBe('5.1.0');
  });

  it("is not sent again when the agent already installed it; a live replica's upgrade is left alone", async () => {
    // The dead replica had sent 5.2.0 and the agent installed it; then the replica died.
    const running = await leftUpgrade('5.2.0', 'replica-alive', 1);
    expect(await live.upgrades.resumeLeft(await live.cluster.liveReplicaIds())).toBe(false);
    await database.db.deleteFrom('fleet_upgrades').where('id', '=', running).execute();

    const started = await live.upgrades.start(actor, 'left-hub');
    expect(started.version).toBe('5.2.0');
    await live.upgrades.settle();
    expect(uploads).toBe(2);
    // Rewind the finished upgrade into the state a replica dying at the end would leave.
    const last = await database.db
      .selectFrom('fleet_upgrades')
      .select('id')
      .where('appliance_id', '=', hubId)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    await database.db
      .updateTable('fleet_upgrades')
      .set({ finished: null, status: 'installing', run_by: DEAD })
      .where('id', '=', last.id)
      .execute();
    expect(await live.upgrades.resumeLeft(await live.cluster.liveReplicaIds())).toBe(true);
    await live.upgrades.settle();
    expect(uploads).toBe(2);
    expect(await upgrade(last.id)).toMatchObject({ status: 'idle', finished: expect.any(Date) });
    // Nothing is left to claim, and a new upgrade may start (the one-at-a-time index is free).
    expect(await live.upgrades.resumeLeft(await live.cluster.liveReplicaIds())).toBe(false);
  });
});
