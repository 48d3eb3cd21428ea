import { defineConfig } from 'vitest/config';

// Test tiers: a test file's name (or folder) says where it runs, so a new test needs no edit here.
//
//   unit     `*.test.ts` under src/ or test/ that no tier below claims. Pure: no child process,
//            no database (no PGlite), no fixed sleeps of seconds; in-process servers on loopback
//            are fine. `npx vitest run --project unit` finishes in under 30 s.
//   routes   `*.routes.test.ts` (routes through app.inject()), `*.repo.test.ts` (a repository),
//            `*.db.test.ts` (anything else in-process that needs a real database) and
//            test/routes/. Their database comes from test/helpers/database.ts, so
//            `npm run test:pg` repeats them all on PostgreSQL.
//   e2e      `*.e2e.test.ts` and test/e2e/: real processes (bin/steward, agents, tsx children,
//            a browser), or a database that exists only embedded (PGlite on disk).
//   browser, seeds, fuzz, scale: the folders test/browser/, test/seeds/, test/fuzz/, test/scale/.
//
// A file belongs to the first tier in `tiers` whose globs match it (folders, then `.e2e`, then
// the database tiers), else to unit. `npm test` runs unit, routes, e2e, seeds and browser; fuzz
// and scale have steps of their own (.ci/run, `npm run bench`).
//
// unit and routes run with `isolate: false`: a worker imports the server's modules once and runs
// file after file with them (each file still builds its own app and database), instead of
// re-importing Fastify, Kysely and PGlite for each of ~150 files: 141 s of imports became 17 s.
// Their files hold no module-level state that another file could see: each opens what it uses in
// beforeAll and closes it in afterAll. e2e keeps isolation: its files spend their time in child
// processes, not imports, and with a shared module cache two tests of src/cli/package.e2e.test.ts
// ran past their timeout.
const tiers = {
  browser: ['test/browser/**/*.test.ts'],
  seeds: ['test/seeds/**/*.test.ts'],
  fuzz: ['test/fuzz/**/*.test.ts'],
  scale: ['test/scale/**/*.test.ts'],
  e2e: ['test/e2e/**/*.test.ts', '{src,test}/**/*.e2e.test.ts'],
  routes: [
    'test/routes/**/*.test.ts',
    '{src,test}/**/*.routes.test.ts',
    '{src,test}/**/*.repo.test.ts',
    '{src,test}/**/*.db.test.ts',
  ],
};
type Tier = keyof typeof tiers;
const order = Object.keys(tiers) as Tier[];
const outside = ['**/node_modules/**', '**/dist/**'];
/** A tier's files: its globs, less those of the tiers before it. */
const files = (tier: Tier) => ({
  include: tiers[tier],
  exclude: [...order.slice(0, order.indexOf(tier)).flatMap((t) => tiers[t]), ...outside],
});

export default defineConfig({
  test: {
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          isolate: false,
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...Object.values(tiers).flat(), ...outside],
        },
      },
      {
        extends: true,
        test: { name: 'routes', ...files('routes'), isolate: false },
      },
      {
        extends: true,
        test: { name: 'e2e', ...files('e2e') },
      },
      {
        // The web console in Debian's Chromium against a real manager; one file at a time.
        extends: true,
        test: { name: 'browser', ...files('browser'), fileParallelism: false },
      },
      {
        // The seeds' commands copied verbatim (curl, script request shapes) against the built
        // `steward serve` with real agents; one manager per file (test/seeds/harness.ts).
        extends: true,
        test: { name: 'seeds', ...files('seeds'), fileParallelism: false },
      },
      {
        // Schema-driven fuzz of every operation (test/fuzz/README.md): its own CI step, a few minutes.
        extends: true,
        test: {
          name: 'fuzz',
          ...files('fuzz'),
          testTimeout: 900_000,
          hookTimeout: 600_000,
        },
      },
      {
        // Fleet scale measurements (1,000 agents with STEWARD_FLEET_SCALE=1000): run by `npm run bench`.
        extends: true,
        test: { name: 'scale', ...files('scale') },
      },
    ],
  },
});
