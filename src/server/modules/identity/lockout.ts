// The login lockout rule (docs/authentication.md, "Brute force"). Failed logins are counted per
// account and per source, so that a stranger cannot lock someone else out from their own
// machine: past LOCKOUT_SOURCE_FAILURES from one source, that source's logins to the account
// are refused; only past LOCKOUT_ACCOUNT_FAILURES across all sources is the account's login
// refused for everyone. A refused (locked) attempt checks no password and is not counted, so
// each source adds at most LOCKOUT_SOURCE_FAILURES per window to the account-wide count: an
// account-wide lock takes at least ACCOUNT / SOURCE distinct sources in one window.
import { isIPv6 } from 'node:net';

export const LOCKOUT_SOURCE_FAILURES = 5;
export const LOCKOUT_ACCOUNT_FAILURES = 50;
export const LOCKOUT_WINDOW_MS = 15 * 60 * 1000;
export const LOCKOUT_DURATION_MS = 15 * 60 * 1000;
/** How far back the attempts that can still matter go: a lock begun one window ago, plus its length. */
export const LOCKOUT_LOOKBACK_MS = LOCKOUT_WINDOW_MS + LOCKOUT_DURATION_MS;

/** When a lock ends, from failures oldest first: `threshold` failures within the window lock. */
export function lockedUntil(failures: Date[], threshold = LOCKOUT_SOURCE_FAILURES): number {
  let until = 0;
  let window: number[] = [];
  for (const f of failures.map((d) => d.getTime())) {
    if (f < until) continue;
    window = window.filter((x) => x > f - LOCKOUT_WINDOW_MS);
    window.push(f);
    if (window.length >= threshold) {
      until = f + LOCKOUT_DURATION_MS;
      window = [];
    }
  }
  return until;
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail counts as two). */
function ipv6Groups(ip: string): string[] {
  const [head = '', tail] = ip.split('%')[0]?.split('::') ?? [];
  const part = (s: string) =>
    s === ''
      ? []
      : s.split(':').flatMap((g) => {
          if (!g.includes('.')) return [g];
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const h = part(head);
  if (tail === undefined) return h;
  const t = part(tail);
  return [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
}

/**
 * The source a failed login is counted against: the client's IPv4 address, or the /64 network
 * of an IPv6 client (one subscriber usually holds a whole /64, so single addresses would give
 * an attacker endless fresh sources).
 */
export function loginSource(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const groups = ipv6Groups(ip.toLowerCase()).slice(0, 4);
  return `${groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export interface LoginAttempt {
  at: Date;
  ip: string | null;
  success: boolean;
}

export type LockState = { locked: false } | { locked: true; scope: 'source' | 'account'; until: number };

/**
 * Whether a login to an account from `source` is refused now, from the account's attempts
 * oldest first (LOCKOUT_LOOKBACK_MS of them suffice). A success from a source clears that
 * source's count; it does not clear the account-wide count, which an attacker spread over many
 * sources must not be able to reset by waiting for the real user to log in.
 */
export function lockState(attempts: readonly LoginAttempt[], source: string, now: Date): LockState {
  const all: Date[] = [];
  let mine: Date[] = [];
  for (const a of attempts) {
    const own = a.ip !== null && loginSource(a.ip) === source;
    if (a.success) {
      if (own) mine = [];
      continue;
    }
    all.push(a.at);
    if (own) mine.push(a.at);
  }
  const t = now.getTime();
  const account = lockedUntil(all, LOCKOUT_ACCOUNT_FAILURES);
  if (account > t) return { locked: true, scope: 'account', until: account };
  const own = lockedUntil(mine, LOCKOUT_SOURCE_FAILURES);
  if (own > t) return { locked: true, scope: 'source', until: own };
  return { locked: false };
}
