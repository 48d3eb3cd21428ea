// The audit repository on a real database: PGlite here, PostgreSQL when the route-test tier runs
// again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { createTransactor } from '../../db/transactor.js';
import { createAuditRepo } from './audit.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const row = (action: string, at: Date, username = 'alice') => ({
  at,
  action,
  outcome: 'success',
  user_id: null,
  username,
  token_id: null,
  auth_method: 'session',
  ip: '127.0.0.1',
  user_agent: null,
  method: 'POST',
  path: '/api/v1/x/',
  status: 200,
  target_type: null,
  target_id: null,
  summary: '',
  details: '{}',
  request_id: null,
});

describe('audit repository', () => {
  it('lists newest first with filters, a prefix match on `action.*`, and keyset pages', async () => {
    const repo = createAuditRepo(database.db);
    const t0 = new Date('2026-01-01T00:00:00Z');
    const a = await repo.insert(database.db, row('token.created', t0));
    const b = await repo.insert(database.db, row('token.revoked', new Date(t0.getTime() + 1000), 'bob'));
    const c = await repo.insert(database.db, row('user.created', new Date(t0.getTime() + 2000)));
    expect((await repo.list({}, 10)).map((r) => r.id)).toEqual([c.id, b.id, a.id]);
    expect((await repo.list({ action: 'token.*' }, 10)).map((r) => r.id)).toEqual([b.id, a.id]);
    expect(await repo.count({ action: 'token.*', username: 'alice' })).toBe(1);
    expect((await repo.list({ beforeId: c.id }, 1)).map((r) => r.id)).toEqual([b.id]);
    expect(await repo.count({ since: new Date(t0.getTime() + 1000) })).toBe(2);
    // `%` and `_` in a prefix are literal, not patterns.
    expect(await repo.count({ action: 'tok_n.*' })).toBe(0);
    expect(await repo.deleteOlderThan(new Date(t0.getTime() + 1500))).toBe(2);
    expect((await repo.list({}, 10)).map((r) => r.id)).toEqual([c.id]);
  });

  it('knows a transaction id only inside a transaction, and what became of it', async () => {
    const repo = createAuditRepo(database.db);
    const tx = createTransactor(database.db);
    expect(await repo.transactionId(tx.direct)).toBeNull();
    const xid = await tx.transaction(async (trx) => {
      await repo.insert(trx, row('test.in_transaction', new Date()));
      const id = await repo.transactionId(trx);
      expect(id).toMatch(/^\d+$/);
      return id as string;
    });
    expect(await repo.transactionStatus(xid)).toBe('committed');
    let aborted = '';
    await expect(
      tx.transaction(async (trx) => {
        aborted = (await repo.transactionId(trx)) as string;
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await repo.transactionStatus(aborted)).toBe('aborted');
  });
});
