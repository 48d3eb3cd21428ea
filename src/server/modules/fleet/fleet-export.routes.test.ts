// Exports of the appliance list and the activities: the same rows (across several read
// batches), order, fields and filters as the lists; the lists' permission; a bad filter is a 400
// before any byte; each export is recorded; no stored secret of an appliance appears.
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { insertAppliance } from '../../../../test/helpers/rows.js';

let t: TestContext;
let admin: Record<string, string>;
const SEALED = 'sealed-agent-token-must-not-leak';
const HAPROXY = 'sealed-haproxy-password-must-not-leak';
const COMMUNITY = 'snmp-community-must-not-leak';

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  // More rows than one read batch (500), so the export walks several keyset batches.
  await t.db
    .insertInto('appliances')
    .values(
      Array.from({ length: 1203 }, (_, i) => ({
        name: `bulk-${String(i).padStart(4, '0')}`,
        type: i % 3 === 0 ? 'tiscale-hub' : 'tiscale-worker',
        url: `https://10.20.${Math.floor(i / 250)}.${i % 250}:8443`,
        authorized: i % 2 === 0,
        system_data: '{}',
        configuration_status_details: '{}',
      })),
    )
    .execute();
  await insertAppliance(t.db, {
    name: '=cmd|calc',
    type: 'tiscale-hub',
    agent_token_sealed: SEALED,
    haproxy_password_sealed: HAPROXY,
    snmp_community: COMMUNITY,
  });
  // Activities: many at one instant (the keyset must break ties by id), some a microsecond apart.
  await sql`INSERT INTO fleet_events (at, appliance_name, kind, severity, message)
    SELECT timestamptz '2026-11-02 10:00:00+00' + (CASE WHEN g % 7 = 0 THEN g * interval '1 microsecond' ELSE interval '0' END),
           'export-' || (g % 5), CASE WHEN g % 2 = 0 THEN 'export.even' ELSE 'export.odd' END,
           CASE WHEN g % 10 = 0 THEN 'warning' ELSE 'info' END, 'event ' || g
    FROM generate_series(1, 1107) AS g`.execute(t.db);
});
afterAll(async () => {
  await t?.close();
});

/** Every item of a list, page by page (100 at a time). */
async function walk(path: string, query: string, headers = admin) {
  const all: Record<string, unknown>[] = [];
  for (let page = 1; ; page++) {
    const res = await t.app.inject({ url: `${path}?page_size=100&page=${page}&${query}`, headers });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    all.push(...body.results);
    if (!body.next) return all;
  }
}

const exportOf = (path: string, query: string, headers = admin) =>
  t.app.inject({ url: `${path}?${query}`, headers });

describe('GET /api/v1/appliances/export/', () => {
  it('exports the same appliances, order and fields as the list, as JSON and CSV', async () => {
    const list = await walk('/api/v1/appliances/', '');
    expect(list.length).toBe(1204);
    const json = await exportOf('/api/v1/appliances/export/', 'format=json');
    expect(json.statusCode).toBe(200);
    expect(json.headers['content-disposition']).toMatch(
      /filename="steward-appliances-\d{4}-\d{2}-\d{2}\.json"/,
    );
    expect(json.json()).toEqual(list);

    const csv = await exportOf('/api/v1/appliances/export/', 'format=csv');
    const rows = parse(csv.body, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0] ?? {})).toEqual(Object.keys(list[0] ?? {}));
    expect(rows.map((r) => Number(r.id))).toEqual(list.map((r) => r.id));
    expect(rows.find((r) => r.name?.includes('calc'))?.name).toBe("'=cmd|calc");
    for (const body of [json.body, csv.body]) {
      for (const secret of [SEALED, HAPROXY, COMMUNITY]) expect(body).not.toContain(secret);
    }
  });

  it('honours the list filters', async () => {
    const query = 'search=bulk-00&type=hub&authorized=true';
    const list = await walk('/api/v1/appliances/', query);
    expect(list.length).toBeGreaterThan(5);
    const json = await exportOf('/api/v1/appliances/export/', `format=json&${query}`);
    expect(json.json()).toEqual(list);
  });

  it('honours the list order and its state filter (pages of that order, ties by id)', async () => {
    for (const query of [
      'ordering=-name',
      'ordering=state,-id&state=online,unauthorized',
      'ordering=release',
    ]) {
      const list = await walk('/api/v1/appliances/', query);
      const json = await exportOf('/api/v1/appliances/export/', `format=json&${query}`);
      expect(json.statusCode, json.body).toBe(200);
      expect(json.json().map((a: { id: number }) => a.id)).toEqual(list.map((a) => a.id));
    }
    const bad = await exportOf('/api/v1/appliances/export/', 'format=json&ordering=secret');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toContain('cannot order by secret');
  });

  it('answers a bad filter with a 400 naming it, before any byte and without a record', async () => {
    for (const [query, field] of [
      ['format=csv&type=toaster', 'query.type'],
      ['format=csv&configuration_status=nope', 'query.configuration_status'],
      ['format=csv&limit=5', 'query.limit'],
      ['type=hub', 'query.format'],
    ] as const) {
      const res = await exportOf('/api/v1/appliances/export/', query);
      expect(res.statusCode, query).toBe(400);
      expect(res.headers['content-disposition']).toBeUndefined();
      expect(JSON.stringify(res.json().errors), query).toContain(field);
      const recs = await t.db
        .selectFrom('audit_log')
        .select('action')
        .where('request_id', '=', String(res.headers['x-request-id']))
        .where('action', '=', 'appliance.exported')
        .execute();
      expect(recs).toEqual([]);
    }
  });

  it('needs appliances:read, like the list; a viewer may export', async () => {
    const viewer = await exportOf('/api/v1/appliances/export/', 'format=json', await t.headersFor('viewer'));
    expect(viewer.statusCode).toBe(200);
    const narrowed = await exportOf(
      '/api/v1/appliances/export/',
      'format=json',
      await t.headersFor('operator', { scopes: ['tokens:read'] }),
    );
    expect(narrowed.statusCode).toBe(403);
    expect(narrowed.json().required_permission).toBe('appliances:read');
  });

  it('records the export with its filters', async () => {
    const res = await exportOf('/api/v1/appliances/export/', 'format=json&type=hub&online=false');
    const rec = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('request_id', '=', String(res.headers['x-request-id']))
      .executeTakeFirstOrThrow();
    expect(rec).toMatchObject({
      action: 'appliance.exported',
      summary: 'exported the appliance list as JSON (type=hub, online=false)',
      details: { format: 'json', filters: { type: 'hub', online: false } },
    });
  });
});

describe('GET /api/v1/activities/export/', () => {
  it('exports the same activities and order as the list, across batches and equal times', async () => {
    const list = await walk('/api/v1/activities/', 'kind=export.even');
    const odd = await walk('/api/v1/activities/', 'kind=export.odd');
    expect(list.length + odd.length).toBe(1107);
    const json = await exportOf('/api/v1/activities/export/', 'format=json&kind=export.even');
    expect(json.statusCode).toBe(200);
    expect(json.json()).toEqual(list);

    const all = await exportOf('/api/v1/activities/export/', 'format=csv&appliance_name=export-3');
    const rows = parse(all.body, { columns: true }) as Record<string, string>[];
    const expected = await walk('/api/v1/activities/', 'appliance_name=export-3');
    expect(rows.map((r) => Number(r.id))).toEqual(expected.map((r) => r.id));
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    expect(all.headers['content-disposition']).toMatch(
      /filename="steward-activities-\d{4}-\d{2}-\d{2}\.csv"/,
    );
  });

  it('honours severity and time filters, and refuses bad ones', async () => {
    const q = 'severity=warning&since=2026-11-02T10:00:00.000Z';
    const json = await exportOf('/api/v1/activities/export/', `format=json&${q}`);
    expect(json.json()).toEqual(await walk('/api/v1/activities/', q));
    expect(json.json().length).toBeGreaterThan(100);
    const bad = await exportOf('/api/v1/activities/export/', 'format=json&severity=loud');
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().errors)).toContain('query.severity');
  });

  it('needs appliances:read', async () => {
    const res = await exportOf(
      '/api/v1/activities/export/',
      'format=csv',
      await t.headersFor('viewer', { scopes: ['files:read'] }),
    );
    expect(res.statusCode).toBe(403);
    expect(res.json().required_permission).toBe('appliances:read');
  });
});
