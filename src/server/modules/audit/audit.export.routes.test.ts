// The audit log's export (GET /api/v1/audit/export/): the list's rows and fields with the list's
// filters, as RFC 4180 CSV (formula cells neutralised) or a JSON array; a bad filter is a 400
// before any byte; the export is recorded; a failure part-way aborts the connection.
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  const at = new Date('2026-11-01T10:00:00.000Z');
  const base = {
    outcome: 'success',
    user_id: null,
    token_id: null,
    auth_method: 'system',
    ip: null,
    user_agent: null,
    method: null,
    path: null,
    status: null,
    target_type: 'thing',
    details: JSON.stringify({}),
    request_id: null,
  };
  // Hostile text: separators, quotes, line breaks and spreadsheet formulas.
  await t.db
    .insertInto('audit_log')
    .values([
      {
        ...base,
        at,
        action: 'export_test.one',
        username: '=HYPERLINK("http://x.invalid","click")',
        target_id: '1',
        summary: 'a, "quoted"\nsecond line',
        details: JSON.stringify({ nested: { a: [1, 2] } }),
      },
      { ...base, at, action: 'export_test.two', username: '+1+2', target_id: '2', summary: '-3' },
      { ...base, at, action: 'export_test.two', username: '@SUM(A1)', target_id: '3', summary: '\tx' },
      { ...base, at, action: 'export_test.two', username: 'plain', target_id: '4', summary: '\rcr' },
      {
        ...base,
        at,
        action: 'export_test.two',
        username: 'lines',
        target_id: '5',
        summary: 'one\ntwo\rthree',
      },
    ])
    .execute();
});
afterAll(async () => {
  await t?.close();
});

/** How many exports the audit log has recorded. */
const exportRecords = async () =>
  Number(
    (
      await t.db
        .selectFrom('audit_log')
        .select((e) => e.fn.countAll().as('n'))
        .where('action', 'like', '%.exported')
        .executeTakeFirstOrThrow()
    ).n,
  );

const listOf = async (query: string) =>
  (await t.app.inject({ url: `/api/v1/audit/?page_size=100&${query}`, headers: admin })).json()
    .results as Record<string, unknown>[];

describe('GET /api/v1/audit/export/', () => {
  it('exports JSON identical to the list with the same filters', async () => {
    const res = await t.app.inject({
      url: '/api/v1/audit/export/?format=json&action=export_test.*',
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(
      /^attachment; filename="steward-audit-\d{4}-\d{2}-\d{2}\.json"$/,
    );
    const rows = res.json() as Record<string, unknown>[];
    expect(rows).toHaveLength(5);
    expect(rows).toEqual(await listOf('action=export_test.*'));
    expect(rows[4]?.details).toEqual({ nested: { a: [1, 2] } });
  });

  it('exports RFC 4180 CSV with the list fields as columns and formulas neutralised', async () => {
    const res = await t.app.inject({
      url: '/api/v1/audit/export/?format=csv&action=export_test.*',
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/filename="steward-audit-\d{4}-\d{2}-\d{2}\.csv"/);
    expect(res.body.endsWith('\r\n')).toBe(true);
    const records = parse(res.body, { columns: true }) as Record<string, string>[];
    const list = await listOf('action=export_test.*');
    expect(records.map((r) => Object.keys(r))[0]).toEqual(Object.keys(list[0] ?? {}));
    expect(records.map((r) => Number(r.id))).toEqual(list.map((r) => r.id));
    const byTarget = new Map(records.map((r) => [r.target_id, r]));
    expect(byTarget.get('1')?.username).toBe('\'=HYPERLINK("http://x.invalid","click")');
    expect(byTarget.get('1')?.summary).toBe('a, "quoted"\nsecond line');
    expect(JSON.parse(byTarget.get('1')?.details ?? '')).toEqual({ nested: { a: [1, 2] } });
    expect(byTarget.get('2')?.username).toBe("'+1+2");
    expect(byTarget.get('2')?.summary).toBe("'-3");
    expect(byTarget.get('3')?.username).toBe("'@SUM(A1)");
    expect(byTarget.get('3')?.summary).toBe("'\tx");
    expect(byTarget.get('4')?.summary).toBe("'\rcr");
    // A lone line feed or carriage return is quoted like CRLF (RFC 4180), so the row stays whole.
    expect(byTarget.get('5')?.summary).toBe('one\ntwo\rthree');
    expect(res.body).toContain('"one\ntwo\rthree"');
    // Numbers stay numbers, empty is null.
    expect(byTarget.get('4')?.user_id).toBe('');
    expect(byTarget.get('4')?.at).toBe('2026-11-01T10:00:00.000Z');
  });

  it('exports nothing but a header (CSV) or [] (JSON) when no record matches', async () => {
    const csv = await t.app.inject({
      url: '/api/v1/audit/export/?format=csv&action=nothing.at.all',
      headers: admin,
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.body.split('\r\n')).toEqual([expect.stringMatching(/^id,at,action,/), '']);
    const json = await t.app.inject({
      url: '/api/v1/audit/export/?format=json&action=nothing.at.all',
      headers: admin,
    });
    expect(json.json()).toEqual([]);
  });

  it('records the export with its format and filters', async () => {
    const res = await t.app.inject({
      url: '/api/v1/audit/export/?format=csv&action=export_test.two&outcome=success',
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    const rec = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('request_id', '=', String(res.headers['x-request-id']))
      .execute();
    expect(rec).toHaveLength(1);
    expect(rec[0]).toMatchObject({
      action: 'audit.exported',
      outcome: 'success',
      username: 'admin',
      summary: 'exported the audit log as CSV (action=export_test.two, outcome=success)',
      details: { format: 'csv', filters: { action: 'export_test.two', outcome: 'success' } },
    });
  });

  it('answers HEAD with the headers of the file and no body, and records no export', async () => {
    const before = await exportRecords();
    const res = await t.app.inject({
      method: 'HEAD',
      url: '/api/v1/audit/export/?format=csv&action=export_test.*',
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="steward-audit-/);
    expect(res.body).toBe('');
    expect(await exportRecords()).toBe(before);
  });

  it('answers a bad filter or format with a 400 naming it, and no file', async () => {
    for (const [query, field] of [
      ['format=xlsx', 'query.format'],
      ['action=x', 'query.format'],
      ['format=csv&outcome=maybe', 'query.outcome'],
      ['format=csv&since=yesterday', 'query.since'],
      ['format=csv&page=2', 'query.page'],
      ['format=csv&colour=red', 'query.colour'],
    ] as const) {
      const res = await t.app.inject({ url: `/api/v1/audit/export/?${query}`, headers: admin });
      expect(res.statusCode, query).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['content-disposition']).toBeUndefined();
      expect(JSON.stringify(res.json().errors), query).toContain(field);
    }
  });

  it('needs audit:read, like the list', async () => {
    for (const role of ['operator', 'viewer'] as const) {
      const res = await t.app.inject({
        url: '/api/v1/audit/export/?format=json',
        headers: await t.headersFor(role),
      });
      expect(res.statusCode, role).toBe(403);
      expect(res.json().required_permission).toBe('audit:read');
    }
    const none = await t.app.inject({ url: '/api/v1/audit/export/?format=json' });
    expect(none.statusCode).toBe(401);
  });
});
