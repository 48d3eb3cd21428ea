// The token list's export (GET /api/v1/tokens/export/): exactly what the caller's list shows
// (a viewer: their own tokens only, whatever owner_id says; an admin: everyone's), the list's
// filters and order, and never a secret or its digest.
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_PASSWORD, type TestContext } from '../../../../test/helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
let viewer: { id: number; username: string };
let viewerHeaders: Record<string, string>;
let operator: { id: number; username: string };

async function makeToken(ownerId: number, name: string, scopes: string[]) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/tokens/',
    headers: admin,
    payload: { name, owner_id: ownerId, scopes, description: '=2+3 formula-looking, "quoted"' },
  });
  expect(res.statusCode, res.body).toBe(201);
  t.secrets.add(res.json().token);
  return res.json().id as number;
}

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  viewer = await t.createUser('viewer');
  operator = await t.createUser('operator');
  for (let i = 0; i < 3; i++)
    await makeToken(viewer.id, `viewer-token-${i}`, ['appliances:read', 'tokens:read']);
  for (let i = 0; i < 4; i++) await makeToken(operator.id, `operator-token-${i}`, ['appliances:read']);
  viewerHeaders = await t.login(viewer.username, TEST_PASSWORD);
});
afterAll(async () => {
  await t?.close();
});

const get = (url: string, headers: Record<string, string>) => t.app.inject({ url, headers });

/** Every stored secret and digest: none may appear in an export. */
async function secretsAndDigests() {
  const rows = await t.db.selectFrom('api_tokens').select(['digest', 'previous_digest']).execute();
  return [
    ...t.secrets,
    ...rows.flatMap((r) => [r.digest, r.previous_digest]).filter((d): d is string => typeof d === 'string'),
  ];
}

describe('GET /api/v1/tokens/export/', () => {
  it("shows a viewer only their own tokens, as the list does, even when asking for another's", async () => {
    for (const q of ['', `&owner_id=${operator.id}`]) {
      const list = (await get(`/api/v1/tokens/?page_size=100${q}`, viewerHeaders)).json().results;
      const res = await get(`/api/v1/tokens/export/?format=json${q}`, viewerHeaders);
      expect(res.statusCode).toBe(200);
      const rows = res.json() as { owner_id: number; name: string }[];
      expect(rows).toEqual(list);
      expect(rows.map((r) => r.name).sort()).toEqual(['viewer-token-0', 'viewer-token-1', 'viewer-token-2']);
      expect(rows.every((r) => r.owner_id === viewer.id)).toBe(true);
    }
  });

  it("shows an admin everyone's, with the list's filters and order", async () => {
    const q = `owner_id=${operator.id}&ordering=-name`;
    const list = (await get(`/api/v1/tokens/?page_size=100&${q}`, admin)).json().results;
    const res = await get(`/api/v1/tokens/export/?format=json&${q}`, admin);
    expect(res.json()).toEqual(list);
    expect(list.map((r: { name: string }) => r.name)).toEqual([
      'operator-token-3',
      'operator-token-2',
      'operator-token-1',
      'operator-token-0',
    ]);
    const all = await get('/api/v1/tokens/export/?format=json&search=token', admin);
    expect(all.json()).toEqual(
      (await get('/api/v1/tokens/?page_size=100&search=token', admin)).json().results,
    );
    expect(all.json().length).toBeGreaterThanOrEqual(7);
  });

  it('never shows a secret or a digest, in CSV or JSON', async () => {
    const forbidden = await secretsAndDigests();
    expect(forbidden.length).toBeGreaterThan(7);
    for (const format of ['csv', 'json']) {
      for (const headers of [admin, viewerHeaders]) {
        const res = await get(`/api/v1/tokens/export/?format=${format}&include_revoked=true`, headers);
        expect(res.statusCode).toBe(200);
        for (const s of forbidden) expect(res.body).not.toContain(s);
      }
    }
  });

  it('writes CSV with the list fields as columns; arrays and objects are JSON cells', async () => {
    const res = await get(`/api/v1/tokens/export/?format=csv&owner_id=${viewer.id}`, admin);
    expect(res.headers['content-disposition']).toMatch(/filename="steward-tokens-\d{4}-\d{2}-\d{2}\.csv"/);
    const rows = parse(res.body, { columns: true }) as Record<string, string>[];
    const list = (await get(`/api/v1/tokens/?owner_id=${viewer.id}`, admin)).json().results;
    expect(Object.keys(rows[0] ?? {})).toEqual(Object.keys(list[0]));
    expect(rows).toHaveLength(3);
    expect(JSON.parse(rows[0]?.scopes ?? '')).toEqual(['appliances:read', 'tokens:read']);
    expect(rows[0]?.description).toBe('\'=2+3 formula-looking, "quoted"');
    expect(rows[0]?.enabled).toBe('true');
  });

  it('records the export and refuses bad filters with a 400', async () => {
    const res = await get(`/api/v1/tokens/export/?format=json&kind=api_token`, viewerHeaders);
    const rec = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('request_id', '=', String(res.headers['x-request-id']))
      .executeTakeFirstOrThrow();
    expect(rec).toMatchObject({
      action: 'token.exported',
      username: viewer.username,
      details: { format: 'json', filters: { kind: 'api_token' } },
    });
    const bad = await get('/api/v1/tokens/export/?format=json&ordering=digest', admin);
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().errors)).toContain('query.ordering');
    const kind = await get('/api/v1/tokens/export/?format=json&kind=password', admin);
    expect(kind.statusCode).toBe(400);
    expect(JSON.stringify(kind.json().errors)).toContain('query.kind');
  });

  it('needs tokens:read, like the list', async () => {
    const res = await get(
      '/api/v1/tokens/export/?format=csv',
      await t.headersFor('operator', { scopes: ['appliances:read'] }),
    );
    expect(res.statusCode).toBe(403);
    expect(res.json().required_permission).toBe('tokens:read');
  });
});
