import { defineConfig } from 'vitest/config';

// Projects: `unit` (pure tests beside the code, end-to-end tests with real processes) and
// `routes` (the route tests through app.inject() and the repository tests, which `npm run test:pg`
// repeats on PostgreSQL).
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
          name: 'routes',
          include: ['src/**/*.routes.test.ts', 'src/**/*.repo.test.ts', 'test/routes/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [
            'src/**/*.routes.test.ts',
            'src/**/*.repo.test.ts',
            'test/routes/**',
            'test/browser/**',
            'test/e2e/fleet-scale.test.ts',
            'test/seeds/**',
            'test/fuzz/**',
            '**/node_modules/**',
          ],
        },
      },
      {
        // The web console in Debian's Chromium against a real manager; one file at a time.
        extends: true,
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], fileParallelism: false },
      },
      {
        // The seeds' commands copied verbatim (curl, script request shapes) against the built
        // `steward serve` with real agents; one manager per file (test/seeds/harness.ts).
        extends: true,
        test: { name: 'seeds', include: ['test/seeds/**/*.test.ts'], fileParallelism: false },
      },
      {
        // Schema-driven fuzz of every operation (test/fuzz/README.md): its own CI step, a few minutes.
        extends: true,
        test: {
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 600_000,
        },
      },
      {
        // Fleet scale measurements (1,000 agents with STEWARD_FLEET_SCALE=1000): run by `npm run bench`.
        extends: true,
        test: { name: 'scale', include: ['test/e2e/fleet-scale.test.ts'] },
      },
    ],
  },
});
