// The health round's repository on a real database: PGlite here, PostgreSQL when the route-test
// tier runs again with STEWARD_TEST_DATABASE_URL. The poll read relies on the poll_version
// trigger (migration 0104) and the writes on conditions a round depends on: these are checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { insertAppliance, readAppliance } from '../../../../test/helpers/rows.js';
import { createTransactor } from '../../db/transactor.js';
import { createHealthRepo } from './health.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

let seq = 0;
const appliance = (values: {
  authorized?: boolean;
  token?: string | null;
  cert?: string | null;
  maintenance?: boolean;
  release?: string | null;
  configuration_status?: string;
  applied_hash?: string | null;
}) =>
  insertAppliance(database.db, {
    name: `health-${++seq}`,
    authorized: values.authorized ?? true,
    agent_token_sealed: values.token ?? null,
    tls_cert_pem: values.cert ?? null,
    maintenance: values.maintenance ?? false,
    release: values.release ?? null,
    configuration_status: values.configuration_status ?? 'no_configuration_group',
    applied_hash: values.applied_hash ?? null,
  });

const read = (id: number) => readAppliance(database.db, id);

describe('health repository', () => {
  it('reads the authorized appliances, then only the rows whose poll_version moved', async () => {
    const repo = createHealthRepo(database.db);
    const a = await appliance({ token: 'sealed-a', cert: 'PEM-A', release: '5.0' });
    const b = await appliance({ authorized: false });
    const head = await repo.pollHead();
    expect(head.count).toBe(1);
    const maxVersion = await database.db
      .selectFrom('appliances')
      .select((eb) => eb.fn.max('poll_version').as('v'))
      .executeTakeFirstOrThrow();
    expect(head.version).toBe(BigInt(String(maxVersion.v)));

    const all = await repo.pollTargets();
    expect(all.map((t) => t.id)).toEqual([a]);
    expect(all[0]).toMatchObject({
      id: a,
      name: expect.stringMatching(/^health-/),
      release: '5.0',
      authorized: true,
    });
    // No certificates or tokens in the round's read, only their digest.
    expect(all[0]).not.toHaveProperty('agent_token_sealed');
    expect(all[0]).not.toHaveProperty('tls_cert_pem');

    // Nothing moved: nothing newer than the head.
    expect(await repo.pollTargets(head.version)).toEqual([]);
    // Authorizing b moves its version; the delta read returns it, authorized or not.
    await database.db.updateTable('appliances').set({ authorized: true }).where('id', '=', b).execute();
    const moved = await repo.pollTargets(head.version);
    expect(moved.map((t) => [t.id, t.authorized])).toEqual([[b, true]]);
    await database.db.updateTable('appliances').set({ authorized: false }).where('id', '=', b).execute();
    const after = await repo.pollHead();
    expect(after.count).toBe(1);
    expect((await repo.pollTargets(after.version - 1n)).map((t) => [t.id, t.authorized])).toEqual([
      [b, false],
    ]);
    // A column the round writes itself (latency) does not move the version.
    await database.db.updateTable('appliances').set({ latency: 12.5 }).where('id', '=', a).execute();
    expect(await repo.pollTargets(after.version)).toEqual([]);
  });

  it('gives the credentials with the digest the poll read carries, which changes with them', async () => {
    const repo = createHealthRepo(database.db);
    const id = await appliance({ token: 'sealed-token', cert: null });
    const target = (await repo.pollTargets()).find((t) => t.id === id);
    const [cred] = await repo.credentials([id]);
    expect(cred).toEqual({
      id,
      agent_token_sealed: 'sealed-token',
      tls_cert_pem: null,
      cred_key: target?.cred_key,
    });
    expect(cred?.cred_key).toMatch(/^[0-9a-f]{32}$/);
    expect(await repo.credentials([])).toEqual([]);
    await database.db.updateTable('appliances').set({ tls_cert_pem: 'PEM' }).where('id', '=', id).execute();
    const [changed] = await repo.credentials([id]);
    expect(changed?.tls_cert_pem).toBe('PEM');
    expect(changed?.cred_key).not.toBe(cred?.cred_key);
  });

  it('records a transition in the caller transaction, with the maintenance flag as it is now', async () => {
    const repo = createHealthRepo(database.db);
    const tx = createTransactor(database.db);
    const id = await appliance({ maintenance: true });
    const at = new Date('2026-03-01T10:00:00Z');
    expect(await tx.transaction((trx) => repo.setOnline(trx, id, true, at))).toEqual({ maintenance: true });
    expect(await read(id)).toMatchObject({ online: true, status: 'online', updated: at });
    // Already online (another replica recorded it in the same slot): nothing to record again.
    expect(await repo.setOnline(tx.direct, id, true, new Date(at.getTime() + 1000))).toBeUndefined();
    expect(await read(id)).toMatchObject({ online: true, updated: at });
    expect(await repo.setOnline(tx.direct, id, false, at)).toEqual({ maintenance: true });
    expect(await read(id)).toMatchObject({ online: false, status: 'offline' });
    // Removed meanwhile: nothing to record.
    expect(await repo.setOnline(tx.direct, 999_999, true, at)).toBeUndefined();
    // Rolled back with the transaction.
    await expect(
      tx.transaction(async (trx) => {
        await repo.setOnline(trx, id, true, at);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect((await read(id)).online).toBe(false);
  });

  it('moves the events cursor', async () => {
    const repo = createHealthRepo(database.db);
    const id = await appliance({});
    await repo.setEventsCursor(database.db, id, 42);
    expect((await read(id)).events_cursor).toBe(42);
  });

  it('writes many polls in one statement, only for appliances still authorized', async () => {
    const repo = createHealthRepo(database.db);
    const up = await appliance({ release: '5.0' });
    const other = await appliance({ release: '4.0' });
    const gone = await appliance({ authorized: false, release: '1.0' });
    const now = new Date('2026-03-02T08:00:00Z');
    await repo.recordPolls(
      [
        { id: up, status: 'online', latency: 3.25, release: null, hash: 'h1', systemData: '{"health":"ok"}' },
        { id: other, status: 'degraded', latency: 7, release: '4.1', hash: null, systemData: '{}' },
        { id: gone, status: 'online', latency: 1, release: '2.0', hash: 'x', systemData: '{}' },
      ],
      now,
    );
    expect(await read(up)).toMatchObject({
      online: true,
      status: 'online',
      latency: 3.25,
      release: '5.0', // null keeps what was known
      running_hash: 'h1',
      system_data: { health: 'ok' },
      last_seen_online: now,
      last_polled: now,
    });
    expect(await read(other)).toMatchObject({ status: 'degraded', release: '4.1', running_hash: null });
    expect(await read(gone)).toMatchObject({ online: false, release: '1.0', last_polled: null });
    await expect(repo.recordPolls([], now)).resolves.toBeUndefined();
    // A poll answered 304 (no load figures read): system_data stays as it was.
    const later = new Date('2026-03-02T08:01:00Z');
    await repo.recordPolls(
      [{ id: up, status: 'degraded', latency: 2, release: null, hash: 'h1', systemData: null }],
      later,
    );
    expect(await read(up)).toMatchObject({
      status: 'degraded',
      latency: 2,
      system_data: { health: 'ok' },
      last_polled: later,
    });
  });

  it('sets a drift status only while the status and applied hash are what the poll read', async () => {
    const repo = createHealthRepo(database.db);
    const id = await appliance({ configuration_status: 'done', applied_hash: 'applied' });
    const mismatch = { status: 'mismatch', details: { running_hash: 'other' } };
    // Read before an apply that changed the status: the apply wins.
    expect(
      await repo.setConfigurationStatusIf(database.db, id, mismatch, {
        status: 'unsupported',
        appliedHash: 'applied',
      }),
    ).toBe(false);
    // Read before an apply that changed the applied hash: the apply wins.
    expect(
      await repo.setConfigurationStatusIf(database.db, id, mismatch, {
        status: 'done',
        appliedHash: 'older',
      }),
    ).toBe(false);
    expect(await read(id)).toMatchObject({ configuration_status: 'done', configuration_status_details: {} });
    expect(
      await repo.setConfigurationStatusIf(database.db, id, mismatch, {
        status: 'done',
        appliedHash: 'applied',
      }),
    ).toBe(true);
    expect(await read(id)).toMatchObject({
      configuration_status: 'mismatch',
      configuration_status_details: { running_hash: 'other' },
    });
  });
});
