// Fleet queries: the appliance registry, the activities (fleet_events) and the manager's pairing
// key. Rows or undefined; never HTTP errors. Configuration groups and revisions are in
// config.repo.ts, the health round's reads and writes in health.repo.ts.
import { type Insertable, type Kysely, type Selectable, sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { Database } from '../../db/schema.js';
import type {
  AppliancesTable,
  ConfigGroupsTable,
  FleetEventsTable,
  FleetIdentityTable,
} from '../../db/tables/fleet.js';
import type { DbHandle } from '../../db/transactor.js';
import '../../db/tables/fleet.js';

export type ApplianceRow = Selectable<AppliancesTable>;
export type GroupRow = Selectable<ConfigGroupsTable>;
export type EventRow = Selectable<FleetEventsTable>;
export type ApplianceWithGroup = ApplianceRow & { group_name: string | null; group_kind: string | null };
export type ManagerIdentityRow = Selectable<FleetIdentityTable>;

/** What the appliance list filters on (`search` is a LIKE pattern, escaped by the service). */
export interface ApplianceFilter {
  groupId?: number;
  type?: string;
  search?: string;
  authorized?: boolean;
  online?: boolean;
  configurationStatus?: string;
  groupName?: string;
}

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

  /** The appliances a list (or an export) with this filter covers. */
  function filteredAppliances(d: DbHandle, filter: ApplianceFilter) {
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
    if (filter.search) q = q.where('a.name', 'ilike', filter.search);
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
    async listAppliances(
      filter: ApplianceFilter,
      limit: number,
      offset: number,
      d: DbHandle = db,
    ): Promise<{ rows: ApplianceWithGroup[]; count: number }> {
      const q = filteredAppliances(d, filter);
      const count = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const rows = await q
        .leftJoin('config_groups as g', 'g.id', 'a.group_id')
        .selectAll('a')
        .select(['g.name as group_name', 'g.kind as group_kind'])
        .orderBy('a.id')
        .limit(limit)
        .offset(offset)
        .execute();
      return { rows: rows as ApplianceWithGroup[], count: Number(count.n) };
    },
    /** The list's rows in its order (by id), `limit` after the id `afterId`: keyset batches for exports. */
    async appliancesAfter(
      filter: ApplianceFilter,
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
