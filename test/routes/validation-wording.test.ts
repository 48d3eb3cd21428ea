// Forms explain themselves (issue 15): a 400 names each bad field with a message in words, never
// Ajv's wording for schema authors (`must match pattern "^[A-Za-z0-9]..."`, `must NOT have more
// than 100 characters`); and a value out of range is refused with the range, never clamped.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const post = (url: string, payload: unknown, method: 'POST' | 'PATCH' = 'POST') =>
  t.app.inject({ method, url, headers: admin, payload: payload as object });

/** What Ajv says that a person filling a form should never read. */
const JARGON = /must match pattern|must NOT|must be [<>]=|must match format|must match a schema|\^\[/;

describe('validation errors in words', () => {
  it('says what a name may contain instead of quoting the pattern', async () => {
    const res = await post('/api/v1/config-group/create/', { name: '-no good!' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([
      {
        field: 'body.name',
        message:
          'is not in the expected form: a letter or digit, then letters, digits, spaces, dots, dashes or underscores',
      },
    ]);
    expect(res.body).not.toMatch(JARGON);

    const user = await post('/api/v1/authentication/users/add/', {
      username: 'has space',
      password: 'Correct-Horse-Battery-9',
      role: 'viewer',
    });
    expect(user.statusCode).toBe(400);
    expect(user.json().errors).toContainEqual({
      field: 'body.username',
      message: 'is not in the expected form: letters, digits and @.+-_',
    });
  });

  it('says lengths, emptiness, types and formats in words', async () => {
    const long = await post('/api/v1/config-group/create/', { name: 'a'.repeat(101) });
    expect(long.json().errors).toEqual([
      { field: 'body.name', message: 'must be at most 100 characters long' },
    ]);
    const empty = await post('/api/v1/config-group/create/', { name: '' });
    expect(empty.json().errors).toContainEqual({ field: 'body.name', message: 'must not be empty' });
    const typed = await post('/api/v1/config/ticloud/', { timeout: 'ten' });
    expect(typed.json().errors).toEqual([{ field: 'body.timeout', message: 'must be a whole number' }]);
    for (const r of [long, empty, typed]) expect(r.body).not.toMatch(JARGON);
  });

  it('refuses a number out of range with the range, and stores one in range as it is', async () => {
    const res = await post('/api/v1/config/ticloud/', { timeout: 999999 });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ field: 'body.timeout', message: 'must be between 1 and 600' }]);
    expect(res.json().detail).toBe('invalid request: body.timeout must be between 1 and 600');
    const ok = await post('/api/v1/config/ticloud/', { timeout: 600 });
    expect(ok.statusCode).toBe(200);
    const read = await t.app.inject({ method: 'GET', url: '/api/v1/config/ticloud/', headers: admin });
    expect(read.json().timeout).toBe(600);
  });

  it('refuses a configuration value out of the catalogue range instead of clamping it', async () => {
    expect((await post('/api/v1/config-group/create/', { name: 'wording' })).statusCode).toBe(201);
    const save = (content: Record<string, unknown>) =>
      post('/api/v1/config-group/save/wording/', { content }, 'PATCH');
    const res = await save({ analysis__timeout: 999999 });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([
      { field: 'body.content.analysis__timeout', message: 'must be between 10 and 86400' },
    ]);
    const fraction = await save({ analysis__timeout: 30.5 });
    expect(fraction.json().errors).toEqual([
      { field: 'body.content.analysis__timeout', message: 'must be a whole number' },
    ]);
    expect((await save({ analysis__timeout: 86400 })).statusCode).toBe(200);
    const group = await t.app.inject({
      method: 'GET',
      url: '/api/v1/config-group/retrieve/wording/',
      headers: admin,
    });
    expect(group.json().content.analysis__timeout).toBe(86400);
  });

  it('no 400 of the group routes quotes a pattern or Ajv wording, whatever the name (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 120 }), fc.constantFrom('', ' x', '-a', 'ä', 'a/b')),
        async (name) => {
          const res = await post('/api/v1/config-group/create/', { name });
          if (res.statusCode !== 400) return true;
          const body = res.json();
          expect(body.errors.length).toBeGreaterThan(0);
          for (const e of body.errors) expect(e.field).toMatch(/^body\./);
          expect(res.body).not.toMatch(JARGON);
          return true;
        },
      ),
      { numRuns: 150 },
    );
  });
});
