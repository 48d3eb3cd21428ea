// What the embedded database's upkeep (the embedded_maintenance job: VACUUM (ANALYZE) table by
// table, src/server/db/maintenance.ts) does for the dashboard's count: the same fleet of 10,000
// appliances and 50,000 activities (test/fixtures/seed.ts) is written into a fresh PGlite
// database four times, alternately without and with the upkeep, and the summary's fleet-wide
// queries (summary.repo.ts, all six at once as the service runs them) are timed 8 times on each.
//   node --import tsx bench/embedded-upkeep.mjs [appliances]   (`npm run bench` runs it too;
//   BENCH_ONLY=upkeep runs only it)
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/server/db/client.ts';
import { createEmbeddedMaintenance } from '../src/server/db/maintenance.ts';
import { migrateToLatest } from '../src/server/db/migrator.ts';
import { createSummaryRepo } from '../src/server/modules/summary/summary.repo.ts';
import { createSeedRepo } from '../test/fixtures/seed.ts';

const APPLIANCES = Number(process.argv[2] ?? 10000);
console.log(
  `\nThe summary's count on the embedded database, ${APPLIANCES} appliances, without and with upkeep`,
);
const medians = { without: [], with: [] };
for (const upkeep of [false, true, false, true]) {
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-bench-upkeep-'));
  const db = await openDatabase({ dataDir, statementTimeoutMs: 0 });
  try {
    await migrateToLatest(db.db);
    await createSeedRepo(db.db).fleet(APPLIANCES, { tokens: false });
    let note = '';
    if (upkeep) {
      const r = await createEmbeddedMaintenance(db).run();
      note = ` (upkeep: ${r.tables} tables in ${r.ms} ms, longest ${r.slowest?.table} ${r.slowest?.ms} ms)`;
    }
    const repo = createSummaryRepo(db.db);
    const since = new Date(Date.now() - 24 * 3600_000);
    const count = () =>
      Promise.all([
        repo.stateCounts(),
        repo.attention(20),
        repo.transitionsByHour(since),
        repo.alertCount(since),
        repo.recentAlerts(since, 10),
        repo.upgrades(since, 5),
      ]);
    await count();
    const ms = [];
    for (let i = 0; i < 8; i++) {
      const t = performance.now();
      await count();
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    const median = (ms[3] + ms[4]) / 2;
    medians[upkeep ? 'with' : 'without'].push(median);
    console.log(
      `  ${upkeep ? 'with upkeep   ' : 'without upkeep'}: one count median ${median.toFixed(0)} ms, fastest ${ms[0].toFixed(0)} ms, load average ${loadavg()[0].toFixed(1)}${note}`,
    );
  } finally {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
const avg = (a) => a.reduce((x, y) => x + y, 0) / a.length;
console.log(`  ratio without/with upkeep: ${(avg(medians.without) / avg(medians.with)).toFixed(2)}`);
