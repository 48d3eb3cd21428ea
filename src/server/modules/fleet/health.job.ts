// Health polling: every interval, ask each authorized appliance's agent for its status, with a
// bounded number of calls in flight. Records online/offline transitions (audited, and listed
// as activities), detects configuration drift (`mismatch`), and pulls the agent's own events.
// A round that overruns the interval delays the next one rather than piling up.

import { sql } from 'kysely';
import type { AgentEvent, AgentStatus } from '../../../contract/fleet-fields.js';
import type { Clock } from '../../shared/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import { systemContext } from '../audit/audit.service.js';
import type { ApplianceRow, FleetRepo } from './fleet.repo.js';
import type { FleetService } from './fleet.service.js';

export interface HealthJobDeps {
  repo: FleetRepo;
  fleet: FleetService;
  audit: AuditService;
  clock: Clock;
  intervalMs: number;
  /** Runs a round only on the replica holding the jobs lease, recorded in job_runs (ModuleContext.leader). */
  asLeader: (fn: () => Promise<void>) => Promise<unknown>;
  concurrency?: number;
  timeoutMs?: number;
}

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

export function createHealthJob(deps: HealthJobDeps) {
  const { repo, fleet, audit, clock } = deps;
  const db = repo.db;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function transition(row: ApplianceRow, online: boolean, reason: string) {
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('appliances')
        .set({ online, status: online ? 'online' : 'offline', updated: clock.now() })
        .where('id', '=', row.id)
        .execute();
      const kind = online ? 'appliance.online' : 'appliance.offline';
      await fleet.event(
        trx,
        row,
        kind,
        `appliance ${row.name} is ${online ? 'back online' : `offline: ${reason}`}`,
        online ? 'info' : 'warning',
      );
      await audit.record(trx, systemContext('fleet-health'), {
        action: kind,
        targetType: 'appliance',
        targetId: row.id,
        summary: `appliance ${row.name} went ${online ? 'online' : 'offline'}${online ? '' : ` (${reason})`}`,
      });
    });
  }

  async function pullEvents(row: ApplianceRow, lastEventId: number) {
    let cursor = lastEventId < row.events_cursor ? 0 : row.events_cursor; // agent state was reset
    for (let i = 0; i < 5 && cursor < lastEventId; i++) {
      const res = await fleet.agentCall<{ events: AgentEvent[] }>(
        row,
        `agent/v1/events?after=${cursor}&limit=200`,
        {
          timeoutMs: deps.timeoutMs ?? 3000,
        },
      );
      if (res.status !== 200 || !Array.isArray(res.body?.events) || res.body.events.length === 0) break;
      await db.transaction().execute(async (trx) => {
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
        await trx.updateTable('appliances').set({ events_cursor: cursor }).where('id', '=', row.id).execute();
      });
    }
  }

  interface Seen {
    id: number;
    status: string;
    latency: number;
    release: string | null;
    hash: string | null;
    systemData: string;
  }

  /** One UPDATE for many appliances: at 10,000 appliances a statement per poll would dominate. */
  async function flush(batch: Seen[]): Promise<void> {
    if (batch.length === 0) return;
    const now = clock.now();
    const values = sql.join(
      batch.map(
        (b) =>
          sql`(${b.id}::int, ${b.status}::text, ${b.latency}::float8, ${b.release}::text, ${b.hash}::text, ${b.systemData}::jsonb)`,
      ),
    );
    await sql`UPDATE appliances AS a
      SET online = true, status = v.status, latency = v.latency, release = COALESCE(v.release, a.release),
          running_hash = v.hash, system_data = v.system_data, last_seen_online = ${now}, last_polled = ${now}
      FROM (VALUES ${values}) AS v(id, status, latency, release, hash, system_data)
      WHERE a.id = v.id AND a.authorized`.execute(db);
  }

  /** Drift: compare the running hash with the applied one; only ever moves from the state it read. */
  async function checkDrift(row: ApplianceRow, status: AgentStatus) {
    const running = status.config?.hash ?? null;
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
          running_revision: status.config?.revision ?? null,
          previous: row.configuration_status_details,
        },
      };
    } else if (running === row.applied_hash && row.configuration_status === 'mismatch') {
      const prev =
        (row.configuration_status_details as { previous?: Record<string, unknown> }).previous ?? {};
      next = {
        status: (prev as { unsupported?: unknown }).unsupported ? 'unsupported' : 'done',
        details: prev,
      };
    }
    if (!next) return;
    const change = next;
    await db.transaction().execute(async (trx) => {
      // Conditional on what this poll read: an apply that ran meanwhile wins.
      const res = await trx
        .updateTable('appliances')
        .set({
          configuration_status: change.status,
          configuration_status_details: JSON.stringify(change.details),
        })
        .where('id', '=', row.id)
        .where('configuration_status', '=', row.configuration_status)
        .where('applied_hash', '=', row.applied_hash)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return;
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

  async function pollOne(row: ApplianceRow): Promise<Seen | undefined> {
    let status: AgentStatus | undefined;
    let latency = 0;
    let reason = '';
    try {
      const res = await fleet.agentCall<AgentStatus>(row, 'agent/v1/status', {
        timeoutMs: deps.timeoutMs ?? 3000,
      });
      latency = res.latencyMs;
      if (res.status === 200 && res.body && typeof res.body === 'object') status = res.body;
      else reason = `agent answered ${res.status}`;
    } catch (err) {
      reason = (err as Error).message;
    }
    if (status && row.uuid && status.uuid !== row.uuid) {
      status = undefined;
      reason = 'a different agent answers at this URL (uuid changed)';
    }
    if (!status) {
      if (row.online) await transition(row, false, reason);
      return undefined;
    }
    if (!row.online) await transition(row, true, '');
    await checkDrift(row, status);
    if (typeof status.last_event_id === 'number' && status.last_event_id !== row.events_cursor) {
      await pullEvents(row, status.last_event_id).catch(() => undefined);
    }
    return {
      id: row.id,
      status: status.health === 'ok' ? 'online' : 'degraded',
      latency: Math.round(latency * 100) / 100,
      release: typeof status.release === 'string' ? status.release : null,
      hash: status.config?.hash ?? null,
      systemData: JSON.stringify({
        health: status.health,
        uptime_seconds: status.uptime_seconds,
        load: status.load,
        memory: status.memory,
        disk: status.disk,
        running_config: status.config,
      }),
    };
  }

  async function pollAll(): Promise<void> {
    const rows = await repo.authorizedAppliances();
    let batch: Seen[] = [];
    await eachLimited(rows, deps.concurrency ?? 32, async (row) => {
      const seen = await pollOne(row).catch(() => undefined);
      if (!seen) return;
      batch.push(seen);
      if (batch.length >= 200) {
        const out = batch;
        batch = [];
        await flush(out).catch(() => undefined);
      }
    });
    await flush(batch);
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      running = deps
        .asLeader(pollAll)
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, deps.intervalMs);
    timer.unref?.();
  }

  return {
    pollAll,
    pollOne,
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

export type HealthJob = ReturnType<typeof createHealthJob>;
