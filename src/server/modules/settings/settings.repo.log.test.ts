// The settings store's bus half without a database: an announcement that cannot be sent, or a
// change another replica announced that cannot be read back, is logged rather than dropped.
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../../test/helpers/log-recorder.js';
import type { ClusterBus } from '../../db/notify.js';
import type { Tx } from '../../db/transactor.js';
import { createSettingsStore } from './settings.repo.js';

function fakeBus(publish: ClusterBus['publish']) {
  const subscribers = new Map<string, (data: Record<string, unknown>) => void>();
  const bus: ClusterBus = {
    replicaId: 'test',
    publish,
    subscribe: (topic, fn) => {
      subscribers.set(topic, fn);
    },
    onResync: () => {},
    close: async () => {},
  };
  return { bus, subscribers };
}

/** A handle whose every query fails, as a pool does while the server is away. */
const brokenQuery = {
  select: () => brokenQuery,
  where: () => brokenQuery,
  executeTakeFirst: async () => {
    throw new Error('connection refused');
  },
};
const brokenDb = { selectFrom: () => brokenQuery } as unknown as Tx;

describe('settings store on a bus', () => {
  it('logs a change it could not announce to the other replicas, and still tells its own listeners', async () => {
    const { log, lines } = recordingLogger();
    const { bus } = fakeBus(async () => {
      throw new Error('pool exhausted');
    });
    const store = createSettingsStore(brokenDb, bus, log);
    const heard: string[] = [];
    store.onChange((key) => heard.push(key));
    store.notifyChanged('smtp', { host: 'mail' });
    expect(heard).toEqual(['smtp']);
    await expect.poll(() => lines.length).toBe(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'could not tell the other replicas of a settings change; they keep the old value',
      obj: { key: 'smtp' },
    });
    expect((lines[0]?.obj.err as Error | undefined)?.message).toBe('pool exhausted');
  });

  it('logs a change another replica announced that it could not read back', async () => {
    const { log, lines } = recordingLogger();
    const { bus, subscribers } = fakeBus(async () => {});
    const store = createSettingsStore(brokenDb, bus, log);
    const heard: string[] = [];
    store.onChange((key) => heard.push(key));
    subscribers.get('settings.changed')?.({ key: 'snmp' });
    await expect.poll(() => lines.length).toBe(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'could not read a setting another replica changed; this replica keeps its old value',
      obj: { key: 'snmp' },
    });
    expect((lines[0]?.obj.err as Error | undefined)?.message).toBe('connection refused');
    expect(heard).toEqual([]);
  });
});
