// Reading a long result in batches, for exports: each batch is one bounded query, so memory
// stays flat however many rows match. Keyset reads (`after` the last row's key) cost the same
// deep in the table as at its start; page reads suit short lists with a free sort order.

export const EXPORT_BATCH_SIZE = 500;

/**
 * Batches from `read(after, size)`: up to `size` rows following the key `after` (undefined for
 * the first batch), in the list's order. A batch shorter than `size` is the last.
 */
export async function* keysetBatches<T, K>(
  read: (after: K | undefined, size: number) => Promise<T[]>,
  keyOf: (row: T) => K,
  size = EXPORT_BATCH_SIZE,
): AsyncGenerator<T[]> {
  let after: K | undefined;
  for (;;) {
    const rows = await read(after, size);
    if (rows.length > 0) yield rows;
    const last = rows.at(-1);
    if (rows.length < size || last === undefined) return;
    after = keyOf(last);
  }
}

/** Batches from `read(offset, size)`, for lists sorted by any field (short ones: tokens). */
export async function* pageBatches<T>(
  read: (offset: number, size: number) => Promise<T[]>,
  size = EXPORT_BATCH_SIZE,
): AsyncGenerator<T[]> {
  for (let offset = 0; ; offset += size) {
    const rows = await read(offset, size);
    if (rows.length > 0) yield rows;
    if (rows.length < size) return;
  }
}
