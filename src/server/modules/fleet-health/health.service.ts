// Health polling: one round (`pollAll`) asks each authorized appliance of this replica's share
// for its status, with a bounded number of calls in flight. Records online/offline transitions
// (audited, and listed as activities), detects configuration drift (`mismatch`), and pulls the
// agent's own events. The job that runs a round every interval on every replica, each polling
// the appliances it owns (ADR 0006), is jobs/fleet-health.ts.
//
// Cost at 10,000 appliances: a round reads only the appliances that changed since the last one
// (poll_version, migration 0104; credentials are cached too), and writes only what changed: a change of
// status, release or running configuration is written at once, as is system_data when the agent's
// tag moved; otherwise latency, last_seen_online and system_data are refreshed at most every
// `telemetryMs` (60 s) per appliance, all in one statement per round (the cache of targets and
// credentials is in health.targets.ts). Health samples for the charts (one per appliance per 5
// minutes, health-history.service.ts) are one more INSERT in the rounds that have any. Between telemetry refreshes a poll is conditional
// (If-None-Match with the tag of the last whole answer): an agent with nothing new answers 304
// without a body, which stands for that answer. Appliances in maintenance are polled, but their
// transitions raise no alarm.
//
// Two replicas may poll one appliance in the same slot when membership changes around a stall
// (ADR 0006): a transition is recorded only by the replica whose UPDATE changes the row.

import type { AgentEvent, AgentStatus } from '../../../contract/agent-protocol.js';
import type { Transactor } from '../../db/transactor.js';
import { systemActor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { AuditService } from '../audit/audit.service.js';
import type { FleetRepo } from '../fleet/fleet.repo.js';
import type { FleetService } from '../fleet/fleet.service.js';
import type { HealthRepo, PolledAppliance, PollTarget } from './health.repo.js';
import { createPollTargets } from './health.targets.js';
import type { HealthSampler } from './health-history.service.js';

export interface HealthServiceDeps {
  repo: FleetRepo;
  healthRepo: HealthRepo;
  tx: Transactor;
  fleet: FleetService;
  audit: AuditService;
  clock: Clock;
  /** How often rounds run (a pause much longer than this means this replica just took over). */
  intervalMs: number;
  concurrency?: number;
  timeoutMs?: number;
  /** Latency, last_seen_online and system_data are written at most this often per appliance. */
  telemetryMs?: number;
  /** Called after the transaction recording an online/offline transition commits; never in maintenance. */
  onTransition?: ((e: ApplianceTransition) => void) | undefined;
  /** Where a failed round, poll or write is told (the server passes its own logger). */
  log: Logger;
  /** Health over time: a sample per appliance per 5-minute slot, written once per round. */
  sampler?: HealthSampler | undefined;
}

/** An appliance went online or offline (HealthServiceDeps.onTransition). */
export interface ApplianceTransition {
  online: boolean;
  appliance: { id: number; name: string; type: string };
  /** Why it is offline (the connection error or the agent's answer); empty when back online. */
  reason: string;
}

export const DEFAULT_TELEMETRY_MS = 60_000;

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

const DRIFT_CHECKED = new Set(['done', 'unsupported', 'mismatch']);

/** What a round acts on in a status answer (a 304 stands for the same). */
interface Observed {
  uuid: string;
  health: AgentStatus['health'];
  release: string | null;
  hash: string | null;
  revision: number | null;
  lastEventId: number | undefined;
}

function observe(status: AgentStatus): Observed {
  return {
    uuid: status.uuid,
    health: status.health,
    release: typeof status.release === 'string' ? status.release : null,
    hash: status.config?.hash ?? null,
    revision: status.config?.revision ?? null,
    lastEventId: typeof status.last_event_id === 'number' ? status.last_event_id : undefined,
  };
}
const FLUSH_ROWS = 1000;

export function createHealthService(deps: HealthServiceDeps) {
  const { repo, healthRepo, tx, fleet, audit, clock, log } = deps;
  const telemetryMs = deps.telemetryMs ?? DEFAULT_TELEMETRY_MS;
  /** When each appliance's telemetry was last written (this replica, since it polls it). */
  const telemetryAt = new Map<number, number>();
  /**
   * Each appliance's last whole status answer, for conditional polls: its tag and what a round
   * acts on (a few strings, not the whole answer: ~300 bytes an appliance).
   */
  const lastAnswer = new Map<number, { etag: string; seen: Observed }>();
  const targets = createPollTargets(healthRepo, deps.intervalMs);
  async function transition(row: PollTarget, online: boolean, reason: string) {
    let quiet = row.maintenance;
    const recorded = await tx.transaction(async (trx) => {
      const updated = await healthRepo.setOnline(trx, row.id, online, clock.now());
      // Removed meanwhile, or another replica recorded this transition already.
      if (!updated) return false;
      quiet = updated.maintenance; // as it is now, not as the round read it
      const kind = online ? 'appliance.online' : 'appliance.offline';
      await fleet.event(
        trx,
        row,
        kind,
        `appliance ${row.name} is ${online ? 'back online' : `offline: ${reason}`}${quiet ? ' (in maintenance)' : ''}`,
        online || quiet ? 'info' : 'warning',
        quiet ? { maintenance: true } : {},
      );
      await audit.record(trx, systemActor('fleet-health'), {
        action: kind,
        targetType: 'appliance',
        targetId: row.id,
        summary: `appliance ${row.name} went ${online ? 'online' : 'offline'}${online ? '' : ` (${reason})`}${quiet ? ' in maintenance' : ''}`,
      });
      return true;
    });
    row.online = online;
    row.status = online ? 'online' : 'offline';
    if (!recorded) return;
    row.maintenance = quiet;
    if (quiet || !deps.onTransition) return;
    try {
      deps.onTransition({ online, appliance: { id: row.id, name: row.name, type: row.type }, reason });
    } catch (err) {
      // A listener's failure must not stop the polling.
      log.warn({ err, appliance: row.id }, 'appliance transition listener failed');
    }
  }

  async function pullEvents(row: PollTarget, lastEventId: number) {
    let cursor = lastEventId < row.events_cursor ? 0 : row.events_cursor; // agent state was reset
    for (let i = 0; i < 5 && cursor < lastEventId; i++) {
      const res = await fleet.agentCall<{ events: AgentEvent[] }>(
        targets.agentOf(row),
        `agent/v1/events?after=${cursor}&limit=200`,
        {
          timeoutMs: deps.timeoutMs ?? 3000,
          lane: 'poll',
        },
      );
      if (res.status !== 200 || !Array.isArray(res.body?.events) || res.body.events.length === 0) break;
      await tx.transaction(async (trx) => {
        for (const e of res.body.events) {
          await repo.insertEvent(trx, {
            at: new Date(e.at),
            applianceId: row.id,
            applianceName: row.name,
            kind: String(e.kind).slice(0, 100),
            severity: ['info', 'warning', 'error'].includes(e.severity) ? e.severity : 'info',
            source: 'appliance',
            message: String(e.message),
            details: { agent_event_id: e.id, ...(e.details ?? {}) },
          });
          cursor = Math.max(cursor, e.id);
        }
        await healthRepo.setEventsCursor(trx, row.id, cursor);
      });
      row.events_cursor = cursor;
    }
  }

  type Seen = PolledAppliance;

  /** One UPDATE for many appliances: at 10,000 appliances a statement per poll would dominate. */
  async function flush(batch: Seen[]): Promise<void> {
    if (batch.length === 0) return;
    if (batch.length > FLUSH_ROWS) {
      // Bounded statements (PostgreSQL takes at most 65,535 parameters in one).
      for (let i = 0; i < batch.length; i += FLUSH_ROWS) await flush(batch.slice(i, i + FLUSH_ROWS));
      return;
    }
    await healthRepo.recordPolls(batch, clock.now(), tx.direct);
  }

  /** Drift: compare the running hash with the applied one; only ever moves from the state it read. */
  async function checkDrift(row: PollTarget, seen: Observed) {
    const running = seen.hash;
    if (!DRIFT_CHECKED.has(row.configuration_status) || !row.applied_hash) return;
    let next: { status: string; details: Record<string, unknown> } | undefined;
    if (running !== row.applied_hash && row.configuration_status !== 'mismatch') {
      next = {
        status: 'mismatch',
        details: {
          reason: 'the appliance runs a configuration other than the applied revision (changed locally?)',
          applied_revision: row.applied_revision,
          expected_hash: row.applied_hash,
          running_hash: running,
          running_revision: seen.revision,
          previous: (await repo.getAppliance(row.id))?.configuration_status_details ?? {},
        },
      };
    } else if (running === row.applied_hash && row.configuration_status === 'mismatch') {
      // Rare: read the details (not part of the round's projection) only now.
      const details = (await repo.getAppliance(row.id))?.configuration_status_details ?? {};
      const prev = (details as { previous?: Record<string, unknown> }).previous ?? {};
      next = {
        status: (prev as { unsupported?: unknown }).unsupported ? 'unsupported' : 'done',
        details: prev,
      };
    }
    if (!next) return;
    const change = next;
    const appliedHash = row.applied_hash;
    await tx.transaction(async (trx) => {
      // Conditional on what this poll read: an apply that ran meanwhile wins.
      const changed = await healthRepo.setConfigurationStatusIf(trx, row.id, change, {
        status: row.configuration_status,
        appliedHash,
      });
      if (!changed) return;
      await fleet.event(
        trx,
        row,
        change.status === 'mismatch' ? 'config.mismatch' : 'config.match',
        change.status === 'mismatch'
          ? `appliance ${row.name} runs a configuration other than revision ${row.applied_revision}`
          : `appliance ${row.name} runs revision ${row.applied_revision} again`,
        change.status === 'mismatch' ? 'warning' : 'info',
      );
    });
  }

  async function pollOne(row: PollTarget): Promise<Seen | undefined> {
    let seen: Observed | undefined;
    /** The whole answer, when the agent sent one (not on a 304). */
    let status: AgentStatus | undefined;
    let latency = 0;
    let reason = '';
    // Between telemetry refreshes, a poll asks whether anything the manager acts on changed
    // (AGENT_PROTOCOL.status is conditional): a 304 has no body to read, check or compare.
    const held = lastAnswer.get(row.id);
    const now = clock.now().getTime();
    const telemetryDue = now - (telemetryAt.get(row.id) ?? 0) >= telemetryMs;
    const ifNoneMatch = row.online && held && !telemetryDue ? held.etag : undefined;
    try {
      const res = await fleet.agentCall<AgentStatus>(targets.agentOf(row), 'agent/v1/status', {
        timeoutMs: deps.timeoutMs ?? 3000,
        lane: 'poll',
        ifNoneMatch,
      });
      latency = res.latencyMs;
      if (res.status === 304 && ifNoneMatch && held) seen = held.seen;
      else if (res.status === 200 && res.body && typeof res.body === 'object') {
        status = res.body;
        seen = observe(status);
        if (res.etag) lastAnswer.set(row.id, { etag: res.etag, seen });
        else lastAnswer.delete(row.id);
      } else reason = `agent answered ${res.status}`;
    } catch (err) {
      reason = (err as Error).message;
    }
    if (seen && row.uuid && seen.uuid !== row.uuid) {
      seen = undefined;
      reason = 'a different agent answers at this URL (uuid changed)';
    }
    const wasOnline = row.online;
    if (!seen) {
      telemetryAt.delete(row.id);
      lastAnswer.delete(row.id);
      if (row.online) await transition(row, false, reason);
      return undefined;
    }
    if (!row.online) await transition(row, true, '');
    if (status) deps.sampler?.offer(row.id, status, clock.now());
    await checkDrift(row, seen);
    if (seen.lastEventId !== undefined && seen.lastEventId !== row.events_cursor) {
      // Pulled again next poll, from the cursor last recorded.
      await pullEvents(row, seen.lastEventId).catch((err: unknown) => {
        log.warn({ err, appliance: row.id }, 'agent events not pulled');
      });
    }
    const state = seen.health === 'ok' ? 'online' : 'degraded';
    const changed =
      !wasOnline ||
      state !== row.status ||
      (seen.release !== null && seen.release !== row.release) ||
      seen.hash !== row.running_hash;
    // A whole answer to a conditional poll: the agent's tag moved, so something it counts as
    // significant changed (its running configuration, its events), even when the manager recorded
    // the new hash itself at the apply. Its report is written now, not at the next telemetry refresh.
    const tagMoved = ifNoneMatch !== undefined && status !== undefined;
    // Unchanged: latency and the load figures alone are not worth a row version every poll.
    if (!changed && !telemetryDue && !tagMoved) return undefined;
    // After a 304 the load figures are not read: the row keeps the ones it has.
    if (status) telemetryAt.set(row.id, now);
    return {
      id: row.id,
      status: state,
      latency: Math.round(latency * 100) / 100,
      release: seen.release,
      hash: seen.hash,
      systemData: status
        ? JSON.stringify({
            health: status.health,
            uptime_seconds: status.uptime_seconds,
            load: status.load,
            memory: status.memory,
            disk: status.disk,
            running_config: status.config,
          })
        : null,
    };
  }

  /** Appliances in the fleet last round that another replica polled (ADR 0006). */
  let others = new Set<number>();

  async function pollAll(owns: (applianceId: number) => boolean = () => true): Promise<{ polled: number }> {
    let all = await targets.refresh();
    // Taken over from another replica: online, status, running hash and events cursor are
    // written by the poller without a new poll_version, so this replica's cache of them may be
    // old. One full read before polling them (rare: membership changes).
    const before = others;
    const takenOver = before.size > 0 && all.some((r) => before.has(r.id) && owns(r.id));
    if (takenOver) all = await targets.refresh(true);
    let rows: PollTarget[] = [];
    others = new Set();
    for (const r of all) {
      if (owns(r.id)) rows.push(r);
      else others.add(r.id);
    }
    // The appliances taken over go first: they have not been polled since their replica went
    // silent, the others were polled an interval ago (the handover is not a round longer).
    if (takenOver) rows = [...rows.filter((r) => before.has(r.id)), ...rows.filter((r) => !before.has(r.id))];
    const owned = new Set(rows.map((r) => r.id));
    await targets.loadCredentials(rows);
    if (targets.credentialCount() > rows.length || telemetryAt.size > rows.length) {
      // Removed, deauthorized or handed to another replica: forget them.
      targets.forgetCredentialsExcept(owned);
      for (const id of telemetryAt.keys()) if (!owned.has(id)) telemetryAt.delete(id);
    }
    if (lastAnswer.size > rows.length) {
      for (const id of lastAnswer.keys()) if (!owned.has(id)) lastAnswer.delete(id);
    }
    deps.sampler?.forgetExcept(owned);
    const batch: Seen[] = [];
    // One line per round, not per appliance: a database that is down fails every poll at once.
    let failed = 0;
    let firstError: unknown;
    await eachLimited(rows, deps.concurrency ?? 32, async (row) => {
      const seen = await pollOne(row).catch((err: unknown) => {
        failed += 1;
        firstError ??= err;
        return undefined;
      });
      if (seen) batch.push(seen);
    });
    if (failed > 0) log.warn({ err: firstError, failed }, 'health round: appliances not polled');
    try {
      await flush(batch);
      for (const b of batch) targets.written(b);
    } catch (err) {
      // Not written: write these again next round rather than a minute later.
      for (const b of batch) telemetryAt.delete(b.id);
      log.warn(
        { err, appliances: batch.length },
        'health round: results not written; written again next round',
      );
    }
    // The round's health samples: one INSERT (per 1,000), none in most rounds of a small fleet.
    await deps.sampler?.flush().catch((err: unknown) => {
      log.warn({ err }, 'health round: health samples not written; taken again next round');
    });
    return { polled: rows.length };
  }

  return {
    /** One round over the authorized appliances `owns` accepts (all of them by default). */
    pollAll,
    pollOne,
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
