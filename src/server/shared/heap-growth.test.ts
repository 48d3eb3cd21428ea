import { describe, expect, it } from 'vitest';
import { limitHeapGrowth } from './heap-growth.js';

describe('limitHeapGrowth', () => {
  it('applies the cap when node was given no flag of its own', () => {
    expect(limitHeapGrowth(50, [])).toBe(true);
  });
  it('leaves it to V8 with 0 (or nonsense)', () => {
    expect(limitHeapGrowth(0, [])).toBe(false);
    expect(limitHeapGrowth(-5, [])).toBe(false);
    expect(limitHeapGrowth(12.5, [])).toBe(false);
  });
  it("gives way to node's own flag", () => {
    expect(limitHeapGrowth(50, ['--heap-growing-percent=20'])).toBe(false);
    expect(limitHeapGrowth(50, ['--expose-gc', '--heap_growing_percent=20'])).toBe(false);
  });
});
