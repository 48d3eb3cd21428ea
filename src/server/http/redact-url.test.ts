// redactUrlForLog: a secret in a URL never survives, whatever the spelling of its key
// (Fastify percent-decodes query keys) and whatever form the server refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { issueSecret } from '../../contract/token-codec.js';
import { redactSecretsInText, redactUrlForLog } from './conventions.js';

/** Each character of `word` as itself, upper-cased, or percent-encoded (either hex case). */
const spelled = (word: string) =>
  fc
    .tuple(
      ...[...word].map((c) =>
        fc.constantFrom(
          c,
          c.toUpperCase(),
          `%${c.charCodeAt(0).toString(16)}`,
          `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
        ),
      ),
    )
    .map((parts) => parts.join(''));

const SECRET_KEYS = ['token', 'password', 'api_key', 'key', 'access_token', 'secret'];

describe('redactUrlForLog', () => {
  it('masks the value of a secret parameter under any spelling of its key', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SECRET_KEYS).chain(spelled),
        fc.constantFrom('', '[]', '[0]', '%5B%5D'),
        fc.constantFrom('?', '?a=1&', '?a=1;', '/x;'),
        fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
        (key, suffix, lead, value) => {
          const url = `/api/v1/auth/whoami/${lead}${key}${suffix}=${value}&page=2`;
          const out = redactUrlForLog(url);
          expect(out).toContain(`${key}${suffix}=[REDACTED]`);
          expect(out.endsWith('&page=2')).toBe(true);
        },
      ),
    );
  });

  it('masks anything shaped like a Steward secret, under any key and in the path, even encoded', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('api_token', 'session', 'api_key', 'appliance' as const),
        fc.constantFrom('?x=', '?', '/', '/a;b=', '?a[]=', '#'),
        fc.integer({ min: 0, max: 2 }),
        (kind, lead, encodings) => {
          const secret = issueSecret(kind).token;
          let shown = secret;
          // Percent-encode one character, then the percent signs, as often as asked.
          shown = `${shown.slice(0, 5)}%${shown.charCodeAt(5).toString(16)}${shown.slice(6)}`;
          for (let i = 0; i < encodings; i++) shown = shown.replace(/%/g, '%25');
          const out = redactUrlForLog(`/api/v1/files${lead}${shown}`);
          expect(out).not.toContain(secret);
          expect(out).not.toContain(shown);
          expect(out).toContain('[REDACTED]');
        },
      ),
    );
  });

  it('leaves URLs without secrets alone', () => {
    for (const url of [
      '/api/v1/authentication/users/?search=ab%20c&page=2',
      '/api/v1/audit/?action=token.*&cursor=eyJiZWZvcmUiOjR9',
      '/api/v1/appliances/12/',
      '/api/v1/tokens/?ordering=-created_at',
    ]) {
      expect(redactUrlForLog(url)).toBe(url);
    }
  });

  it('never throws on malformed percent-encoding', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        expect(typeof redactUrlForLog(`/api/v1/x?${s}`)).toBe('string');
      }),
    );
    expect(redactUrlForLog('/x?%E0%A4%A=1&token=abc')).toBe('/x?%E0%A4%A=1&token=[REDACTED]');
  });
});

describe('redactSecretsInText', () => {
  it('masks every secret-shaped string in a log message, and nothing else', () => {
    const a = issueSecret('api_token').token;
    const b = issueSecret('session').token;
    const out = redactSecretsInText(`unknown field(s): query.${a}, query.x${b}y`);
    expect(out).toBe('unknown field(s): query.[REDACTED], query.x[REDACTED]y');
    expect(redactSecretsInText('no route for GET /api/v1/stw/')).toBe('no route for GET /api/v1/stw/');
  });
});
