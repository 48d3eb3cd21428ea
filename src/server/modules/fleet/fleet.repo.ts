// Fleet queries: the appliance registry, the activities (fleet_events) and the manager's pairing
// key. Rows or undefined; never HTTP errors. Configuration groups and revisions are in
// config.repo.ts, the health round's reads and writes in health.repo.ts.
import { type Insertable, type Kysely, type RawBuilder, type Selectable, sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { Database } from '../../db/schema.js';
import type {
  AppliancesTable,
  ConfigGroupsTable,
  FleetEventsTable,
  FleetIdentityTable,
} from '../../db/tables/fleet.js';
import type { DbHandle } from '../../db/transactor.js';
import type { ApplianceOrderField, ApplianceState } from './fleet.states.js';
import '../../db/tables/fleet.js';

export type ApplianceRow = Selectable<AppliancesTable>;
export type GroupRow = Selectable<ConfigGroupsTable>;
export type EventRow = Selectable<FleetEventsTable>;
export type ApplianceWithGroup = ApplianceRow & { group_name: string | null; group_kind: string | null };
export type ManagerIdentityRow = Selectable<FleetIdentityTable>;

export interface ApplianceListFilter {
  groupId?: number | undefined;
  type?: string | undefined;
  /** A LIKE pattern, wildcards of the search text escaped. */
  search?: string | undefined;
  authorized?: boolean | undefined;
  online?: boolean | undefined;
  states?: readonly ApplianceState[] | undefined;
  configurationStatus?: string | undefined;
  groupName?: string | undefined;
  order?: readonly { field: ApplianceOrderField; direction: 'asc' | 'desc' }[] | undefined;
}

// Each appliance is in exactly one state, by this precedence (fleet.states.ts `stateOf`, and the
// summary's counts in summary.repo.ts, say the same).
const STATE_SQL: Record<ApplianceState, RawBuilder<unknown>> = {
  unauthorized: sql`NOT a.authorized`,
  maintenance: sql`a.authorized AND a.maintenance`,
  offline: sql`a.authorized AND NOT a.maintenance AND NOT a.online`,
  degraded: sql`a.authorized AND NOT a.maintenance AND a.online AND a.status = 'degraded'`,
  online: sql`a.authorized AND NOT a.maintenance AND a.online AND a.status <> 'degraded'`,
};

// The sort keys of the list. `state` sorts in the order of APPLIANCE_STATES; `release` as
// numbers, part by part (5.10.0 after 5.9.1).
const ORDER_SQL: Record<Exclude<ApplianceOrderField, 'id'>, RawBuilder<unknown>> = {
  name: sql`a.name`,
  type: sql`a.type`,
  state: sql`CASE WHEN NOT a.authorized THEN 5 WHEN a.maintenance THEN 4 WHEN NOT a.online THEN 3
    WHEN a.status = 'degraded' THEN 2 ELSE 1 END`,
  last_seen_online: sql`a.last_seen_online`,
  latency: sql`CASE WHEN a.online THEN a.latency END`,
  // The runs of digits as a numeric array (`5.10.0-rc2` is {5,10,0,2}); no release, or one
  // without digits, is NULL. One expression per row, no subquery.
  release: sql`string_to_array(
    nullif(btrim(regexp_replace(a.release, '[^0-9]+', '.', 'g'), '.'), ''), '.')::numeric[]`,
  group_name: sql`g.name`,
  configuration_status: sql`a.configuration_status`,
  created: sql`a.created`,
};

/** What the activities list filters on. */
export interface EventFilter {
  applianceId?: number;
  applianceName?: string;
  kind?: string;
  severity?: string;
  since?: string;
  until?: string;
}

/** Where a keyset batch of activities resumes: the last row's time (PostgreSQL's text) and id. */
export interface EventKey {
  at: string;
  id: number | string;
}

export function createFleetRepo(db: Kysely<Database>) {
  const appliancesWithGroup = (d: DbHandle) =>
    queryable(d)
      .selectFrom('appliances as a')
      .leftJoin('config_groups as g', 'g.id', 'a.group_id')
      .selectAll('a')
      .select(['g.name as group_name', 'g.kind as group_kind']);

  /**
   * The appliances a list (or an export) with this filter covers: every filter of the list is
   * applied here and nowhere else. `search` is a LIKE pattern (the caller escapes it) matched
   * against the name, the URL and the reported host name; `states` are ORed.
   */
  function filteredAppliances(d: DbHandle, filter: ApplianceListFilter) {
    let q = queryable(d).selectFrom('appliances as a');
    if (filter.online !== undefined) q = q.where('a.online', '=', filter.online);
    if (filter.configurationStatus) q = q.where('a.configuration_status', '=', filter.configurationStatus);
    if (filter.groupName) {
      const name = filter.groupName;
      q = q.where('a.group_id', 'in', (eb) =>
        eb.selectFrom('config_groups').select('id').where('name', '=', name),
      );
    }
    if (filter.groupId !== undefined) q = q.where('a.group_id', '=', filter.groupId);
    if (filter.type) q = q.where('a.type', '=', filter.type);
    if (filter.authorized !== undefined) q = q.where('a.authorized', '=', filter.authorized);
    if (filter.states && filter.states.length > 0) {
      q = q.where(
        sql<boolean>`(${sql.join(
          filter.states.map((s) => sql`(${STATE_SQL[s]})`),
          sql` OR `,
        )})`,
      );
    }
    if (filter.search) {
      const p = filter.search;
      q = q.where((eb) =>
        eb.or([eb('a.name', 'ilike', p), eb('a.url', 'ilike', p), eb('a.hostname', 'ilike', p)]),
      );
    }
    return q;
  }

  /** The activities a list (or an export) with this filter covers. */
  function filteredEvents(filter: EventFilter) {
    let q = db.selectFrom('fleet_events');
    if (filter.applianceId !== undefined) q = q.where('appliance_id', '=', filter.applianceId);
    if (filter.applianceName) q = q.where('appliance_name', '=', filter.applianceName);
    if (filter.kind) q = q.where('kind', '=', filter.kind);
    if (filter.severity) q = q.where('severity', '=', filter.severity);
    if (filter.since) q = q.where('at', '>=', new Date(filter.since));
    if (filter.until) q = q.where('at', '<', new Date(filter.until));
    return q;
  }

  return {
    async getAppliance(id: number, d: DbHandle = db): Promise<ApplianceWithGroup | undefined> {
      return (await appliancesWithGroup(d).where('a.id', '=', id).executeTakeFirst()) as
        | ApplianceWithGroup
        | undefined;
    },
    async getApplianceByName(name: string, d: DbHandle = db): Promise<ApplianceWithGroup | undefined> {
      return (await appliancesWithGroup(d).where('a.name', '=', name).executeTakeFirst()) as
        | ApplianceWithGroup
        | undefined;
    },
    /**
     * The appliance list (filters: `filteredAppliances`). The order is the caller's terms, then
     * the id, so equal keys never swap between pages.
     */
    async listAppliances(
      filter: ApplianceListFilter,
      limit: number,
      offset: number,
      d: DbHandle = db,
    ): Promise<{ rows: ApplianceWithGroup[]; count: number }> {
      const q = filteredAppliances(d, filter);
      const count = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      let rows = q
        .leftJoin('config_groups as g', 'g.id', 'a.group_id')
        .selectAll('a')
        .select(['g.name as group_name', 'g.kind as group_kind']);
      for (const term of filter.order ?? []) {
        if (term.field === 'id') continue;
        const key = ORDER_SQL[term.field];
        rows = rows.orderBy(key, (ob) => (term.direction === 'desc' ? ob.desc() : ob.asc()).nullsLast());
      }
      const last = filter.order?.find((t) => t.field === 'id')?.direction ?? 'asc';
      const out = await rows.orderBy('a.id', last).limit(limit).offset(offset).execute();
      return { rows: out as ApplianceWithGroup[], count: Number(count.n) };
    },
    /** The list's rows in its order (by id), `limit` after the id `afterId`: keyset batches for exports. */
    async appliancesAfter(
      filter: ApplianceListFilter,
      afterId: number | undefined,
      limit: number,
      d: DbHandle = db,
    ): Promise<ApplianceWithGroup[]> {
      let q = filteredAppliances(d, filter);
      if (afterId !== undefined) q = q.where('a.id', '>', afterId);
      return (await q
        .leftJoin('config_groups as g', 'g.id', 'a.group_id')
        .selectAll('a')
        .select(['g.name as group_name', 'g.kind as group_kind'])
        .orderBy('a.id')
        .limit(limit)
        .execute()) as ApplianceWithGroup[];
    },
    async appliancesByIds(ids: number[], d: DbHandle = db): Promise<ApplianceWithGroup[]> {
      if (ids.length === 0) return [];
      return (await appliancesWithGroup(d)
        .where('a.id', 'in', ids)
        .orderBy('a.id')
        .execute()) as ApplianceWithGroup[];
    },
    /** Newest version per type with what it requires: for `available_update_version`. */
    async packageVersions(d: DbHandle = db): Promise<{ type: string; version: string; requires: string }[]> {
      return queryable(d).selectFrom('fleet_packages').select(['type', 'version', 'requires']).execute();
    },
    /** Who is in these groups, and whether each is up: for hub redundancy. */
    async membersOf(
      groupIds: number[],
      d: DbHandle = db,
    ): Promise<Pick<ApplianceRow, 'id' | 'name' | 'type' | 'group_id' | 'online' | 'authorized'>[]> {
      if (groupIds.length === 0) return [];
      return queryable(d)
        .selectFrom('appliances')
        .select(['id', 'name', 'type', 'group_id', 'online', 'authorized'])
        .where('group_id', 'in', groupIds)
        .orderBy('name')
        .execute();
    },
    async groupMembers(groupId: number, d: DbHandle = db): Promise<ApplianceWithGroup[]> {
      return (await appliancesWithGroup(d)
        .where('a.group_id', '=', groupId)
        .orderBy('a.id')
        .execute()) as ApplianceWithGroup[];
    },
    /** The name of the appliance that has this URL, if one has. */
    async applianceWithUrl(url: string, d: DbHandle = db): Promise<{ name: string } | undefined> {
      return queryable(d).selectFrom('appliances').select('name').where('url', '=', url).executeTakeFirst();
    },
    async insertAppliance(d: DbHandle, values: Insertable<AppliancesTable>): Promise<{ id: number }> {
      return queryable(d).insertInto('appliances').values(values).returning('id').executeTakeFirstOrThrow();
    },
    /** Records what pairing (or the admin's token) established: identity, credential, pinned certificate. */
    async markAuthorized(
      d: DbHandle,
      id: number,
      a: {
        uuid: string;
        hostname: string | null;
        release: string | null;
        agentTokenSealed: string;
        tlsCertPem: string | null;
        configurationStatus: string;
        now: Date;
      },
    ): Promise<void> {
      await queryable(d)
        .updateTable('appliances')
        .set({
          authorized: true,
          uuid: a.uuid,
          hostname: a.hostname,
          release: a.release,
          agent_token_sealed: a.agentTokenSealed,
          tls_cert_pem: a.tlsCertPem,
          online: true,
          status: 'online',
          last_seen_online: a.now,
          configuration_status: a.configurationStatus,
          configuration_status_details: JSON.stringify({}),
          updated: a.now,
        })
        .where('id', '=', id)
        .execute();
    },
    async setMaintenance(d: DbHandle, id: number, on: boolean, now: Date): Promise<void> {
      await queryable(d)
        .updateTable('appliances')
        .set({ maintenance: on, updated: now })
        .where('id', '=', id)
        .execute();
    },
    async deleteAppliance(d: DbHandle, id: number): Promise<void> {
      await queryable(d).deleteFrom('appliances').where('id', '=', id).execute();
    },
    /** The manager's pairing key (one row, id 1), if it was made. */
    async managerIdentity(d: DbHandle = db): Promise<ManagerIdentityRow | undefined> {
      return queryable(d).selectFrom('fleet_identity').selectAll().where('id', '=', 1).executeTakeFirst();
    },
    /** Stores the pairing key unless one is stored already (the first of two replicas wins). */
    async insertManagerIdentityIfAbsent(
      values: Omit<Insertable<FleetIdentityTable>, 'id'>,
      d: DbHandle = db,
    ): Promise<void> {
      await queryable(d)
        .insertInto('fleet_identity')
        .values({ id: 1, ...values })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    },
    async insertEvent(
      d: DbHandle,
      e: {
        at: Date;
        applianceId: number | null;
        applianceName: string | null;
        kind: string;
        severity?: string;
        source?: string;
        message: string;
        details?: Record<string, unknown>;
      },
    ): Promise<void> {
      await queryable(d)
        .insertInto('fleet_events')
        .values({
          at: e.at,
          appliance_id: e.applianceId,
          appliance_name: e.applianceName,
          kind: e.kind,
          severity: e.severity ?? 'info',
          source: e.source ?? 'manager',
          message: e.message.slice(0, 2000),
          details: JSON.stringify(e.details ?? {}),
        })
        .execute();
    },
    /** Many activities in one statement, as given (messages already bounded by the caller). */
    async insertEvents(d: DbHandle, events: Insertable<FleetEventsTable>[]): Promise<void> {
      await queryable(d).insertInto('fleet_events').values(events).execute();
    },
    async listEvents(
      filter: EventFilter,
      limit: number,
      offset: number,
    ): Promise<{ rows: EventRow[]; count: number }> {
      const q = filteredEvents(filter);
      const count = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const rows = await q
        .selectAll()
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .offset(offset)
        .execute();
      return { rows, count: Number(count.n) };
    },
    /**
     * The list's rows in its order (newest first), `limit` of them after the key `after` of the
     * previous batch: keyset batches for exports. The key's time is PostgreSQL's own text of the
     * column, so microseconds a JavaScript Date would drop still compare exactly.
     */
    async eventsBefore(
      filter: EventFilter,
      after: EventKey | undefined,
      limit: number,
    ): Promise<(EventRow & { key_at: string })[]> {
      let q = filteredEvents(filter);
      if (after) q = q.where(sql<boolean>`(at, id) < (${after.at}::timestamptz, ${after.id})`);
      return q
        .selectAll()
        .select(sql<string>`at::text`.as('key_at'))
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
    },
  };
}

export type FleetRepo = ReturnType<typeof createFleetRepo>;
