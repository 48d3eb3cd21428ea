// Rollout of a saved revision: targets go `pending` at once, agents are called in the
// background (bounded concurrency), and each one's per-field answer becomes its status,
// recorded in batches.
import { isDeepStrictEqual } from 'node:util';
import type { ApplyResult, ConfigAnswer } from '../../../contract/agent-protocol.js';
import {
  type ApplianceType,
  type ConfigContent,
  fieldDef,
  unsupportedReason,
} from '../../../contract/fleet-fields.js';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ApplianceWithGroup, FleetRepo } from '../fleet/fleet.repo.js';
import type { FleetService } from '../fleet/fleet.service.js';
import { eachLimited } from '../fleet-health/health.service.js';
import { openContent, resolveContent } from './config.content.js';
import type { ConfigRepo, RevisionSource } from './config.repo.js';

export type Source = RevisionSource;

export interface RolloutDeps {
  repo: FleetRepo;
  configRepo: ConfigRepo;
  tx: Transactor;
  fleet: FleetService;
  audit: AuditService;
  clock: Clock;
  secrets: SecretBox;
  concurrency?: number | undefined;
  /** Where a rollout's lost outcome is told (the server passes its own logger). */
  log: Logger;
  /** This replica's id: recorded on the appliances it marks `pending` (migration 0105). */
  replicaId: string;
}

/** How long an agent may take to answer an apply (the send's timeout). */
const SEND_TIMEOUT_MS = 30_000;
/**
 * A `pending` configuration without a claimer (written by a release before migration 0105) counts
 * as left behind after this long: far past any rollout such a release could still be running.
 */
const UNCLAIMED_LEFT_MS = 15 * 60_000;

/**
 * What an agent keeps of `content` when it takes it (src/agent: the known fields this type and
 * release support, without nulls), and the fields it would answer `unsupported`.
 */
export function contentAgentKeeps(content: ConfigContent, type: string, release: string | null) {
  const kept: ConfigContent = {};
  const unsupported: Record<string, string> = {};
  for (const [name, value] of Object.entries(content)) {
    const def = fieldDef(name);
    const reason = def
      ? unsupportedReason(def, type as ApplianceType, release ?? '0')
      : 'unknown field on this agent';
    if (reason) unsupported[name] = reason;
    else if (value !== null) kept[name] = value;
  }
  return { kept, unsupported };
}

/** Why an appliance in maintenance was not sent a configuration. */
export const MAINTENANCE_HOLD = {
  reason:
    'the appliance is in maintenance: the configuration was not sent; apply again once maintenance ends (PATCH /api/v1/appliances/{id}/ {"maintenance": false})',
  maintenance: true,
};

export type Rollout = ReturnType<typeof createRollout>;

export function createRollout(deps: RolloutDeps) {
  const { repo, configRepo, tx, fleet, audit, clock, secrets, log, replicaId } = deps;
  const inflight = new Set<Promise<void>>();

  function resultStatus(res: ApplyResult): { status: string; details: Record<string, unknown> } {
    const errors: Record<string, string> = {};
    const unsupported: Record<string, string> = {};
    for (const [field, r] of Object.entries(res.results ?? {})) {
      if (r.status === 'error') errors[field] = r.message;
      else if (r.status === 'unsupported') unsupported[field] = r.message;
    }
    if (Object.keys(errors).length > 0) {
      return {
        status: 'error',
        details: { reason: 'the appliance rejected the configuration', fields: errors, unsupported },
      };
    }
    if (res.reload_error) return { status: 'error', details: { reason: res.reload_error, unsupported } };
    if (Object.keys(unsupported).length > 0) {
      return {
        status: 'unsupported',
        details: { reason: 'the appliance cannot take some fields', unsupported },
      };
    }
    return { status: 'done', details: {} };
  }

  interface Outcome {
    row: ApplianceWithGroup;
    status: string;
    details: Record<string, unknown>;
    appliedHash: string | null;
  }

  /** Sends the revision to one agent and reads its per-field answer. */
  async function pushOne(
    row: ApplianceWithGroup,
    revision: number,
    content: ConfigContent,
  ): Promise<Outcome> {
    // Put in maintenance after the apply started: hold it back like the others in maintenance.
    if (row.maintenance) {
      return {
        row,
        status: 'changes_awaiting_apply',
        details: { ...MAINTENANCE_HOLD, revision },
        appliedHash: null,
      };
    }
    let status = 'error';
    let details: Record<string, unknown> = {};
    let appliedHash: string | null = null;
    try {
      const res = await fleet.agentCall<ApplyResult>(row, 'agent/v1/config', {
        method: 'PUT',
        body: { revision, content },
        timeoutMs: SEND_TIMEOUT_MS,
      });
      if (res.status === 200 && res.body && typeof res.body === 'object' && res.body.results) {
        ({ status, details } = resultStatus(res.body));
        // Written (possibly with a failed reload): the agent now runs this revision.
        if (!(details as { fields?: unknown }).fields) appliedHash = res.body.hash;
      } else {
        details = { reason: `the appliance answered ${res.status}` };
      }
    } catch (err) {
      details = { reason: (err as Error).message };
    }
    return { row, status, details: { ...details, revision }, appliedHash };
  }

  /**
   * For a rollout another replica left: the outcome when the agent already runs this revision
   * with this content (that replica sent it before it stopped), so it is not sent twice; else
   * undefined (not sent yet, or the agent cannot tell: send it).
   */
  async function alreadyTaken(
    row: ApplianceWithGroup,
    revision: number,
    content: ConfigContent,
  ): Promise<Outcome | undefined> {
    const res = await fleet
      .agentCall<ConfigAnswer>(row, 'agent/v1/config', { timeoutMs: 10_000 })
      .catch(() => undefined);
    if (res?.status !== 200 || !res.body || res.body.revision !== revision) return undefined;
    const { kept, unsupported } = contentAgentKeeps(content, row.type, row.release);
    if (!isDeepStrictEqual(res.body.content, kept)) return undefined;
    const some = Object.keys(unsupported).length > 0;
    return {
      row,
      status: some ? 'unsupported' : 'done',
      details: {
        ...(some ? { reason: 'the appliance cannot take some fields', unsupported } : {}),
        revision,
        resumed: 'the appliance had taken this revision before the replica sending it stopped',
      },
      appliedHash: res.body.hash,
    };
  }

  /**
   * Records many outcomes in one transaction (one UPDATE, one INSERT): at a thousand appliances
   * a transaction per appliance would be the bottleneck. Appliances that left the group (or
   * joined one, for individual configuration) meanwhile are left alone; a newer save makes the
   * status `changes_awaiting_apply` again.
   */
  async function recordOutcomes(outcomes: Outcome[], source: Source): Promise<void> {
    if (outcomes.length === 0) return;
    const now = clock.now();
    await tx.transaction(async (trx) => {
      let stale = false;
      if ('groupId' in source) {
        const g = await configRepo.getGroupById(source.groupId, trx);
        if (!g) return;
        stale = g.revision !== source.revision;
      }
      const updated = await configRepo.recordOutcomes(
        trx,
        outcomes.map((o) => ({
          id: o.row.id,
          status: stale ? 'changes_awaiting_apply' : o.status,
          details: o.details,
          hash: o.appliedHash,
        })),
        source,
        now,
      );
      const kept = new Set(updated);
      const events = outcomes
        .filter((o) => kept.has(o.row.id))
        .map((o) => ({
          at: now,
          appliance_id: o.row.id,
          appliance_name: o.row.name,
          kind:
            o.status === 'error'
              ? 'config.failed'
              : o.status === 'changes_awaiting_apply'
                ? 'config.held'
                : 'config.applied',
          severity: o.status === 'error' ? 'error' : o.status === 'unsupported' ? 'warning' : 'info',
          source: 'manager',
          message:
            o.status === 'error'
              ? `configuration revision ${source.revision} failed on ${o.row.name}: ${String(o.details.reason)}`.slice(
                  0,
                  2000,
                )
              : o.status === 'changes_awaiting_apply'
                ? `configuration revision ${source.revision} not sent to ${o.row.name}: it is in maintenance`
                : `configuration revision ${source.revision} applied to ${o.row.name} (${o.status})`,
          details: JSON.stringify(o.details),
        }));
      if (events.length > 0) await repo.insertEvents(trx, events);
    });
  }

  async function runRollout(ids: number[], source: Source, resumed = false): Promise<void> {
    const stored = await configRepo.revision(
      'groupId' in source ? { groupId: source.groupId } : { applianceId: source.applianceId },
      source.revision,
    );
    // Destination list references become the entries saved with this revision.
    const content = resolveContent(
      openContent(stored?.content ?? {}, secrets),
      stored?.destination_lists ?? null,
    );
    let batch: Outcome[] = [];
    const flush = async () => {
      const out = batch;
      batch = [];
      await recordOutcomes(out, source).catch((err: unknown) => {
        // The appliances got the revision, but their status stays `pending` until the next apply.
        log.error(
          { err, source, appliances: out.map((o) => o.row.id) },
          'rollout outcomes not recorded; these appliances stay pending until applied again',
        );
      });
    };
    for (let i = 0; i < ids.length; i += 1000) {
      const rows = await repo.appliancesByIds(ids.slice(i, i + 1000));
      await eachLimited(rows, deps.concurrency ?? 64, async (row) => {
        // Await first, then read `batch`: `batch.push(await ...)` would bind the array before the
        // await and push into one that a concurrent flush has already taken.
        const outcome =
          (resumed && !row.maintenance ? await alreadyTaken(row, source.revision, content) : undefined) ??
          (await pushOne(row, source.revision, content));
        batch.push(outcome);
        if (batch.length >= 100) await flush();
      });
    }
    await flush();
  }

  function rollout(ids: number[], source: Source, resumed = false) {
    if (ids.length === 0) return;
    const p = runRollout(ids, source, resumed)
      .catch((err: unknown) => {
        log.error(
          { err, source, appliances: ids.length },
          'rollout stopped; the appliances not reached stay pending',
        );
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }

  /** Marks targets pending (unauthorized ones error at once) and starts the rollout. */
  async function startApply(actor: Actor, targets: ApplianceWithGroup[], source: Source, label: string) {
    const now = clock.now();
    const ready = targets.filter((t) => t.authorized && !t.maintenance);
    const refused = targets.filter((t) => !t.authorized);
    const held = targets.filter((t) => t.authorized && t.maintenance);
    await tx.transaction(async (trx) => {
      if (held.length > 0) {
        await configRepo.setConfigurationStatus(
          trx,
          held.map((t) => t.id),
          'changes_awaiting_apply',
          { ...MAINTENANCE_HOLD, revision: source.revision },
          now,
        );
        await repo.insertEvents(
          trx,
          held.map((t) => ({
            at: now,
            appliance_id: t.id,
            appliance_name: t.name,
            kind: 'config.held',
            severity: 'info',
            source: 'manager',
            message: `configuration revision ${source.revision} not sent to ${t.name}: it is in maintenance`,
            details: JSON.stringify({ ...MAINTENANCE_HOLD, revision: source.revision }),
          })),
        );
      }
      if (ready.length > 0) {
        await configRepo.setConfigurationStatus(
          trx,
          ready.map((t) => t.id),
          'pending',
          { revision: source.revision },
          now,
          replicaId,
        );
      }
      if (refused.length > 0) {
        await configRepo.setConfigurationStatus(
          trx,
          refused.map((t) => t.id),
          'error',
          { reason: 'the appliance is not authorized; authorize it first', revision: source.revision },
          now,
        );
      }
      await audit.record(trx, actor, {
        action: 'configuration.applied',
        targetType: 'groupId' in source ? 'config_group' : 'appliance',
        targetId: 'groupId' in source ? source.groupId : source.applianceId,
        summary: `apply ${label} revision ${source.revision} to ${targets.map((t) => t.name).join(', ')}`,
        status: 202,
      });
    });
    rollout(
      ready.map((t) => t.id),
      source,
    );
    return {
      detail: `applying revision ${source.revision} to ${ready.length} appliance(s) in the background${held.length > 0 ? `; ${held.length} in maintenance not sent it` : ''}`,
      revision: source.revision,
      appliances: targets.map((t) => ({
        name: t.name,
        configuration_status: !t.authorized ? 'error' : t.maintenance ? 'changes_awaiting_apply' : 'pending',
      })),
    };
  }

  /**
   * Finishes the rollouts replicas no longer alive left (ADR 0006): claims their `pending`
   * appliances for this replica, then per appliance asks the agent which configuration it runs
   * and records one that already took the revision without sending it again; the others are
   * sent it. `live` is the ids of the replicas alive now. Answers how many were claimed.
   */
  async function resumeLeft(live: string[]): Promise<number> {
    const now = clock.now().getTime();
    const claimed = await configRepo.claimLeftPending(
      tx.direct,
      replicaId,
      live,
      new Date(now - SEND_TIMEOUT_MS),
      new Date(now - UNCLAIMED_LEFT_MS),
    );
    const bySource = new Map<string, { source: Source; ids: number[] }>();
    const unknown: number[] = [];
    for (const c of claimed) {
      if (c.revision === null) {
        unknown.push(c.id);
        continue;
      }
      const source: Source =
        c.group_id !== null
          ? { groupId: c.group_id, revision: c.revision }
          : { applianceId: c.id, revision: c.revision };
      const key = JSON.stringify(source);
      const entry = bySource.get(key) ?? { source, ids: [] };
      entry.ids.push(c.id);
      bySource.set(key, entry);
    }
    if (unknown.length > 0) {
      // Not written by this release (the details carry no revision): nothing to resume from.
      await configRepo.setConfigurationStatus(
        tx.direct,
        unknown,
        'changes_awaiting_apply',
        { reason: 'the manager replica applying this configuration stopped; apply it again' },
        clock.now(),
      );
    }
    for (const { source, ids } of bySource.values()) {
      log.warn(
        { source, appliances: ids.length },
        'resuming a configuration rollout a stopped manager replica left pending',
      );
      rollout(ids, source, true);
    }
    return claimed.length;
  }

  return {
    startApply,
    resumeLeft,
    /** Waits for background rollouts (tests, shutdown). */
    async settle() {
      while (inflight.size > 0) await Promise.all([...inflight]);
    },
  };
}
