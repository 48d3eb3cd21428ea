// SQL of the fleet summary (the console's dashboard): aggregates only, computed by the database
// (GROUP BY and FILTER), never rows loaded to be counted. It reads the tables of the fleet,
// configuration, upgrades and identity modules, read-only: a summary belongs to none of them, and
// each figure is one indexed or single-pass query (docs/benchmarks.md: 10,000 appliances).

import { type Kysely, sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { Database } from '../../db/schema.js';
import type { DbHandle } from '../../db/transactor.js';
import '../../db/tables/fleet.js';

/**
 * Appliances of one configuration status in one group (null: none), counted by state (each
 * appliance in one state).
 */
export interface StateCountRow {
  configuration_status: string;
  group_id: number | null;
  total: number;
  online: number;
  degraded: number;
  offline: number;
  maintenance: number;
  unauthorized: number;
  /** Authorized and answering, maintenance or not: what the transitions in fleet_events move. */
  answering: number;
}

/** Why an appliance needs someone, worst first (the order of ATTENTION_RANK). */
export type ApplianceAttention =
  | 'offline'
  | 'configuration_error'
  | 'degraded'
  | 'out_of_sync'
  | 'unauthorized';

export interface AttentionRow {
  id: number;
  name: string;
  type: string;
  reason: ApplianceAttention;
  last_seen_online: Date | string | null;
  details: Record<string, unknown> | null;
}

export interface GroupRow {
  id: number;
  name: string;
  revision: number;
}

export interface UpgradeRow {
  id: number;
  appliance_id: number;
  appliance_name: string;
  version: string;
  status: string;
  started: Date | string;
  finished: Date | string | null;
}

export interface AlertRow {
  /** bigint: a number on pg (int8 parser), a bigint or string elsewhere. */
  id: number | bigint | string;
  at: Date | string;
  appliance_id: number | null;
  appliance_name: string | null;
  kind: string;
  severity: string;
  message: string;
}

/** The transitions of one hour (hour = whole hours since 1970-01-01T00:00Z). */
export interface HourRow {
  hour: number;
  /** `appliance.online` transitions. */
  up: number;
  /** `appliance.offline` transitions. */
  down: number;
  /** `appliance.authorized` events. */
  authorized: number;
}

export interface ExpiringTokenRow {
  id: number;
  name: string;
  expires_at: Date | string;
  owner: string;
  total: number;
}

// The state of an appliance: exactly one of these per row, in this order of precedence.
const UNAUTHORIZED = sql`NOT authorized`;
const MAINTENANCE = sql`authorized AND maintenance`;
const ACTIVE = sql`authorized AND NOT maintenance`;
// The predicates of the partial indexes of migration 0380, word for word.
const TRANSITION = sql`kind IN ('appliance.online', 'appliance.offline', 'appliance.authorized')`;
const ALERT = sql`severity IN ('warning', 'error')`;
const NEEDS_ATTENTION = sql`(NOT authorized OR configuration_status IN ('error', 'mismatch')
    OR (NOT maintenance AND (NOT online OR status = 'degraded')))`;

export function createSummaryRepo(db: Kysely<Database>) {
  return {
    /**
     * One pass over the appliances: by configuration status and group, and within each by
     * state. The groups with a member `pending` are the rollouts under way (their names:
     * `groups`).
     */
    async stateCounts(d: DbHandle = db): Promise<StateCountRow[]> {
      const r = await sql<StateCountRow>`SELECT configuration_status, group_id,
          count(*)::int AS total,
          count(*) FILTER (WHERE ${ACTIVE} AND online AND status <> 'degraded')::int AS online,
          count(*) FILTER (WHERE ${ACTIVE} AND online AND status = 'degraded')::int AS degraded,
          count(*) FILTER (WHERE ${ACTIVE} AND NOT online)::int AS offline,
          count(*) FILTER (WHERE ${MAINTENANCE})::int AS maintenance,
          count(*) FILTER (WHERE ${UNAUTHORIZED})::int AS unauthorized,
          count(*) FILTER (WHERE authorized AND online)::int AS answering
        FROM appliances GROUP BY configuration_status, group_id`.execute(queryable(d));
      return r.rows;
    },

    /** Names and revisions of some configuration groups. */
    async groups(ids: number[], d: DbHandle = db): Promise<GroupRow[]> {
      if (ids.length === 0) return [];
      return queryable(d)
        .selectFrom('config_groups')
        .select(['id', 'name', 'revision'])
        .where('id', 'in', ids)
        .orderBy('name')
        .execute();
    },

    /**
     * Appliances that need someone, worst first, then by name: offline (not in maintenance), a
     * configuration the appliance refused, degraded health, running another configuration than
     * the one applied, and waiting for authorization. At most `limit`.
     */
    async attention(limit: number, d: DbHandle = db): Promise<AttentionRow[]> {
      const r = await sql<AttentionRow>`SELECT id, name, type, reason, last_seen_online, details FROM (
          SELECT id, name, type, last_seen_online, configuration_status_details AS details,
            CASE
              WHEN ${ACTIVE} AND NOT online THEN 'offline'
              WHEN configuration_status = 'error' THEN 'configuration_error'
              WHEN ${ACTIVE} AND status = 'degraded' THEN 'degraded'
              WHEN configuration_status = 'mismatch' THEN 'out_of_sync'
              WHEN ${UNAUTHORIZED} THEN 'unauthorized'
            END AS reason
          FROM appliances
          WHERE ${NEEDS_ATTENTION}
        ) AS a
        WHERE reason IS NOT NULL
        ORDER BY CASE reason
            WHEN 'offline' THEN 1 WHEN 'configuration_error' THEN 2 WHEN 'degraded' THEN 3
            WHEN 'out_of_sync' THEN 4 ELSE 5 END, name
        LIMIT ${limit}`.execute(queryable(d));
      return r.rows;
    },

    /** The upgrade under way (at most one: a unique index), then those finished since `since`. */
    async upgrades(since: Date, limit: number, d: DbHandle = db): Promise<UpgradeRow[]> {
      // The name by primary key for the few rows kept: a join let the planner hash every appliance.
      const r = await sql<UpgradeRow>`SELECT u.id, u.appliance_id,
          coalesce((SELECT a.name FROM appliances a WHERE a.id = u.appliance_id), '') AS appliance_name,
          u.version, u.status, u.started, u.finished
        FROM fleet_upgrades u
        WHERE u.finished IS NULL OR u.finished >= ${since}
        ORDER BY (u.finished IS NULL) DESC, u.finished DESC, u.id DESC
        LIMIT ${limit}`.execute(queryable(d));
      return r.rows;
    },

    /** The newest `limit` warnings and errors of the fleet since `since` (the at index, backwards). */
    async recentAlerts(since: Date, limit: number, d: DbHandle = db): Promise<AlertRow[]> {
      const r = await sql<AlertRow>`SELECT id, at, appliance_id, appliance_name, kind, severity, message
        FROM fleet_events
        WHERE at >= ${since} AND ${ALERT}
        ORDER BY at DESC, id DESC
        LIMIT ${limit}`.execute(queryable(d));
      return r.rows;
    },

    /** How many warnings and errors the fleet recorded since `since` (a partial index). */
    async alertCount(since: Date, d: DbHandle = db): Promise<number> {
      const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM fleet_events
        WHERE at >= ${since} AND ${ALERT}`.execute(queryable(d));
      return r.rows[0]?.n ?? 0;
    },

    /** Online and offline transitions and authorizations per hour since `since` (a partial index). */
    async transitionsByHour(since: Date, d: DbHandle = db): Promise<HourRow[]> {
      const r = await sql<HourRow>`SELECT floor(date_part('epoch', at) / 3600)::int AS hour,
          count(*) FILTER (WHERE kind = 'appliance.online')::int AS up,
          count(*) FILTER (WHERE kind = 'appliance.offline')::int AS down,
          count(*) FILTER (WHERE kind = 'appliance.authorized')::int AS authorized
        FROM fleet_events
        WHERE at >= ${since} AND ${TRANSITION}
        GROUP BY 1`.execute(queryable(d));
      return r.rows;
    },

    /**
     * Enabled, unrevoked tokens (and API keys) of active users that expire after `now` and by
     * `horizon`, soonest first: the first `limit`, each with the total. Only `ownerId`'s when given.
     */
    async expiringTokens(
      now: Date,
      horizon: Date,
      ownerId: number | null,
      limit: number,
      d: DbHandle = db,
    ): Promise<ExpiringTokenRow[]> {
      let q = queryable(d)
        .selectFrom('api_tokens as t')
        .innerJoin('users as u', 'u.id', 't.owner_id')
        .select([
          't.id',
          't.name',
          't.expires_at',
          'u.username as owner',
          sql<number>`count(*) OVER ()::int`.as('total'),
        ])
        .where('t.expires_at', '>', now)
        .where('t.expires_at', '<=', horizon)
        .where('t.revoked_at', 'is', null)
        .where('t.enabled', '=', true)
        .where('u.deleted_at', 'is', null)
        .where('u.is_active', '=', true);
      if (ownerId !== null) q = q.where('t.owner_id', '=', ownerId);
      const rows = await q.orderBy('t.expires_at').orderBy('t.id').limit(limit).execute();
      return rows as ExpiringTokenRow[];
    },
  };
}

export type SummaryRepo = ReturnType<typeof createSummaryRepo>;
