// The alerts repository on a real database: PGlite here, PostgreSQL when the route-test tier runs
// again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { createAlertsRepo } from './alerts.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const DAY = 24 * 60 * 60 * 1000;

async function user(
  username: string,
  role: string,
  extra: { email?: string; active?: boolean; deleted?: boolean } = {},
) {
  const r = await database.db
    .insertInto('users')
    .values({
      username,
      role,
      email: extra.email ?? '',
      is_active: extra.active ?? true,
      deleted_at: extra.deleted ? new Date() : null,
    } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  return r.id;
}

let tokenNo = 0;
async function token(
  ownerId: number,
  expiresAt: Date | null,
  extra: { enabled?: boolean; revoked?: boolean } = {},
) {
  tokenNo++;
  const r = await database.db
    .insertInto('api_tokens')
    .values({
      kind: 'api_token',
      name: `token-${tokenNo}`,
      owner_id: ownerId,
      scopes: '[]',
      enabled: extra.enabled ?? true,
      expires_at: expiresAt,
      revoked_at: extra.revoked ? new Date() : null,
      prefix: 'stw',
      last4: '0000',
      digest: `digest-${tokenNo}`,
    } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  return r.id;
}

describe('alerts repository', () => {
  it('lists the emails of active, undeleted admins that have one, by id', async () => {
    const repo = createAlertsRepo(database.db);
    expect(await repo.adminEmails()).toEqual([]);
    await user('root', 'admin', { email: 'root@example.com' });
    await user('noemail', 'admin');
    await user('op', 'operator', { email: 'op@example.com' });
    await user('gone', 'admin', { email: 'gone@example.com', deleted: true });
    await user('off', 'admin', { email: 'off@example.com', active: false });
    await user('second', 'admin', { email: 'second@example.com' });
    await user('twin', 'admin', { email: 'root@example.com' });
    // Duplicates stay: the caller makes the set.
    expect(await repo.adminEmails()).toEqual(['root@example.com', 'second@example.com', 'root@example.com']);
  });

  it('finds tokens expiring within the horizon, soonest first, until a warning is claimed', async () => {
    const repo = createAlertsRepo(database.db);
    const now = new Date('2030-01-10T00:00:00Z');
    const horizon = new Date(now.getTime() + 7 * DAY);
    const alice = await user('alice', 'operator', { email: 'alice@example.com' });
    const inactive = await user('inactive', 'operator', { active: false });
    const later = await token(alice, new Date(now.getTime() + 5 * DAY));
    const sooner = await token(alice, new Date(now.getTime() + 1 * DAY));
    await token(alice, new Date(now.getTime() + 7 * DAY + 1000)); // past the horizon
    await token(alice, new Date(now.getTime() - 1000)); // expired already
    await token(alice, null); // never expires
    await token(alice, new Date(now.getTime() + DAY), { enabled: false });
    await token(alice, new Date(now.getTime() + DAY), { revoked: true });
    await token(inactive, new Date(now.getTime() + DAY));
    const rows = await repo.expiringTokens(now, horizon);
    expect(rows.map((r) => r.id)).toEqual([sooner, later]);
    expect(rows[0]).toMatchObject({
      name: expect.stringMatching(/^token-/),
      username: 'alice',
      email: 'alice@example.com',
    });
    expect(new Date(rows[0]?.expires_at as Date).toISOString()).toBe('2030-01-11T00:00:00.000Z');

    // A claim is taken once; the claimed token is no longer listed for the same expiry.
    const soonerAt = new Date(now.getTime() + DAY);
    expect(await repo.claimWarning(sooner, soonerAt)).toBe(true);
    expect(await repo.claimWarning(sooner, soonerAt)).toBe(false);
    expect((await repo.expiringTokens(now, horizon)).map((r) => r.id)).toEqual([later]);
    await repo.recordRecipients(sooner, soonerAt, 'alice@example.com');
    const rec = await database.db.selectFrom('token_expiry_alerts').selectAll().execute();
    expect(rec).toMatchObject([{ token_id: sooner, recipients: 'alice@example.com' }]);

    // A moved expiry is a new warning.
    await database.db
      .updateTable('api_tokens')
      .set({ expires_at: new Date(now.getTime() + 2 * DAY) } as never)
      .where('id', '=', sooner)
      .execute();
    expect((await repo.expiringTokens(now, horizon)).map((r) => r.id)).toEqual([sooner, later]);

    // A released claim can be taken again.
    const laterAt = new Date(now.getTime() + 5 * DAY);
    expect(await repo.claimWarning(later, laterAt)).toBe(true);
    await repo.releaseWarning(later, laterAt);
    expect(await repo.claimWarning(later, laterAt)).toBe(true);

    // Old records go; recent ones stay.
    await repo.forgetWarningsBefore(new Date(now.getTime() + 3 * DAY));
    const left = await database.db.selectFrom('token_expiry_alerts').select('token_id').execute();
    expect(left.map((r) => r.token_id)).toEqual([later]);
  });
});
