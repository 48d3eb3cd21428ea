// Schema-driven fuzz of the whole API. It reads the manager's own OpenAPI document and, for every
// operation, sends requests built by fast-check from the operation's schemas (valid values and
// hostile ones: boundaries, huge numbers, wrong types, NUL, long and odd Unicode, extra and
// missing fields, wrong content types) as an admin, an operator, a viewer and with no
// credential. It fails on any 5xx, any request that hangs, any status the document does not
// list for the operation, any success for a caller without the operation's permission, and
// (at the end) on any issued secret found in the logs.
//
// Replay: the seed is printed at the start and in every failure.
//   FUZZ_SEED=<seed> FUZZ_ONLY='<METHOD> <path>' npx vitest run --project fuzz
// adding FUZZ_PATH=<path> (from the failure) runs only the failing case. FUZZ_RUNS sets the runs
// per operation. See test/fuzz/README.md.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_PERMISSIONS, ROLES, type RoleName } from '../../src/contract/permissions.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { hostile, hostileObject, minimal, mixed, type Schema, valid } from './arbitraries.js';
import { installNetworkGuard, type NetworkGuard } from './network-guard.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const PATH = process.env.FUZZ_PATH;
const ONLY = process.env.FUZZ_ONLY;
/** FUZZ_VERBOSE=1 prints every request and its status (with FUZZ_ONLY, to see what one operation gets). */
const VERBOSE = process.env.FUZZ_VERBOSE === '1';
const REQUEST_TIMEOUT_MS = Number(process.env.FUZZ_TIMEOUT_MS ?? 15_000);

/**
 * Operations the fuzz does not call, each with the reason. The test asserts that every entry
 * names an operation of the document, so the list cannot go stale silently.
 */
const EXCLUDED: Record<string, string> = {};

type Caller = RoleName | 'none';
const CALLERS: readonly Caller[] = [...ROLES, 'none'];

interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  key: string;
  method: string;
  path: string;
  permission: string;
  parameters: Parameter[];
  jsonBody?: { schema: Schema; required: boolean };
  statuses: Set<string>;
}

let t: TestContext;
let guard: NetworkGuard;
let operations: Operation[] = [];
/**
 * Settings that govern every later operation, as they were at the start, put back after each
 * operation (the fuzz changes them too): the token settings, and the storage settings, whose
 * minimum free disk space pauses every upload with a deliberate 503 when the fuzz sets it above
 * what this machine has free.
 */
const GOVERNING_SETTINGS = ['/api/v1/config/api_tokens/', '/api/v1/config/central_logging/'];
const startSettings = new Map<string, unknown>();
const creds: Partial<Record<RoleName, Record<string, string>>> = {};
const stats = { requests: 0, byStatus: new Map<number, number>(), succeeded: new Set<string>() };

const seedOf = (key: string) => {
  let h = SEED >>> 0;
  for (const ch of key) h = (Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0) % 2 ** 31;
  return h;
};

function readOperations(doc: {
  paths: Record<string, Record<string, Record<string, unknown>>>;
}): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const content = (op.requestBody as { content?: Record<string, { schema: Schema }>; required?: boolean })
        ?.content;
      const json = content?.['application/json'];
      out.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        permission: String(op['x-required-permission']),
        parameters: (op.parameters as Parameter[] | undefined) ?? [],
        jsonBody: json
          ? { schema: json.schema, required: Boolean((op.requestBody as { required?: boolean }).required) }
          : undefined,
        statuses: new Set(Object.keys((op.responses as object) ?? {})),
      });
    }
  }
  return out;
}

/** The built-in admin's row at the start (the helpers log in as this admin). */
let adminRow: Record<string, unknown> | undefined;

/**
 * Puts the built-in admin back as it was: the fuzz, as an admin, may change its password or
 * role, disable it, rename or delete it, or lock it with wrong passwords.
 */
async function restoreAdmin() {
  if (!adminRow) return;
  const { id, ...columns } = adminRow;
  await t.db
    .updateTable('users')
    .set(columns as never)
    .where('id', '=', id as number)
    .execute();
  t.forgetAdminSession();
  t.clock.advance(16 * 60_000);
}

/** A fresh API token for a fresh user of the role, made with a valid admin session. */
async function renew(role: RoleName) {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      creds[role] = await t.headersFor(role);
      return;
    } catch (err) {
      if (attempt === 2) throw err;
      await restoreAdmin();
    }
  }
}

/** The caller still authenticates, and with all of its role's permissions (not demoted or narrowed). */
async function stillWorks(role: RoleName, headers: Record<string, string> | undefined) {
  if (!headers) return false;
  const res = await t.app.inject({ method: 'GET', url: '/api/v1/auth/whoami/', headers });
  if (res.statusCode !== 200) return false;
  const granted = new Set((res.json() as { permissions: string[] }).permissions);
  return [...ROLE_PERMISSIONS[role]].every((p) => granted.has(p));
}

/**
 * Before each operation: a new minute for the rate limits (the clock is manual), the token
 * settings as they were, and callers that work. Each operation starts from the same footing
 * whatever the previous one changed, and a replay of one operation sees the same.
 */
async function resetBetweenOperations() {
  t.clock.advance(61_000);
  for (const [url, payload] of startSettings) {
    const put = async () =>
      t.app.inject({ method: 'POST', url, headers: await t.adminHeaders(), payload: payload as object });
    let res = await put();
    if (res.statusCode === 401 || res.statusCode === 403 || res.statusCode === 429) {
      await restoreAdmin();
      res = await put();
    }
    if (res.statusCode !== 200) throw new Error(`could not restore ${url}: ${res.statusCode} ${res.body}`);
  }
  await keepCallersAlive();
}

/** After a change went through, give back any role the fuzz took away (deleted, disabled...). */
async function keepCallersAlive() {
  for (const role of ROLES) if (!(await stillWorks(role, creds[role]))) await renew(role);
}

const SECRET_KEYS = /token|key|secret|password|passphrase/i;
/** One character repeated (the fuzz's own boundary strings) is no secret to look for. */
const REPEATED = /^(.)\1*$/su;

/** Secrets the manager issued in a response, or the fuzz sent in a body: never to be logged. */
function collectSecrets(value: unknown, keyName = '') {
  if (typeof value === 'string') {
    const looksSecret = SECRET_KEYS.test(keyName) && value.length >= 12;
    if (looksSecret && !REPEATED.test(value) && !/^\[?REDACTED\]?$/i.test(value)) t.secrets.add(value);
    return;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectSecrets(v, Array.isArray(value) ? keyName : k);
  }
}

/** Percent-encodes text; a lone surrogate becomes its (invalid) UTF-8 bytes, as a raw client could send. */
function percentEncode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s]
      .map((ch) => {
        const c = ch.charCodeAt(0);
        if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) {
          return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
            .map((b) => `%${b.toString(16).toUpperCase()}`)
            .join('');
        }
        return encodeURIComponent(ch);
      })
      .join('');
  }
}

function pathSegment(v: unknown): string {
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  // An empty segment would make a different route (`/users//` is `/users/`): not this operation.
  return s === '' ? '%20' : percentEncode(s);
}

/** A generated value as form or query text; hostile objects may have no prototype (no toString). */
function fieldText(x: unknown): string {
  return x === null ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x);
}

function queryString(query: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    for (const x of values) parts.push(`${percentEncode(k)}=${percentEncode(fieldText(x))}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

type Encoding = 'json' | 'form' | 'multipart' | 'text' | 'broken-json' | 'none';

/** Field names the upload routes read from their forms, so multipart fuzz reaches their checks. */
const FORM_FIELDS = [
  'file',
  'filename',
  'tags',
  'profile',
  'visibility',
  'owner_id',
  'group_id',
  'passphrase',
];

function requestArbitrary(op: Operation) {
  const pathParams: Record<string, fc.Arbitrary<unknown>> = {};
  const queryParams: Record<string, fc.Arbitrary<unknown>> = {};
  for (const p of op.parameters) {
    if (p.in === 'path') pathParams[p.name] = mixed(p.schema);
    // Each optional parameter in about a third of the requests: lists take either page/page_size
    // or limit/offset, and a request with all of them is only ever a 400.
    if (p.in === 'query') {
      queryParams[p.name] = p.required
        ? mixed(p.schema)
        : fc.oneof(
            { weight: 2, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: mixed(p.schema) },
          );
    }
  }
  const query = fc
    .tuple(
      fc.record(queryParams),
      // Unknown query parameters now and then (a 400 naming them); most requests have none, so
      // the rest of the query gets through to the service.
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 }), {
            maxKeys: 2,
          }),
        },
      ),
    )
    .map(([known, extra]) => ({ ...known, ...(extra ?? {}) }));
  const bodySchema = op.jsonBody?.schema;
  const body: fc.Arbitrary<unknown> = bodySchema
    ? fc.oneof(
        { weight: 3, arbitrary: minimal(bodySchema) },
        { weight: 3, arbitrary: valid(bodySchema) },
        { weight: 3, arbitrary: hostileObject(bodySchema) },
        { weight: 1, arbitrary: hostile(bodySchema) },
      )
    : fc.option(fc.jsonValue({ maxDepth: 2 }), { freq: 2, nil: undefined });
  const encoding: fc.Arbitrary<Encoding> = fc.constantFrom(
    ...(op.method === 'GET' || op.method === 'HEAD'
      ? (['none'] as const)
      : ([
          'json',
          'json',
          'json',
          'json',
          'form',
          'multipart',
          'multipart',
          'text',
          'broken-json',
          'none',
        ] as const)),
  );
  const formFields = fc.dictionary(
    fc.oneof(fc.constantFrom(...FORM_FIELDS), fc.string({ maxLength: 10 })),
    fc.oneof(valid({ type: 'string' }), hostile({ type: 'string' })),
    { maxKeys: 4 },
  );
  const file = fc.record({
    name: fc.oneof(fc.constant('f.bin'), fc.string({ maxLength: 40 })),
    content: fc.string({ maxLength: 200 }),
  });
  return fc.record({
    caller: fc.constantFrom(...CALLERS),
    path: fc.record(pathParams),
    query,
    body,
    encoding,
    form: fc.tuple(formFields, fc.option(file, { freq: 3 })),
  });
}

type FuzzRequest = ReturnType<typeof requestArbitrary> extends fc.Arbitrary<infer R> ? R : never;

function payloadOf(r: FuzzRequest): { headers: Record<string, string>; payload?: string } {
  switch (r.encoding) {
    case 'none':
      return { headers: {} };
    case 'json':
      return {
        headers: { 'content-type': 'application/json' },
        payload: r.body === undefined ? undefined : JSON.stringify(r.body),
      };
    case 'form': {
      const form =
        r.body && typeof r.body === 'object' && !Array.isArray(r.body)
          ? queryString(r.body as Record<string, unknown>).slice(1)
          : fieldText(r.body ?? '');
      return { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form };
    }
    case 'multipart': {
      const boundary = 'stewardfuzz7d1c';
      const [fields, file] = r.form;
      const quoteSafe = (v: string) => v.replace(/["\r\n]/g, '_');
      const parts = Object.entries(fields).map(
        ([k, v]) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${quoteSafe(k)}"\r\n\r\n${fieldText(v)}\r\n`,
      );
      if (file) {
        parts.push(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoteSafe(file.name)}"\r\n` +
            `Content-Type: application/octet-stream\r\n\r\n${file.content}\r\n`,
        );
      }
      return {
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: `${parts.join('')}--${boundary}--\r\n`,
      };
    }
    case 'text':
      return { headers: { 'content-type': 'text/plain' }, payload: String(JSON.stringify(r.body) ?? 'x') };
    case 'broken-json':
      return {
        headers: { 'content-type': 'application/json' },
        payload: `{"a": ${JSON.stringify(r.body) ?? ''}`,
      };
  }
}

async function send(op: Operation, r: FuzzRequest) {
  let url = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => pathSegment(r.path[name]));
  url += queryString(r.query);
  const { headers, payload } = payloadOf(r);
  const credential = r.caller === 'none' ? {} : (creds[r.caller] ?? {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
      REQUEST_TIMEOUT_MS,
    );
  });
  try {
    const res = await Promise.race([
      t.app.inject({
        method: op.method as 'GET',
        url,
        headers: { ...headers, ...credential },
        ...(payload !== undefined ? { payload } : {}),
      }),
      timeout,
    ]);
    return { url, res };
  } finally {
    clearTimeout(timer);
  }
}

function describeRequest(op: Operation, r: FuzzRequest, url: string) {
  const { payload } = payloadOf(r);
  return `${op.method} ${url} as ${r.caller} (${r.encoding})${payload ? ` body ${payload.slice(0, 300)}` : ''}`;
}

/** One request, checked: the property fast-check runs and shrinks. */
async function check(op: Operation, r: FuzzRequest) {
  const { url, res } = await send(op, r);
  stats.requests += 1;
  stats.byStatus.set(res.statusCode, (stats.byStatus.get(res.statusCode) ?? 0) + 1);
  const where = describeRequest(op, r, url);
  if (VERBOSE) console.info(`${res.statusCode} ${where.slice(0, 300)} -> ${res.body.slice(0, 160)}`);
  if (res.statusCode >= 500) {
    throw new Error(`${res.statusCode} for ${where}: ${res.body.slice(0, 300)}`);
  }
  if (!op.statuses.has(String(res.statusCode))) {
    throw new Error(
      `undocumented status ${res.statusCode} (documented: ${[...op.statuses].join(', ')}) for ${where}: ${res.body.slice(0, 300)}`,
    );
  }
  const ok = res.statusCode < 300;
  if (ok) stats.succeeded.add(op.key);
  if (ok && op.permission !== 'public') {
    if (r.caller === 'none') throw new Error(`success without a credential for ${where}`);
    const perms = ROLE_PERMISSIONS[r.caller] as ReadonlySet<string>;
    if (op.permission !== 'authenticated' && !perms.has(op.permission)) {
      throw new Error(`success for ${r.caller} without ${op.permission} for ${where}`);
    }
  }
  // What the caller sent as a password or key and the manager accepted is a secret from now on.
  if (ok && r.encoding !== 'none') collectSecrets(r.encoding === 'multipart' ? r.form[0] : r.body);
  if (res.headers['content-type']?.toString().includes('json')) {
    try {
      collectSecrets(res.json());
    } catch {
      // not JSON after all; nothing to collect
    }
  }
  if (ok && op.method !== 'GET') await keepCallersAlive();
}

beforeAll(async () => {
  guard = installNetworkGuard();
  t = await createTestContext();
  const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json();
  operations = readOperations(doc);
  adminRow = await t.db.selectFrom('users').selectAll().where('username', '=', 'admin').executeTakeFirst();
  for (const role of ROLES) await renew(role);
  for (const url of GOVERNING_SETTINGS) {
    startSettings.set(url, (await t.app.inject({ url, headers: await t.adminHeaders() })).json());
  }
  console.info(`fuzz: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}, ${operations.length} operations`);
});

afterAll(async () => {
  guard?.restore();
  const statuses = [...stats.byStatus.entries()].sort((a, b) => a[0] - b[0]);
  console.info(
    `fuzz: ${stats.requests} requests, statuses ${statuses.map(([s, n]) => `${s}x${n}`).join(' ')}; ` +
      `${guard?.blocked.length ?? 0} outbound connection attempts blocked; seed ${SEED}`,
  );
  // Coverage, for whoever tunes the generators: operations no request got through.
  const never = operations.filter((o) => !EXCLUDED[o.key] && !stats.succeeded.has(o.key)).map((o) => o.key);
  console.info(`fuzz: ${never.length} operations never answered 2xx: ${never.join('; ')}`);
  await t?.close();
});

describe(`API fuzz (FUZZ_SEED=${SEED})`, () => {
  it('reads every operation from the OpenAPI document, and excludes only operations that exist', () => {
    expect(operations.length).toBeGreaterThan(50);
    const keys = new Set(operations.map((o) => o.key));
    expect(Object.keys(EXCLUDED).filter((k) => !keys.has(k))).toEqual([]);
  });

  it('every operation answers every caller and every input with a documented, non-5xx status', async () => {
    const failures: string[] = [];
    for (const op of operations) {
      if (EXCLUDED[op.key] || (ONLY !== undefined && op.key !== ONLY)) continue;
      await resetBetweenOperations();
      const seed = seedOf(op.key);
      const result = await fc.check(
        fc.asyncProperty(requestArbitrary(op), (r) => check(op, r)),
        { seed, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) },
      );
      if (result.failed) {
        failures.push(
          `${op.key}: ${String((result.errorInstance as Error | undefined)?.stack ?? result.errorInstance)}\n` +
            `  replay: FUZZ_SEED=${SEED} FUZZ_ONLY='${op.key}' FUZZ_PATH=${result.counterexamplePath} npx vitest run --project fuzz\n` +
            `  (fast-check seed ${seed}, path ${result.counterexamplePath})`,
        );
      }
    }
    expect(failures, `FUZZ_SEED=${SEED}`).toEqual([]);
  });

  it('no issued secret appears in the logs', () => {
    const logs = t.logs.join('');
    const leaked = [...t.secrets].filter((s) => logs.includes(s));
    for (const s of leaked) {
      const line = t.logs.find((l) => l.includes(s)) ?? '';
      console.error(`secret in the log: ${line.replaceAll(s, '<SECRET>').slice(0, 1000)}`);
    }
    expect(
      leaked.map((s) => `${s.slice(0, 6)}... (${s.length} chars)`),
      `FUZZ_SEED=${SEED}`,
    ).toEqual([]);
  });
});
