// Fixed-window request budgets per key (a token, a user's sessions, an IP), answered with 429,
// Retry-After and the IETF RateLimit-Policy / RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers). Written here rather than with @fastify/rate-limit
// because the budget depends on the principal, which is only known after authentication, and
// the plugin emits the older X-RateLimit-* headers instead of the draft's (ADR 0001).
//
// Counting stays off the request path: each replica counts in memory and, with a shared store
// (several replicas on one PostgreSQL), adds its counts to the shared ones every `syncMs` (250) and
// reads back the totals. A decision uses the last shared total plus the local count since, so a
// key can overshoot its budget by what the other replicas admitted in one sync interval
// (ADR 0003 says how much that is).

import type { FastifyReply } from 'fastify';
import { AppError } from '../shared/app-error.js';
import type { Clock } from '../shared/clock.js';
import { type Logger, silentLogger } from '../shared/logger.js';

export interface RateLimiter {
  /** Counts one request against `key`; throws 429 when the budget of `limit` per minute is spent. */
  hit(key: string, limit: number, policy: string, reply: FastifyReply): void;
  /** Pushes local counts to the shared store now (tests, shutdown). */
  sync(): Promise<void>;
  stop(): void;
}

/** Adds deltas for one window and answers the shared totals of those keys. */
export interface SharedCounterStore {
  add(windowStart: Date, deltas: Map<string, number>): Promise<Map<string, number>>;
  prune(before: Date): Promise<void>;
}

const WINDOW_MS = 60_000;

/** `log` hears of shared counts that could not be pruned; app.ts passes its logger. */
export function createRateLimiter(
  clock: Clock,
  shared?: SharedCounterStore,
  syncMs = 250,
  log: Logger = silentLogger,
): RateLimiter {
  let windowStart = 0;
  /** Last known shared totals (including what this replica already pushed). */
  let totals = new Map<string, number>();
  /** Counted here and not yet pushed. */
  let pending = new Map<string, number>();
  let syncing: Promise<void> | undefined;

  const roll = (now: number) => {
    const start = now - (now % WINDOW_MS);
    if (start !== windowStart) {
      windowStart = start;
      totals = new Map();
      pending = new Map();
    }
    return start;
  };

  async function sync() {
    if (!shared || syncing) return syncing;
    const batch = pending;
    const start = windowStart;
    if (batch.size === 0) return;
    pending = new Map();
    syncing = (async () => {
      try {
        const result = await shared.add(new Date(start), batch);
        if (start === windowStart) for (const [k, v] of result) totals.set(k, v);
      } catch {
        // The store is unreachable: keep counting locally and retry with the next batch.
        if (start === windowStart) for (const [k, v] of batch) pending.set(k, (pending.get(k) ?? 0) + v);
      } finally {
        syncing = undefined;
      }
    })();
    return syncing;
  }

  let timer: NodeJS.Timeout | undefined;
  if (shared) {
    timer = setInterval(() => {
      void sync();
      const now = clock.now().getTime();
      if (now % WINDOW_MS < syncMs)
        void shared
          .prune(new Date(now - 2 * WINDOW_MS))
          .catch((err: unknown) =>
            log.warn({ err }, 'could not prune old shared rate-limit counts; the next window tries again'),
          );
    }, syncMs);
    timer.unref();
  }

  return {
    hit(key, limit, policy, reply) {
      const now = clock.now().getTime();
      const start = roll(now);
      let used: number;
      if (shared) {
        const local = (pending.get(key) ?? 0) + 1;
        pending.set(key, local);
        used = (totals.get(key) ?? 0) + local;
      } else {
        used = (totals.get(key) ?? 0) + 1;
        totals.set(key, used);
      }
      const resetSeconds = Math.max(1, Math.ceil((start + WINDOW_MS - now) / 1000));
      reply.header('ratelimit-policy', `"${policy}";q=${limit};w=60`);
      reply.header('ratelimit', `"${policy}";r=${Math.max(0, limit - used)};t=${resetSeconds}`);
      if (used > limit) {
        throw new AppError({
          code: 'rate_limited',
          message: `rate limit of ${limit} requests per minute exceeded (${policy}); retry in ${resetSeconds} s`,
          headers: { 'retry-after': String(resetSeconds) },
        });
      }
    },
    sync: async () => {
      await sync();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
