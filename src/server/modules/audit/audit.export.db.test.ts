// An export's memory stays flat: exporting 100,000 audit records (tens of megabytes of CSV)
// holds no more of the manager's heap than exporting 10,000. The export runs over a real
// loopback connection and the client reads it as a stream, collecting garbage (gc) as it goes, so
// each sample is what the manager still holds live at that moment, not garbage not yet collected.
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let t: TestContext;
let base: string;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  // 100,000 records of about 400 bytes of CSV each: 10,000 `mem.small`, 90,000 `mem.large`.
  // In statements of 10,000 rows: the pool's query timeout bounds each statement.
  for (let from = 1; from <= 100_000; from += 10_000) {
    await sql`INSERT INTO audit_log (at, action, outcome, username, auth_method, ip, user_agent, method, path, status, target_type, target_id, summary, details, request_id)
      SELECT now() - g * interval '1 second', CASE WHEN g <= 10000 THEN 'mem.small' ELSE 'mem.large' END, 'success',
             'user-' || (g % 50), 'token', '192.0.2.' || (g % 250), 'curl/8.5.0 (x86_64-pc-linux-gnu)', 'POST',
             '/api/v1/appliances/' || g || '/', 200, 'appliance', g::text,
             'changed appliance ' || g || ' with a summary long enough to weigh something, as real ones do',
             jsonb_build_object('n', g, 'note', repeat('x', 60)), md5(g::text)
      FROM generate_series(${from}::int, ${from + 9999}::int) AS g`.execute(t.db);
  }
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
}, 120_000);
afterAll(async () => {
  await t?.close();
});

/** Streams an export, collecting garbage every 2 MB; returns its size and the heap's peak growth. */
async function measure(query: string) {
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = 0;
  let bytes = 0;
  let sinceGc = 0;
  const res = await fetch(`${base}/api/v1/audit/export/?${query}`, {
    headers: { ...admin, 'accept-encoding': 'identity' },
  });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
    sinceGc += value.length;
    for (const b of value) if (b === 10) lines++;
    if (sinceGc > 2 * 1024 * 1024) {
      sinceGc = 0;
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    }
  }
  return { bytes, lines, peak };
}

describe('export memory', () => {
  it('does not grow with the number of rows exported', async () => {
    const small = await measure('format=csv&action=mem.small');
    const large = await measure('format=csv&action=mem.*');
    expect(small.lines).toBe(10_001);
    expect(large.lines).toBe(100_001);
    expect(large.bytes).toBeGreaterThan(30 * 1024 * 1024);
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    // Printed for docs/benchmarks.md; the assertions below are the budget.
    console.log(
      `export of 10,000 records: ${mb(small.bytes)}, heap peak +${mb(small.peak)}; ` +
        `of 100,000: ${mb(large.bytes)}, heap peak +${mb(large.peak)}`,
    );
    // Built in memory, 100,000 rows would hold the file (tens of MB) and their objects at once.
    expect(large.peak).toBeLessThan(16 * 1024 * 1024);
    expect(large.peak).toBeLessThan(small.peak + 8 * 1024 * 1024);
  }, 300_000);
});
