import { describe, expect, it } from 'vitest';
import {
  LOCKOUT_ACCOUNT_FAILURES,
  LOCKOUT_DURATION_MS,
  LOCKOUT_SOURCE_FAILURES,
  type LoginAttempt,
  lockState,
  loginSource,
} from './lockout.js';

const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 0, min));
const fail = (min: number, ip: string): LoginAttempt => ({ at: at(min), ip, success: false });
const ok = (min: number, ip: string): LoginAttempt => ({ at: at(min), ip, success: true });

describe('loginSource', () => {
  it('is the IPv4 address, also when IPv4-mapped', () => {
    expect(loginSource('192.0.2.7')).toBe('192.0.2.7');
    expect(loginSource('::ffff:192.0.2.7')).toBe('192.0.2.7');
  });
  it('is the /64 of an IPv6 address, however it is written', () => {
    const net = '2001:db8:0:1::/64';
    for (const ip of [
      '2001:db8:0:1::1',
      '2001:0db8:0000:0001:ffff:0:0:1',
      '2001:DB8:0:1:a:b:c:d',
      '2001:db8:0:1::1.2.3.4',
    ])
      expect(loginSource(ip), ip).toBe(net);
    expect(loginSource('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(loginSource('2001:db8:0:2::1')).not.toBe(net);
    expect(loginSource('::1')).toBe('0:0:0:0::/64');
  });
});

describe('lockState', () => {
  const A = '192.0.2.1';
  const B = '192.0.2.2';

  it(`locks one source after ${LOCKOUT_SOURCE_FAILURES} failures from it, not the others`, () => {
    const attempts = [0, 1, 2, 3, 4].map((m) => fail(m, A));
    expect(lockState(attempts, A, at(5))).toEqual({
      locked: true,
      scope: 'source',
      until: at(4).getTime() + LOCKOUT_DURATION_MS,
    });
    expect(lockState(attempts, B, at(5))).toEqual({ locked: false });
    expect(lockState(attempts, A, at(20))).toEqual({ locked: false });
  });

  it('a success clears its own source, but not the account-wide count', () => {
    expect(lockState([...[0, 1, 2, 3].map((m) => fail(m, A)), ok(5, A), fail(6, A)], A, at(7)).locked).toBe(
      false,
    );
    expect(lockState([...[0, 1, 2, 3].map((m) => fail(m, A)), ok(5, B), fail(6, A)], A, at(7)).locked).toBe(
      true,
    );
    // Failures from many sources, with the real user logging in between, still add up.
    const spread: LoginAttempt[] = [];
    for (let i = 0; i < LOCKOUT_ACCOUNT_FAILURES; i++) {
      spread.push(fail(i % 10, `198.51.100.${i % 13}`));
      if (i % 7 === 0) spread.push(ok(i % 10, B));
    }
    spread.sort((x, y) => x.at.getTime() - y.at.getTime());
    expect(lockState(spread, '203.0.113.9', at(10))).toMatchObject({ locked: true, scope: 'account' });
  });

  it(`locks the account for everyone only after ${LOCKOUT_ACCOUNT_FAILURES} failures across sources`, () => {
    const attempts: LoginAttempt[] = [];
    for (let i = 0; i < LOCKOUT_ACCOUNT_FAILURES - 1; i++) attempts.push(fail(i % 14, `198.51.100.${i}`));
    attempts.sort((x, y) => x.at.getTime() - y.at.getTime());
    expect(lockState(attempts, '203.0.113.9', at(14))).toEqual({ locked: false });
    attempts.push(fail(14, '198.51.100.200'));
    expect(lockState(attempts, '203.0.113.9', at(14))).toEqual({
      locked: true,
      scope: 'account',
      until: at(14).getTime() + LOCKOUT_DURATION_MS,
    });
    expect(lockState(attempts, '203.0.113.9', at(30)).locked).toBe(false);
  });

  it('counts an IPv6 /64 as one source', () => {
    const attempts = [1, 2, 3, 4, 5].map((n) => fail(n, `2001:db8:0:1::${n}`));
    expect(lockState(attempts, loginSource('2001:db8:0:1::99'), at(6)).locked).toBe(true);
    expect(lockState(attempts, loginSource('2001:db8:0:2::1'), at(6)).locked).toBe(false);
  });
});
