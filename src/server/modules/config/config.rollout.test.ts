// The rollout's background half without a database: an outcome that cannot be recorded is told
// to the log (the appliances stay `pending`), never dropped silently; the agent is called once.
import { describe, expect, it } from 'vitest';
import type { Transactor, Tx } from '../../db/transactor.js';
import { systemActor } from '../../shared/actor.js';
import { systemClock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ApplianceWithGroup, FleetRepo } from '../fleet/fleet.repo.js';
import type { FleetService } from '../fleet/fleet.service.js';
import type { ConfigRepo } from './config.repo.js';
import { createRollout } from './config.rollout.js';

const row = { id: 7, name: 'worker-7', authorized: true, maintenance: false } as ApplianceWithGroup;

function recorder() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      if (typeof obj === 'string') lines.push({ level, obj: {}, msg: obj });
      else lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { log, lines };
}

describe('rollout', () => {
  it('logs outcomes it cannot record instead of dropping them', async () => {
    const { log, lines } = recorder();
    let transactions = 0;
    const tx: Transactor = {
      direct: {} as Tx,
      // The first transaction marks the targets pending; the second records the outcome and fails.
      transaction: async (fn) => {
        transactions += 1;
        if (transactions === 2) throw new Error('database went away');
        return fn({} as Tx);
      },
    };
    const calls: string[] = [];
    const rollout = createRollout({
      repo: {
        appliancesByIds: async () => [row],
        insertEvents: async () => undefined,
      } as unknown as FleetRepo,
      configRepo: {
        revision: async () => ({ content: { ntp_server: 'a' }, destination_lists: null }),
        setConfigurationStatus: async () => undefined,
      } as unknown as ConfigRepo,
      tx,
      fleet: {
        agentCall: async (_row: unknown, path: string) => {
          calls.push(path);
          return { status: 200, body: { results: {}, hash: 'h' }, latencyMs: 1 };
        },
      } as unknown as FleetService,
      audit: { record: async () => undefined } as unknown as AuditService,
      clock: systemClock,
      secrets: { open: (v: string) => v } as unknown as SecretBox,
      log,
      replicaId: 'replica-a',
    });
    const answer = await rollout.startApply(
      systemActor('test'),
      [row],
      { applianceId: 7, revision: 3 },
      'test',
    );
    expect(answer.appliances).toEqual([{ name: 'worker-7', configuration_status: 'pending' }]);
    await rollout.settle();
    expect(calls).toEqual(['agent/v1/config']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error',
      msg: 'rollout outcomes not recorded; these appliances stay pending until applied again',
      obj: { source: { applianceId: 7, revision: 3 }, appliances: [7] },
    });
    expect(lines[0]?.obj.err).toBeInstanceOf(Error);
    expect((lines[0]?.obj.err as Error | undefined)?.message).toBe('database went away');
  });
});
