// Connector secret masking: by name at any depth and in arrays, by value inside strings, and a
// save of what a read showed keeps every stored secret. Property tests with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  keepStoredSecrets,
  MASK,
  maskLeftovers,
  maskSecrets,
  maskValue,
  redirectedSecrets,
  SECRET_NAME,
} from './connector-secrets.js';

const shown = (v: unknown) => JSON.stringify(maskSecrets(v));

describe('masking by name', () => {
  it('hides secrets in arrays and nested objects under a secret-looking name', () => {
    const config = {
      password: ['hunter2-a', 'hunter2-b'],
      auth: { token: { value: 'tok-123456', kind: 'bearer' } },
      servers: [{ host: 'a', api_key: 'k-987654' }],
      pin: 42,
    };
    const out = shown(config);
    for (const s of ['hunter2-a', 'hunter2-b', 'tok-123456', 'k-987654']) expect(out).not.toContain(s);
    expect(maskSecrets(config)).toEqual({
      password_set: true,
      auth: { token_set: true },
      servers: [{ host: 'a', api_key_set: true }],
      pin: 42,
    });
  });

  it('shows an empty secret as not set and leaves booleans and null alone', () => {
    expect(maskSecrets({ password: '', token: [], secret: null, key_rotation: true })).toEqual({
      password_set: false,
      token_set: false,
      secret: null,
      key_rotation: true,
    });
  });
});

describe('masking by value', () => {
  it.each([
    [
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0S2V5PT0=;EndpointSuffix=x',
      'c2VjcmV0S2V5PT0=',
    ],
    ['postgres://steward:s3cr3t-pw@db.example:5432/steward', 's3cr3t-pw'],
    ['https://ghp_abcdef123456@github.com/org/repo.git', 'ghp_abcdef123456'],
    ['Server=db;Database=x;User Id=sa;Password=Pa55-word;', 'Pa55-word'],
    ["host=db user=u password='with space' dbname=x", 'with space'],
    ['Driver={x};PWD={br;aced};', 'br;aced'],
    ['https://acct.blob.core.windows.net/c?sv=2020&sig=AbCdEf123%3D&se=1', 'AbCdEf123%3D'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'eyJhbGciOiJIUzI1NiJ9'],
    ['Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA=='],
    ['-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----', 'MIIEpAIBAAKCAQEA'],
  ])('hides the secret in %s', (value, secret) => {
    const out = shown({ connection_string: value, list: [value] });
    expect(out).not.toContain(secret);
    expect(out).toContain(MASK);
  });

  it('keeps the rest of a value readable', () => {
    expect(maskValue('postgres://steward:pw@db.example:5432/steward')).toBe(
      `postgres://steward:${MASK}@db.example:5432/steward`,
    );
    expect(maskValue('AccountName=acct;AccountKey=abc==;EndpointSuffix=x')).toBe(
      `AccountName=acct;AccountKey=${MASK};EndpointSuffix=x`,
    );
    expect(maskValue('https://s3.example/bucket')).toBe('https://s3.example/bucket');
  });
});

describe('saving back what a read showed', () => {
  it('keeps secrets in arrays, nested objects and inside values', () => {
    const stored = {
      password: ['a-1', 'b-2'],
      auth: { token: { value: 'tok' } },
      dsn: 'postgres://u:pw@db/x',
      servers: [{ host: 'a', api_key: 'k' }],
    };
    expect(keepStoredSecrets(maskSecrets(stored) as Record<string, unknown>, stored)).toEqual(stored);
  });

  it('refuses a masked value the client changed, naming the field', () => {
    const stored = { dsn: 'postgres://u:pw@db/x', servers: [{ url: 'https://t:k@a/' }] };
    const incoming = { dsn: `postgres://u:${MASK}@evil/x`, servers: [{ url: `https://t:${MASK}@a/` }] };
    expect(maskLeftovers(incoming, stored)).toEqual(['body.dsn']);
    expect(maskLeftovers({ password: MASK }, {})).toEqual(['body.password']);
    expect(maskLeftovers(maskSecrets(stored), stored)).toEqual([]);
  });

  it('keeps no stored secret for a destination the client changed, at any depth', () => {
    const stored = {
      host: 'smtp.corp.example',
      password: 'pw',
      auth: { token: 'tok', endpoint: 'https://id.corp.example' },
      targets: [{ serverUrl: 'https://a', api_key: 'k' }],
    };
    const masked = maskSecrets(stored) as Record<string, unknown>;
    // What a read showed, sent back: nothing moved.
    expect(redirectedSecrets(masked, stored)).toEqual([]);
    expect(redirectedSecrets(masked, masked)).toEqual([]);
    // A new host beside the kept password, left out or marked as set.
    expect(redirectedSecrets({ ...masked, host: 'evil.example' }, stored)).toEqual(['body.password']);
    expect(redirectedSecrets({ host: 'evil.example', password_set: true }, masked)).toEqual([
      'body.password',
    ]);
    // Nested object and array items.
    const nested = { ...masked, auth: { token_set: true, endpoint: 'https://evil' } };
    expect(redirectedSecrets(nested, stored)).toEqual(['body.auth.token']);
    const items = { ...masked, targets: [{ serverUrl: 'https://evil', api_key_set: true }] };
    expect(redirectedSecrets(items, stored)).toEqual(['body.targets.0.api_key']);
    // Typing the secret again, or removing it, is fine; so is changing a field that is no destination.
    expect(redirectedSecrets({ ...masked, host: 'new.example', password: 'typed' }, stored)).toEqual([]);
    expect(redirectedSecrets({ ...masked, host: 'new.example', password_set: false }, stored)).toEqual([]);
    expect(redirectedSecrets({ ...masked, timeout: 30, report_format: 'csv' }, stored)).toEqual([]);
  });
});

// --- properties --------------------------------------------------------------------------------

/** Secrets long enough never to occur by chance in the short filler around them. */
const secretArb = fc.stringMatching(/^[A-Za-z0-9+/_-]{16,40}$/);
const plainKey = fc
  .stringMatching(/^[a-z][a-z0-9_]{0,7}$/)
  .filter((k) => !SECRET_NAME.test(k) && !k.endsWith('_set'));
const secretKey = fc
  .tuple(
    fc.constantFrom(
      'password',
      'secret',
      'token',
      'api_key',
      'AccountKey',
      'credentials',
      'Authorization',
      'pwd',
    ),
    fc.stringMatching(/^[a-z0-9_]{0,4}$/),
  )
  .map(([k, suffix]) => `${k}${suffix}`)
  .filter((k) => !k.endsWith('_set'));
const filler = fc.stringMatching(/^[a-z0-9]{0,8}$/);
const plainLeaf = fc.oneof(filler, fc.integer(), fc.boolean(), fc.constant(null));

/** A secret under a secret-looking name, as a scalar, in an array, or deeper in an object. */
const byName = (s: string) =>
  fc.oneof(
    fc.constant(s),
    fc.constant([s]),
    filler.map((f) => [f, s]),
    fc.constant({ value: s }),
    fc.constant({ token: { value: s } }),
    fc.constant([{ nested: [s] }]),
  );

/** A secret inside a value stored under an ordinary name. */
const inValue = (s: string) =>
  fc
    .tuple(filler, filler)
    .chain(([user, host]) =>
      fc.constantFrom(
        `postgres://${user}:${s}@${host}.example:5432/db`,
        `https://${s}@${host}.example/repo.git`,
        `DefaultEndpointsProtocol=https;AccountName=${user};AccountKey=${s};EndpointSuffix=core.windows.net`,
        `Server=${host};Database=x;User Id=${user};Password=${s};`,
        `host=${host} user=${user} password=${s} dbname=x`,
        `https://${host}.example/c?sv=2020&sig=${s}&se=1`,
        `Bearer ${s}`,
        `ldap://${host}?x&client_secret=${s}`,
      ),
    );

/** A configuration tree with the secret placed at a random depth, by name or inside a value. */
function configWith(secret: string) {
  const placed = fc.oneof(
    fc.tuple(secretKey, byName(secret)).map(([k, v]) => ({ [k]: v })),
    fc.tuple(plainKey, inValue(secret)).map(([k, v]) => ({ [k]: v })),
  );
  const { node } = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      plainLeaf,
      fc.array(tie('node'), { maxLength: 3 }),
      fc.dictionary(plainKey, tie('node'), { maxKeys: 3 }),
    ),
  }));
  // Descend along a random path of plain keys and array positions, then put the secret there.
  const path = fc.array(fc.oneof(plainKey, fc.nat(2)), { maxLength: 5 });
  return fc.tuple(fc.dictionary(plainKey, node, { maxKeys: 4 }), path, placed).map(([base, steps, leaf]) => {
    let inner: Record<string, unknown> = leaf;
    for (const step of [...steps].reverse()) {
      inner = typeof step === 'number' ? { items: [...Array(step).fill(null), inner] } : { [step]: inner };
    }
    return { ...base, ...inner } as Record<string, unknown>;
  });
}

const withSecret = secretArb.chain((secret) => configWith(secret).map((config) => ({ secret, config })));

describe('properties', () => {
  it('a secret under a secret-looking name or inside a URL or connection string never shows', () => {
    fc.assert(
      fc.property(withSecret, ({ secret, config }) => {
        expect(JSON.stringify(config)).toContain(secret);
        expect(shown(config)).not.toContain(secret);
      }),
      { numRuns: 500 },
    );
  });

  it('saving back the masked configuration keeps the stored one, secrets included', () => {
    fc.assert(
      fc.property(withSecret, ({ config }) => {
        const masked = maskSecrets(config) as Record<string, unknown>;
        expect(maskLeftovers(masked, config)).toEqual([]);
        expect(keepStoredSecrets(masked, config)).toEqual(config);
      }),
      { numRuns: 500 },
    );
  });

  it('masking is idempotent', () => {
    fc.assert(
      fc.property(withSecret, ({ config }) => {
        const once = maskSecrets(config);
        expect(maskSecrets(once)).toEqual(once);
      }),
      { numRuns: 200 },
    );
  });
});
