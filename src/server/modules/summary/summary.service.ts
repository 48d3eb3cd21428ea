// The fleet at a glance, for the console's dashboard and for scripts: appliance counts by state
// and configuration status, what needs attention, the fleet's state over the last 24 hours,
// recent alerts, configuration rollouts and upgrades under way, and tokens about to expire.
// Every figure is an aggregate of the database (summary.repo.ts). Sections the caller may not read
// (upgrades, configuration groups, tokens) are null, never an error: the summary needs only
// `appliances:read`.

import type { Permission } from '../../../contract/permissions.js';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import type { CONFIG_STATUSES } from '../fleet/fleet.schemas.js';
import type { ApplianceAttention, HourRow, SummaryRepo } from './summary.repo.js';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
/** Hours the fleet-state series reaches back: whole hours, so at least a day. */
export const SERIES_HOURS = 24;
const ATTENTION_LIMIT = 20;
const RECENT_ALERTS = 10;
const RECENT_UPGRADES = 5;
const EXPIRING_TOKENS = 5;

type ConfigStatus = (typeof CONFIG_STATUSES)[number];

export const STATES = ['online', 'degraded', 'offline', 'maintenance', 'unauthorized'] as const;
export type State = (typeof STATES)[number];

export interface SummaryServiceDeps {
  repo: SummaryRepo;
  clock: Clock;
  /** `token_expiry_warning_days` of the system alerting settings (0: no warnings). */
  tokenWarningDays: () => Promise<number>;
  /** The configuration statuses an appliance can have, each reported (0 when none). */
  configurationStatuses: typeof CONFIG_STATUSES;
  /**
   * How old the fleet-wide figures may be (ms): the last count is served while younger, and
   * recounted in the background while dashboards ask. 0: counted for every request (tests).
   */
  freshMs: number;
}

/** With nobody asking for this long, the figures are no longer kept fresh (nor served stale). */
const WATCHED_MS = 60_000;

/** One thing that needs someone, with what to open: an appliance, the upgrades page, a token. */
export interface AttentionItem {
  kind: string;
  severity: 'error' | 'warning' | 'info';
  target_type: 'appliance' | 'upgrade' | 'token';
  target_id: number;
  target_name: string;
  message: string;
  since: string | null;
}

const SEVERITY_RANK = { error: 0, warning: 1, info: 2 } as const;

export interface SeriesPoint {
  at: string;
  online: number;
  offline: number;
}

/**
 * The number of authorized appliances answering (and not) at each whole hour of the last
 * `hours`, oldest first, ending with `now`: walked back from the counts of now through the
 * transitions recorded per hour (an `appliance.online` event means one fewer answered before
 * it, `appliance.offline` one more, `appliance.authorized` one fewer authorized appliance).
 * Appliances removed within the window are not counted before their removal (no event says
 * whether they answered).
 */
export function fleetStateSeries(
  now: Date,
  current: { authorized: number; answering: number },
  byHour: readonly HourRow[],
  hours = SERIES_HOURS,
): SeriesPoint[] {
  const seen = new Map(byHour.map((h) => [h.hour, h]));
  const nowHour = Math.floor(now.getTime() / HOUR);
  let answering = current.answering;
  let authorized = current.authorized;
  const point = (at: Date): SeriesPoint => {
    const online = Math.min(Math.max(answering, 0), Math.max(authorized, 0));
    return { at: at.toISOString(), online, offline: Math.max(authorized - online, 0) };
  };
  const points = [point(now)];
  // Each step undoes the hour's transitions: the state at the start of that hour.
  for (let h = nowHour; h >= nowHour - hours; h--) {
    const t = seen.get(h);
    if (t) {
      answering += t.down - t.up;
      authorized -= t.authorized;
    }
    points.push(point(new Date(h * HOUR)));
  }
  return points.reverse();
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

const ATTENTION: Record<
  ApplianceAttention,
  { kind: string; severity: 'error' | 'warning' | 'info'; says: string }
> = {
  offline: { kind: 'appliance.offline', severity: 'error', says: 'does not answer' },
  configuration_error: {
    kind: 'configuration.error',
    severity: 'error',
    says: 'refused its configuration or could not be reached to apply it',
  },
  degraded: { kind: 'appliance.degraded', severity: 'warning', says: 'reports a health problem' },
  out_of_sync: {
    kind: 'configuration.out_of_sync',
    severity: 'warning',
    says: 'runs another configuration than the one applied',
  },
  unauthorized: { kind: 'appliance.unauthorized', severity: 'info', says: 'waits for authorization' },
};

export function createSummaryService(deps: SummaryServiceDeps) {
  const { repo, clock } = deps;

  async function tokensSection(now: Date, ownerId: number | null) {
    const days = await deps.tokenWarningDays();
    if (!(days > 0)) return { warning_days: 0, expiring: 0, soonest: [] };
    const rows = await repo.expiringTokens(
      now,
      new Date(now.getTime() + days * DAY),
      ownerId,
      EXPIRING_TOKENS,
    );
    return {
      warning_days: days,
      expiring: rows[0]?.total ?? 0,
      soonest: rows.map((r) => ({
        id: r.id,
        name: r.name,
        owner: r.owner,
        expires_at: iso(r.expires_at) as string,
      })),
    };
  }

  /** The fleet-wide figures: the same for every caller. */
  async function fleetPart(now: Date) {
    const seriesSince = new Date((Math.floor(now.getTime() / HOUR) - SERIES_HOURS) * HOUR);
    const daySince = new Date(now.getTime() - DAY);
    const [counts, attention, hours, alertCount, recentAlerts, upgrades] = await Promise.all([
      repo.stateCounts(),
      repo.attention(ATTENTION_LIMIT),
      repo.transitionsByHour(seriesSince),
      repo.alertCount(daySince),
      repo.recentAlerts(daySince, RECENT_ALERTS),
      repo.upgrades(daySince, RECENT_UPGRADES),
    ]);

    const byState = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<State, number>;
    const byConfig = Object.fromEntries(deps.configurationStatuses.map((s) => [s, 0])) as Record<
      ConfigStatus,
      number
    >;
    let total = 0;
    let answering = 0;
    // Groups with a member still pending: an apply under way. Their members by status.
    const members = new Map<number, Record<string, number>>();
    for (const c of counts) {
      total += c.total;
      answering += c.answering;
      for (const s of STATES) byState[s] += c[s];
      const status = c.configuration_status as ConfigStatus;
      byConfig[status] = (byConfig[status] ?? 0) + c.total;
      if (c.group_id !== null) {
        const m = members.get(c.group_id) ?? {};
        m[c.configuration_status] = (m[c.configuration_status] ?? 0) + c.total;
        members.set(c.group_id, m);
      }
    }
    const active = [...members].filter(([, m]) => (m.pending ?? 0) > 0);
    const rollouts = (await repo.groups(active.map(([id]) => id))).map((g) => {
      const by = members.get(g.id) ?? {};
      return {
        group_id: g.id,
        group_name: g.name,
        revision: g.revision,
        total: Object.values(by).reduce((a, n) => a + n, 0),
        by_status: by,
      };
    });

    const upgradeOut = upgrades.map((u) => ({
      id: u.id,
      appliance_id: u.appliance_id,
      appliance_name: u.appliance_name,
      version: u.version,
      status: u.status,
      started: iso(u.started) as string,
      finished: iso(u.finished),
    }));

    const applianceNeeds: AttentionItem[] = attention.map((a) => {
      const what = ATTENTION[a.reason];
      const reason = (a.details as { reason?: unknown } | null)?.reason;
      return {
        kind: what.kind,
        severity: what.severity,
        target_type: 'appliance',
        target_id: a.id,
        target_name: a.name,
        message:
          a.reason === 'configuration_error' && typeof reason === 'string'
            ? `${a.name} ${what.says}: ${reason}`.slice(0, 300)
            : `${a.name} ${what.says}`,
        since: a.reason === 'offline' ? iso(a.last_seen_online) : null,
      };
    });
    // The newest upgrade of each appliance comes first: an older failure fixed since is left out.
    const upgradeNeeds: AttentionItem[] = [];
    const latest = new Set<number>();
    for (const u of upgradeOut) {
      if (latest.has(u.appliance_id)) continue;
      latest.add(u.appliance_id);
      if (u.status !== 'error') continue;
      upgradeNeeds.push({
        kind: 'upgrade.failed',
        severity: 'error',
        target_type: 'upgrade',
        target_id: u.appliance_id,
        target_name: u.appliance_name,
        message: `the upgrade of ${u.appliance_name} to ${u.version} failed`,
        since: u.finished,
      });
    }

    const current = upgradeOut.filter((u) => u.finished === null);
    return {
      generated_at: now.toISOString(),
      appliances: { total, by_state: byState, by_configuration_status: byConfig },
      applianceNeeds,
      upgradeNeeds,
      fleet_state: fleetStateSeries(now, { authorized: total - byState.unauthorized, answering }, hours),
      alerts: {
        last_24h: alertCount,
        recent: recentAlerts.map((e) => ({
          id: Number(e.id),
          at: iso(e.at) as string,
          appliance_id: e.appliance_id,
          appliance_name: e.appliance_name,
          kind: e.kind,
          // The query reads warnings and errors only.
          severity: e.severity as 'warning' | 'error',
          message: e.message,
        })),
      },
      rollouts,
      upgrades: { in_flight: current.length, current: current[0] ?? null, recent: upgradeOut },
    };
  }

  // Counting the fleet takes a few hundred ms of database time at 10,000 appliances on the
  // embedded database (aggregates over the appliances and a day of events), and a dashboard
  // needs figures a few seconds old at most. So the last count is kept (with its `generated_at`):
  // - younger than `freshMs`, it is served as it is;
  // - older, but asked for within WATCHED_MS, it is served once more while a new count runs;
  // - while anyone asked within WATCHED_MS, it is counted again every `freshMs` in the
  //   background, so a dashboard refreshing every 10 s gets figures at most `freshMs` old and
  //   never waits for a count;
  // - else (nobody watching), the request waits for a new count.
  // Requests that arrive while a count runs share it. Each replica keeps its own.
  type FleetPart = Awaited<ReturnType<typeof fleetPart>>;
  let counting: Promise<FleetPart> | undefined;
  let last: { at: number; part: FleetPart } | undefined;
  let askedAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;

  function count(): Promise<FleetPart> {
    counting ??= fleetPart(clock.now())
      .then((part) => {
        last = { at: performance.now(), part };
        return part;
      })
      .finally(() => {
        counting = undefined;
      });
    return counting;
  }

  function keepFresh() {
    if (timer || deps.freshMs <= 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (performance.now() - askedAt > WATCHED_MS) return; // nobody watching: stop
      // A failed background count keeps the last one; the next request that must wait sees the error.
      count().then(keepFresh, keepFresh);
    }, deps.freshMs);
    timer.unref();
  }

  function sharedFleetPart(): Promise<FleetPart> {
    const now = performance.now();
    const watched = now - askedAt <= WATCHED_MS;
    askedAt = now;
    if (deps.freshMs <= 0) return count();
    keepFresh();
    if (last && (now - last.at < deps.freshMs || watched)) {
      if (now - last.at >= deps.freshMs) void count().catch(() => undefined);
      return Promise.resolve(last.part);
    }
    return count();
  }

  return {
    /** Stops keeping the figures fresh (the manager closes). */
    close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      askedAt = Number.NEGATIVE_INFINITY;
    },
    async get(actor: Actor) {
      const can = (p: Permission) => actor.principal?.permissions.has(p) === true;
      // Admins see every user's tokens (as in the token list); others their own.
      const ownerId = can('users:write') ? null : (actor.principal?.userId ?? -1);
      const [fleet, tokens] = await Promise.all([
        sharedFleetPart(),
        can('tokens:read') ? tokensSection(clock.now(), ownerId) : undefined,
      ]);
      const upgrades = can('upgrades:read');
      const needs = [...fleet.applianceNeeds, ...(upgrades ? fleet.upgradeNeeds : [])];
      for (const t of tokens?.soonest ?? []) {
        needs.push({
          kind: 'token.expiring',
          severity: 'warning',
          target_type: 'token',
          target_id: t.id,
          target_name: t.name,
          message: `API token "${t.name}" of ${t.owner} expires on ${t.expires_at}`,
          since: null,
        });
      }
      needs.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
      return {
        generated_at: fleet.generated_at,
        appliances: fleet.appliances,
        attention: needs,
        fleet_state: fleet.fleet_state,
        alerts: fleet.alerts,
        rollouts: can('configuration:read') ? fleet.rollouts : null,
        upgrades: upgrades ? fleet.upgrades : null,
        tokens: tokens ?? null,
      };
    },
  };
}

export type SummaryService = ReturnType<typeof createSummaryService>;
