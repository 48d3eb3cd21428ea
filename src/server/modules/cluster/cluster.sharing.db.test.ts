// Replicas sharing the fleet, through the services of two (and three) replicas on one database with
// real agents on 127.0.0.1: on PostgreSQL each appliance is polled by exactly one live replica
// per round, the shares add up to the authorized appliances in GET /api/v1/cluster/'s view, a
// replica that leaves or falls silent hands its share over at the next round, and a joiner counts
// from its first slot. On the embedded database the one manager polls every appliance.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAuthorizedAgent, startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { createTestDatabase, PG_URL } from '../../../../test/helpers/database.js';
import { loadConfig } from '../../config/config.js';
import type { DatabaseHandle } from '../../db/client.js';
import { createServices } from '../../services.js';
import { silentLogger } from '../../shared/logger.js';
import { createSecretBox } from '../../shared/secret-box.js';
import { memberOf, ownerOf, slotStartOf } from './cluster.ownership.js';
import { ALIVE_MS } from './cluster.service.js';

const INTERVAL = 1000;
const APPLIANCES = 8;
const key = randomBytes(32);
const secrets = createSecretBox(key);
let database: DatabaseHandle & { dropDatabase: () => Promise<void> };
let dataDir: string;
const agents: TestAgent[] = [];
/** Status requests each agent got, by appliance id. */
const polls = new Map<number, number>();
const replicas: ReturnType<typeof createServices>[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'steward-sharing-'));
  for (let i = 0; i < APPLIANCES; i++) {
    const a = await startTestAgent({ type: 'a1000', name: `shared-${i}` });
    agents.push(a);
    const id = await insertAuthorizedAgent(database.db, a, secrets, 'a1000');
    polls.set(id, 0);
    a.app.server.on('request', (req: { url?: string }) => {
      if (req.url?.startsWith('/agent/v1/status')) polls.set(id, (polls.get(id) ?? 0) + 1);
    });
  }
});

afterAll(async () => {
  for (const r of replicas) await r.close();
  for (const a of agents) await a.cleanup();
  await database?.close();
  await database?.dropDatabase();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function replica(id: string) {
  const services = createServices({
    config: { ...loadConfig({}), dataDir },
    database,
    secretKey: key,
    log: silentLogger,
    replicaId: id,
    jobIntervals: { fleetHealth: INTERVAL },
  });
  replicas.push(services);
  return services;
}

/** One slot: each replica reads its share, polls it and beats (as the two jobs do). */
async function round(rs: ReturnType<typeof createServices>[], slot: number) {
  for (const p of polls.keys()) polls.set(p, 0);
  const shares = new Map<string, number>();
  for (const r of rs) {
    const share = await r.cluster.fleetShare(slot);
    const { polled } = await r.health.pollAll(share.owns);
    r.cluster.noteRound({ polled, ms: 1, at: new Date() });
    await r.cluster.heartbeat(false);
    shares.set(r.replica.id, polled);
  }
  return shares;
}

const expectedShare = (ids: string[], self: string) =>
  [...polls.keys()].filter((a) => ownerOf(a, ids.map(memberOf)) === self).length;

/** A slot that every replica registered so far counts in (their first slots are a second away). */
const laterSlot = () => slotStartOf(Date.now(), INTERVAL) + 5 * INTERVAL;

describe.skipIf(!PG_URL)('replicas on one PostgreSQL share the fleet', () => {
  it('polls each appliance once per round, on its owner; the view adds up to the authorized appliances', async () => {
    const a = replica('replica-a');
    const b = replica('replica-b');
    await a.cluster.heartbeat(true);
    await b.cluster.heartbeat(false);

    // Before its first slot a replica counts nowhere: the first one polls nothing yet.
    const early = await a.cluster.fleetShare(slotStartOf(Date.now(), INTERVAL) - INTERVAL);
    expect(early.replicas).toBe(0);

    const shares = await round([a, b], laterSlot());
    expect([...polls.values()]).toEqual(new Array(APPLIANCES).fill(1));
    expect(shares.get('replica-a')).toBe(expectedShare(['replica-a', 'replica-b'], 'replica-a'));
    expect(shares.get('replica-b')).toBe(expectedShare(['replica-a', 'replica-b'], 'replica-b'));

    const view = await a.cluster.view();
    const live = view.replicas.filter((r) => r.alive);
    expect(live.map((r) => r.id).sort()).toEqual(['replica-a', 'replica-b']);
    expect(live.reduce((n, r) => n + r.polled_appliances, 0)).toBe(APPLIANCES);
    expect(live.every((r) => r.last_round_ms === 1 && r.last_round_at !== null)).toBe(true);
  });

  it('a joiner takes its share from its first slot; a replica that leaves or falls silent hands its share over', async () => {
    const [a, b] = replicas as [ReturnType<typeof createServices>, ReturnType<typeof createServices>];
    const c = replica('replica-c');
    await c.cluster.heartbeat(false);
    let shares = await round([a, b, c], laterSlot());
    expect([...polls.values()]).toEqual(new Array(APPLIANCES).fill(1));
    const three = ['replica-a', 'replica-b', 'replica-c'];
    for (const id of three) expect(shares.get(id)).toBe(expectedShare(three, id));

    // replica-b stops (SIGTERM): its row goes, and the next round the others poll everything.
    await b.cluster.leave();
    shares = await round([a, c], laterSlot());
    expect([...polls.values()]).toEqual(new Array(APPLIANCES).fill(1));
    expect((shares.get('replica-a') ?? 0) + (shares.get('replica-c') ?? 0)).toBe(APPLIANCES);

    // replica-c is killed (kill -9): its heartbeat ages past the bound, and replica-a takes all.
    await database.db
      .updateTable('cluster_replicas')
      .set({ last_heartbeat: new Date(Date.now() - ALIVE_MS - 1000) })
      .where('id', '=', 'replica-c')
      .execute();
    const share = await a.cluster.fleetShare(laterSlot());
    expect(share.replicas).toBe(1);
    const { polled } = await a.health.pollAll(share.owns);
    expect(polled).toBe(APPLIANCES);
  });
});

describe.skipIf(Boolean(PG_URL))('the embedded database', () => {
  it('has the one manager poll every appliance', async () => {
    const only = replica('embedded');
    const shares = await round([only], slotStartOf(Date.now(), INTERVAL));
    expect(shares.get('embedded')).toBe(APPLIANCES);
    expect([...polls.values()]).toEqual(new Array(APPLIANCES).fill(1));
    const view = await only.cluster.view();
    expect(view.replicas).toEqual([
      expect.objectContaining({ id: 'embedded', self: true, alive: true, polled_appliances: APPLIANCES }),
    ]);
  });
});
