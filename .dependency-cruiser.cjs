// The dependency rules of docs/architecture.md, checked by `npm run deps:check` (CI step
// "dependency rules"). Each rule says why in its `comment`; test/deps/rules.test.ts proves each
// one fires on a planted violation. Paths are relative to the repository root, except in that
// test, which cruises small fixture trees laid out like the repository.
//
// Type-only imports count (`tsPreCompilationDeps`): a service that imports `type FastifyRequest`
// depends on HTTP as much as one that imports a value.

/** Test code: exempt from the layering rules (it may reach anywhere to set things up). */
const TEST_FILE = '\\.test\\.tsx?$';
/**
 * An npm package: resolved, wherever node_modules is (fixture trees find it a few levels up), or
 * by its bare name should it not resolve.
 */
const npm = (names) => `(^|/)node_modules/(${names.join('|')})/|^(${names.join('|')})(/|$)`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Dependencies point one way (routes -> service -> repository; modules meet in app.ts). A cycle, ' +
        'even through types only, means two files cannot be understood, tested or moved apart. Break it by ' +
        'moving the shared piece (often a type) down to the file both depend on.',
      from: { path: '^src/' },
      to: { path: '^src/', circular: true },
    },
    {
      name: 'services-know-no-http',
      severity: 'error',
      comment:
        'Services and jobs are called from routes, the CLI and background jobs alike, so they take an ' +
        'Actor (shared/actor.ts) and a Logger (shared/logger.ts), never a FastifyRequest or anything of ' +
        'the HTTP layer (src/server/http/, e.g. actorOf): the route builds the Actor and passes it on.',
      from: {
        path: ['^src/server/.+\\.service\\.ts$', '^src/server/jobs/', '^src/server/.+\\.job\\.ts$'],
        pathNot: TEST_FILE,
      },
      to: { path: [npm(['fastify', '@fastify/[^/]+']), '^src/server/http/'] },
    },
    {
      name: 'sql-only-in-repositories',
      severity: 'error',
      comment:
        'SQL lives in repositories (*.repo.ts, tested on PGlite and PostgreSQL) and in src/server/db/ ' +
        '(client, migrations, transactor, leases). Everyone else holds a Transactor and an opaque Tx and ' +
        'calls repository methods, so no query hides in a service and nothing else knows which database ' +
        'runs. Importing src/server/db/ itself is fine (row types of schema.ts, Tx of transactor.ts); ' +
        'tests may use a database client directly.',
      from: {
        path: '^src/',
        pathNot: ['^src/server/db/', '\\.repo\\.ts$', TEST_FILE],
      },
      to: { path: npm(['kysely', 'kysely-pglite-dialect', 'pg', '@electric-sql/pglite']) },
    },
    {
      name: 'only-repositories-query',
      severity: 'error',
      comment:
        'A service holds an opaque Tx it can pass to repositories but not query; db/queryable.ts turns a Tx ' +
        'back into a query builder, so only repositories (and db/ itself) may import it. Without this rule ' +
        'a service could write SQL through its Tx without importing a database client.',
      from: {
        path: '^src/',
        pathNot: ['^src/server/db/', '\\.repo\\.ts$', TEST_FILE],
      },
      to: { path: '^src/server/db/queryable\\.ts$' },
    },
    {
      name: 'agent-knows-no-server',
      severity: 'error',
      comment:
        'The agent runs on each appliance and talks to the manager over HTTP only; what both sides share ' +
        '(the agent protocol, field catalogues) lives in src/contract/. Importing the server would couple ' +
        'the daemon to the manager release and ship the manager with it.',
      from: { path: '^src/agent/', pathNot: TEST_FILE },
      to: { path: '^src/server/' },
    },
    {
      name: 'contract-stands-alone',
      severity: 'error',
      comment:
        'src/contract/ holds the TypeBox schemas and types shared by server, agent and console (the console ' +
        'bundles it into the browser). It must not pull any of them in: it is the bottom layer they all use.',
      from: { path: '^src/contract/', pathNot: TEST_FILE },
      to: { path: '^src/(server|agent|console|cli)/' },
    },
    {
      name: 'shared-is-a-leaf',
      severity: 'error',
      comment:
        'src/server/shared/ holds dependency-free helpers (AppError, Actor, Logger, clock, crypto) that ' +
        'every layer uses. If it imported a module, the HTTP layer or the database, everything would ' +
        'depend on everything. It may use src/contract/ and other shared/ files only.',
      from: { path: '^src/server/shared/', pathNot: TEST_FILE },
      to: { path: '^(src|test)/', pathNot: ['^src/contract/', '^src/server/shared/'] },
    },
    {
      name: 'routes-call-services',
      severity: 'error',
      comment:
        'Routes are thin: schema, permission, one service call, status code. A route that reads a ' +
        'repository skips the service, its rules and its audit record: routes -> service -> repository.',
      from: { path: '\\.routes\\.ts$' },
      to: { path: '\\.repo\\.ts$' },
    },
    {
      name: 'console-talks-to-the-api',
      severity: 'error',
      comment:
        'The web console talks to the public API only, through src/console/api/. Its types come from the ' +
        'OpenAPI document (api/schema.gen.ts, generated by the build from the document, not imported from ' +
        'server code), so the console cannot depend on anything the API does not promise.',
      from: { path: '^src/console/', pathNot: TEST_FILE },
      to: { path: '^src/(server|agent)/' },
    },
    {
      name: 'no-test-code-in-src',
      severity: 'error',
      comment:
        'Everything under src/ that is not a *.test.ts file is built into dist/ and shipped. Test helpers ' +
        'and vitest belong to tests: a shipped file that imports them ships test code (or fails at run ' +
        'time, vitest being a dev dependency). Put helpers in test/.',
      from: { path: '^src/', pathNot: TEST_FILE },
      to: { path: ['^test/', npm(['vitest', '@vitest/[^/]+'])] },
    },
  ],
  options: {
    // Scoped to src/ (package.json runs `depcruise src`); files of test/ that src/ imports are
    // seen as targets of the test-code rule but not followed further.
    doNotFollow: { path: ['(^|/)node_modules/', '^test/'] },
    tsPreCompilationDeps: true,
    // Packages that declare only `exports` (typebox, vite) resolve through these conditions.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
