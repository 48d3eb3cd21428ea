// Named settings documents (one JSON value per key) in the `settings` table. Modules own their
// keys and validate values with their own schemas; this store only reads and writes them. It is
// the settings repository: its statements run on the handle they are given (a service's `Tx`, or
// a module's own transaction), and reads outside any transaction use the store's base handle.

import type { ClusterBus } from '../../db/notify.js';
import { queryable } from '../../db/queryable.js';
import type { DbHandle } from '../../db/transactor.js';
import { type Logger, silentLogger } from '../../shared/logger.js';

export interface SettingsStore {
  /** The stored value of `key` over `defaults` (read through `d`, the store's handle by default). */
  get<T extends object>(key: string, defaults: T, d?: DbHandle): Promise<T>;
  /** Writes `key` in `trx`: callers make it part of the change it belongs to. */
  set(trx: DbHandle, key: string, value: object, userId: number | null): Promise<void>;
  /** Called after a committed set, so caches and running services pick up the new value at once. */
  onChange(listener: (key: string, value: object) => void): () => void;
  notifyChanged(key: string, value: object): void;
}

/**
 * With a bus (several replicas), a change is announced to the other replicas, which read the
 * committed value back from the database and tell their own listeners. `log` hears of an
 * announcement that could not be sent or read back (a replica then keeps its old value until
 * the next change or resync); the server passes its logger, tools without a bus need none.
 */
export function createSettingsStore(
  base: DbHandle,
  bus?: ClusterBus,
  log: Logger = silentLogger,
): SettingsStore {
  const listeners = new Set<(key: string, value: object) => void>();
  const tell = (key: string, value: object) => {
    for (const l of listeners) l(key, value);
  };
  const read = (d: DbHandle, key: string) =>
    queryable(d).selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  bus?.subscribe('settings.changed', (data) => {
    const key = String(data.key);
    void read(base, key)
      .then((row) => row && tell(key, row.value as object))
      .catch((err: unknown) =>
        log.warn(
          { err, key },
          'could not read a setting another replica changed; this replica keeps its old value',
        ),
      );
  });
  return {
    async get<T extends object>(key: string, defaults: T, d: DbHandle = base): Promise<T> {
      const row = await read(d, key);
      return { ...defaults, ...((row?.value as Partial<T> | undefined) ?? {}) };
    },
    async set(trx, key, value, userId) {
      await queryable(trx)
        .insertInto('settings')
        .values({ key, value: JSON.stringify(value), updated_by: userId })
        .onConflict((oc) =>
          oc
            .column('key')
            .doUpdateSet({ value: JSON.stringify(value), updated_at: new Date(), updated_by: userId }),
        )
        .execute();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    notifyChanged(key, value) {
      tell(key, value);
      bus
        ?.publish('settings.changed', { key })
        .catch((err: unknown) =>
          log.warn(
            { err, key },
            'could not tell the other replicas of a settings change; they keep the old value',
          ),
        );
    },
  };
}
