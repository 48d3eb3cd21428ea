import { describe, expect, it } from 'vitest';
import { digestSecret, issueSecret, parseSecret, TOKEN_LENGTH, TOKEN_SCANNER_REGEX } from './token-codec.js';

describe('token codec', () => {
  it('issues alphanumeric tokens of 42 characters with a kind prefix and a valid checksum', () => {
    for (const kind of ['api_token', 'session', 'api_key', 'appliance'] as const) {
      const s = issueSecret(kind);
      expect(s.token).toMatch(/^[A-Za-z0-9]+$/);
      expect(s.token).toHaveLength(TOKEN_LENGTH);
      expect(TOKEN_SCANNER_REGEX.test(s.token)).toBe(true);
      expect(parseSecret(s.token)).toEqual({ ok: true, kind });
      expect(s.digest).toBe(digestSecret(s.token));
      expect(s.last4).toBe(s.token.slice(-4));
    }
  });

  it('refuses a mistyped, truncated or foreign token without any lookup', () => {
    const t = issueSecret('api_token').token;
    const typo = t.slice(0, 10) + (t[10] === 'a' ? 'b' : 'a') + t.slice(11);
    expect(parseSecret(typo)).toMatchObject({ ok: false, reason: expect.stringContaining('checksum') });
    expect(parseSecret(t.slice(0, -1))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('malformed'),
    });
    expect(parseSecret(`xxxx${t.slice(4)}`)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('prefix'),
    });
    expect(parseSecret('not a token')).toMatchObject({ ok: false });
  });

  it('never repeats a secret', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => issueSecret('session').token));
    expect(seen.size).toBe(2000);
  });
});
