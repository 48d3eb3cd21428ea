// No change without its audit record: when the record cannot be written, the change is rolled
// back and the client gets 503.
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

it('rolls the change back and answers 503 when the audit log cannot be written', async () => {
  const h = await t.adminHeaders();
  // Make every insert into the audit log fail, as a full disk or a lost permission would.
  await sql`ALTER TABLE audit_log ADD CONSTRAINT audit_blocked CHECK (action = 'never') NOT VALID`.execute(
    t.db,
  );
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/authentication/users/add/',
    headers: h,
    payload: { username: 'not-without-audit', password: 'Correct Horse Battery Staple' },
  });
  expect(res.statusCode).toBe(503);
  expect(res.json().code).toBe('unavailable');
  expect(res.json().detail).toContain('audit log');
  await sql`ALTER TABLE audit_log DROP CONSTRAINT audit_blocked`.execute(t.db);
  const users = await t.db
    .selectFrom('users')
    .select('username')
    .where('username', '=', 'not-without-audit')
    .execute();
  expect(users).toEqual([]);
});
