// The dependency rules (.dependency-cruiser.cjs, docs/architecture.md) can fail: each is run with
// the project's own configuration over a small fixture tree laid out like the repository
// (test/deps/fixtures/<case>/src/...), with one planted violation per tree, and must report it
// under its rule name. A clean tree, which uses every allowed edge once, must report nothing.
// The fixtures are outside src/, so the real check (`npm run deps:check`, on src/) never sees them.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const fixtures = join(here, 'fixtures');

let options: ICruiseOptions;
let ruleNames: string[];
beforeAll(async () => {
  options = await extractDepcruiseOptions(join(root, '.dependency-cruiser.cjs'));
  ruleNames = (options.ruleSet?.forbidden ?? []).map((r) => r.name ?? '');
});

async function cruiseFixture(name: string, extra: ICruiseOptions = {}) {
  return cruise(['src'], { ...options, ...extra, baseDir: join(fixtures, name) });
}

/** `rule: from -> to`, with an npm package named by its package name (node_modules is found above the tree). */
function describeViolation(v: IViolation): string {
  const pkg = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(v.to)?.[1];
  return `${v.rule.name}: ${v.from} -> ${pkg ?? v.to}`;
}

async function violationsOf(name: string): Promise<string[]> {
  const result = await cruiseFixture(name);
  return (result.output as ICruiseResult).summary.violations.map(describeViolation).sort();
}

const planted: Record<string, string[]> = {
  'service-imports-fastify': [
    'services-know-no-http: src/server/modules/widgets/widgets.service.ts -> fastify',
  ],
  'job-imports-http': ['services-know-no-http: src/server/jobs/sweep.ts -> src/server/http/actor.ts'],
  'service-imports-kysely': [
    'sql-only-in-repositories: src/server/modules/widgets/widgets.service.ts -> kysely',
  ],
  'service-imports-queryable': [
    'only-repositories-query: src/server/modules/widgets/widgets.service.ts -> src/server/db/queryable.ts',
  ],
  'agent-imports-server': ['agent-knows-no-server: src/agent/agent.ts -> src/server/shared/token-codec.ts'],
  cycle: [
    'no-circular: src/server/modules/identity/identity.ts -> src/server/modules/identity/users.routes.ts',
  ],
  // Through types only (a repository returning a type the service declares): still a cycle.
  'type-cycle': [
    'no-circular: src/server/modules/widgets/widgets.repo.ts -> src/server/modules/widgets/widgets.service.ts',
  ],
  'route-imports-repo': [
    'routes-call-services: src/server/modules/widgets/widgets.routes.ts -> src/server/modules/widgets/widgets.repo.ts',
  ],
  'contract-imports-server': [
    'contract-stands-alone: src/contract/widget.ts -> src/server/shared/app-error.ts',
  ],
  'shared-imports-module': [
    'shared-is-a-leaf: src/server/shared/actor.ts -> src/server/modules/audit/audit.service.ts',
  ],
  'console-imports-server': [
    'console-talks-to-the-api: src/console/api/widgets.ts -> src/server/shared/principal.ts',
  ],
  'test-code-in-src': [
    'no-test-code-in-src: src/server/modules/widgets/widgets.fixtures.ts -> test/helpers/app.ts',
    'no-test-code-in-src: src/server/modules/widgets/widgets.fixtures.ts -> vitest',
  ],
};

describe('dependency rules', () => {
  it('every rule says why, as an error', () => {
    expect(ruleNames.length).toBeGreaterThan(0);
    for (const rule of options.ruleSet?.forbidden ?? []) {
      expect(rule.comment, rule.name).toMatch(/\w.{40,}/);
      expect(rule.severity, rule.name).toBe('error');
    }
  });

  it('the clean tree, which uses every allowed edge, reports nothing', async () => {
    const result = await cruiseFixture('clean');
    const summary = (result.output as ICruiseResult).summary;
    // The tree was read (a wrong base directory would report nothing too).
    expect(summary.totalCruised).toBeGreaterThanOrEqual(15);
    expect(summary.violations.map(describeViolation)).toEqual([]);
  });

  for (const [fixture, expected] of Object.entries(planted)) {
    it(`reports the planted violation in ${fixture}`, async () => {
      expect(await violationsOf(fixture)).toEqual(expected);
    });
  }

  it('has a planted violation for every rule', () => {
    const proven = new Set(Object.values(planted).flatMap((vs) => vs.map((v) => v.split(':')[0])));
    expect([...proven].sort()).toEqual([...ruleNames].sort());
  });

  it('fails the check (non-zero exit) on a violation, as `npm run deps:check` does', async () => {
    const failing = await cruiseFixture('route-imports-repo', { outputType: 'err' });
    expect(failing.exitCode).toBe(1);
    expect(String(failing.output)).toContain('routes-call-services');
    const clean = await cruiseFixture('clean', { outputType: 'err' });
    expect(clean.exitCode).toBe(0);
  });
});
