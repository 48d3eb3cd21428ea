import { describe, expect, it } from 'vitest';
import { LOCKOUT_DURATION_MS, lockedUntil } from './sessions.service.js';

const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 0, min));

describe('lockedUntil', () => {
  it('locks for 15 minutes from the fifth failure within 15 minutes', () => {
    const f = [0, 1, 2, 3, 4].map(at);
    expect(lockedUntil(f)).toBe(at(4).getTime() + LOCKOUT_DURATION_MS);
  });
  it('does not lock when failures are spread over more than 15 minutes', () => {
    expect(lockedUntil([0, 5, 10, 15, 20].map(at))).toBe(0);
  });
  it('does not lock on four failures', () => {
    expect(lockedUntil([0, 1, 2, 3].map(at))).toBe(0);
  });
});
