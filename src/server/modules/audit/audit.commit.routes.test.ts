// Audit listeners (syslog forwarding) hear of a record only after its transaction committed: a
// rolled-back change is never forwarded. Runs on PGlite and, with STEWARD_TEST_DATABASE_URL, on
// PostgreSQL (where the listener's check runs on another connection while the transaction is open).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { systemActor } from '../../shared/actor.js';
import { createManualClock } from '../../shared/clock.js';
import { createAuditRepo } from './audit.repo.js';
import { type AuditRecordOut, createAuditService } from './audit.service.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('audit listeners', () => {
  it('hear committed records, never rolled-back ones', async () => {
    const audit = createAuditService({
      repo: createAuditRepo(database.db),
      clock: createManualClock(new Date()),
    });
    const heard: AuditRecordOut[] = [];
    audit.onRecord((r) => heard.push(r));
    // Switched off (syslog forwarding disabled): hears nothing.
    const off: AuditRecordOut[] = [];
    audit.onRecord(
      (r) => off.push(r),
      () => false,
    );
    const ctx = systemActor('test');

    await expect(
      database.db.transaction().execute(async (trx) => {
        await audit.record(trx, ctx, { action: 'test.rolled_back' });
        // Still open: nothing may be announced yet, even after a while.
        await settle(150);
        expect(heard).toEqual([]);
        throw new Error('the change failed after its audit record was written');
      }),
    ).rejects.toThrow('the change failed');

    await database.db.transaction().execute(async (trx) => {
      await audit.record(trx, ctx, { action: 'test.committed' });
      await settle(150);
      expect(heard).toEqual([]);
    });
    await audit.record(database.db, ctx, { action: 'test.autocommit' });

    const end = Date.now() + 5000;
    while (heard.length < 2 && Date.now() < end) await settle(20);
    await settle(300);
    expect(heard.map((r) => r.action).sort()).toEqual(['test.autocommit', 'test.committed']);
    expect(off).toEqual([]);
    const stored = await database.db.selectFrom('audit_log').select('action').execute();
    expect(stored.map((r) => r.action)).not.toContain('test.rolled_back');
  });
});
