// Fixed-window request budgets per key (a token, a user's sessions, an IP), answered with 429,
// Retry-After and the IETF RateLimit-Policy / RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers). Written here rather than with @fastify/rate-limit
// because the budget depends on the principal, which is only known after authentication, and
// the plugin emits the older X-RateLimit-* / RateLimit-Limit headers instead of the draft's.
// The store is in memory: one replica's count (shared counting is the scale-out issue's).

import type { FastifyReply } from 'fastify';
import { AppError } from '../shared/app-error.js';
import type { Clock } from '../shared/clock.js';

export interface RateLimiter {
  /** Counts one request against `key`; throws 429 when the budget of `limit` per minute is spent. */
  hit(key: string, limit: number, policy: string, reply: FastifyReply): void;
}

const WINDOW_MS = 60_000;

export function createRateLimiter(clock: Clock): RateLimiter {
  let windowStart = 0;
  let counts = new Map<string, number>();
  return {
    hit(key, limit, policy, reply) {
      const now = clock.now().getTime();
      const start = now - (now % WINDOW_MS);
      if (start !== windowStart) {
        windowStart = start;
        counts = new Map();
      }
      const used = (counts.get(key) ?? 0) + 1;
      counts.set(key, used);
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
  };
}
