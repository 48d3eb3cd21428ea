// Batched reads for exports: each read resumes after the previous batch (keyset) or at the next
// offset (pages), and a short batch ends the walk, including when the rows fill whole batches.
import { describe, expect, it } from 'vitest';
import { keysetBatches, pageBatches } from './batches.js';

const ROWS = Array.from({ length: 10 }, (_, i) => ({ id: i + 1 }));

async function collect<T>(batches: AsyncIterable<T[]>) {
  const out: T[][] = [];
  for await (const b of batches) out.push(b);
  return out;
}

describe('keysetBatches', () => {
  it('reads after the last key of each batch until a short batch', async () => {
    const calls: (number | undefined)[] = [];
    const batches = await collect(
      keysetBatches(
        async (after: number | undefined, size) => {
          calls.push(after);
          return ROWS.filter((r) => after === undefined || r.id > after).slice(0, size);
        },
        (r) => r.id,
        4,
      ),
    );
    expect(batches.map((b) => b.map((r) => r.id))).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10],
    ]);
    expect(calls).toEqual([undefined, 4, 8]);
  });

  it('ends with an empty read when the rows fill whole batches, and yields no empty batch', async () => {
    const calls: (number | undefined)[] = [];
    const batches = await collect(
      keysetBatches(
        async (after: number | undefined, size) => {
          calls.push(after);
          return ROWS.filter((r) => after === undefined || r.id > after).slice(0, size);
        },
        (r) => r.id,
        5,
      ),
    );
    expect(batches.map((b) => b.length)).toEqual([5, 5]);
    expect(calls).toEqual([undefined, 5, 10]);
    expect(
      await collect(
        keysetBatches(
          async () => [],
          (r: { id: number }) => r.id,
        ),
      ),
    ).toEqual([]);
  });
});

describe('pageBatches', () => {
  it('reads page after page by offset until a short page', async () => {
    const offsets: number[] = [];
    const batches = await collect(
      pageBatches(async (offset, size) => {
        offsets.push(offset);
        return ROWS.slice(offset, offset + size);
      }, 3),
    );
    expect(batches.flat()).toEqual(ROWS);
    expect(offsets).toEqual([0, 3, 6, 9]);
  });
});
