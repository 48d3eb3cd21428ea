import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure tests beside the code, end-to-end tests with real processes) and
// `routes` (the route tests through app.inject(), which `npm run test:pg` repeats on PostgreSQL).
export default defineConfig({
  test: {
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'routes', include: ['src/**/*.routes.test.ts', 'test/routes/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['src/**/*.routes.test.ts', 'test/routes/**', 'test/browser/**', '**/node_modules/**'],
        },
      },
    ],
  },
});
