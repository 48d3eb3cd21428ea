// The rate limiter's shared store, without a database: counts that cannot be pruned are logged.
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../test/helpers/log-recorder.js';
import { createManualClock } from '../shared/clock.js';
import { createRateLimiter } from './rate-limit.js';

describe('rate limiter with a shared store', () => {
  it('logs old shared counts it could not prune', async () => {
    const { log, lines } = recordingLogger();
    // At the start of a minute: the first sync tick prunes.
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const limiter = createRateLimiter(
      clock,
      {
        add: async () => new Map(),
        prune: async () => {
          throw new Error('relation is locked');
        },
      },
      20,
      log,
    );
    try {
      await expect.poll(() => lines.length).toBeGreaterThan(0);
    } finally {
      limiter.stop();
    }
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'could not prune old shared rate-limit counts; the next window tries again',
    });
    expect((lines[0]?.obj.err as Error | undefined)?.message).toBe('relation is locked');
  });
});
