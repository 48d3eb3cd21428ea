// What the health round reads and writes (health.service.ts): the narrow poll read, the credentials
// it caches, and its batched or conditional writes. Rows or undefined; never HTTP errors.
import { type Kysely, sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { Database } from '../../db/schema.js';
import type { DbHandle } from '../../db/transactor.js';
import type { ApplianceRow } from '../fleet/fleet.repo.js';
import '../../db/tables/fleet.js';

/** What a health round reads of each authorized appliance (no certificates, no JSON documents). */
export type PollTarget = Pick<
  ApplianceRow,
  | 'id'
  | 'name'
  | 'type'
  | 'url'
  | 'uuid'
  | 'online'
  | 'maintenance'
  | 'status'
  | 'release'
  | 'running_hash'
  | 'configuration_status'
  | 'applied_hash'
  | 'applied_revision'
  | 'events_cursor'
> & {
  /** Digest of the token and pinned certificate: the cached ones are re-read when it changes. */
  cred_key: string;
};

/** What one poll saw of an appliance that answered (written for many in one statement). */
export interface PolledAppliance {
  id: number;
  status: string;
  latency: number;
  release: string | null;
  hash: string | null;
  /** The system_data document, as JSON text; null: keep what the row has. */
  systemData: string | null;
}

export function createHealthRepo(db: Kysely<Database>) {
  return {
    /** How many appliances are authorized, and the newest poll_version of any appliance. */
    async pollHead(d: DbHandle = db): Promise<{ count: number; version: bigint }> {
      const r = await sql<{ n: number; v: string | null }>`SELECT
          (SELECT count(*)::int FROM appliances WHERE authorized) AS n,
          (SELECT max(poll_version)::text FROM appliances) AS v`.execute(queryable(d));
      const row = r.rows[0];
      return { count: Number(row?.n ?? 0), version: BigInt(row?.v ?? 0) };
    },
    /**
     * The health round's narrow read: every authorized appliance, or (with `since`) every
     * appliance whose poll_version is newer, authorized or not (so deauthorizations are seen).
     */
    async pollTargets(since?: bigint, d: DbHandle = db): Promise<(PollTarget & { authorized: boolean })[]> {
      let q = queryable(d)
        .selectFrom('appliances')
        .select([
          'id',
          'name',
          'type',
          'url',
          'uuid',
          'authorized',
          'online',
          'maintenance',
          'status',
          'release',
          'running_hash',
          'configuration_status',
          'applied_hash',
          'applied_revision',
          'events_cursor',
          sql<string>`md5(coalesce(agent_token_sealed, '') || '|' || coalesce(tls_cert_pem, ''))`.as(
            'cred_key',
          ),
        ]);
      q =
        since === undefined
          ? q.where('authorized', '=', true)
          : q.where(sql<boolean>`poll_version > ${since.toString()}::bigint`);
      return q.orderBy('id').execute();
    },
    async credentials(
      ids: number[],
      d: DbHandle = db,
    ): Promise<(Pick<ApplianceRow, 'id' | 'agent_token_sealed' | 'tls_cert_pem'> & { cred_key: string })[]> {
      if (ids.length === 0) return [];
      return queryable(d)
        .selectFrom('appliances')
        .select([
          'id',
          'agent_token_sealed',
          'tls_cert_pem',
          sql<string>`md5(coalesce(agent_token_sealed, '') || '|' || coalesce(tls_cert_pem, ''))`.as(
            'cred_key',
          ),
        ])
        .where('id', 'in', ids)
        .execute();
    },
    /**
     * Records an online/offline transition; the appliance's maintenance flag as it is now, or
     * undefined when the appliance was removed meanwhile or is in that state already (another
     * replica polled it in the same slot and recorded it: the transition is recorded once).
     */
    async setOnline(
      d: DbHandle,
      id: number,
      online: boolean,
      now: Date,
    ): Promise<{ maintenance: boolean } | undefined> {
      return queryable(d)
        .updateTable('appliances')
        .set({ online, status: online ? 'online' : 'offline', updated: now })
        .where('id', '=', id)
        .where('online', '!=', online)
        .returning('maintenance')
        .executeTakeFirst();
    },
    /** The id of the newest agent event pulled from this appliance. */
    async setEventsCursor(d: DbHandle, id: number, cursor: number): Promise<void> {
      await queryable(d)
        .updateTable('appliances')
        .set({ events_cursor: cursor })
        .where('id', '=', id)
        .execute();
    },
    /**
     * One UPDATE for many appliances that answered (at most ~1000 a call: PostgreSQL takes at
     * most 65,535 parameters in one statement). Deauthorized meanwhile: left alone.
     */
    async recordPolls(batch: PolledAppliance[], now: Date, d: DbHandle = db): Promise<void> {
      if (batch.length === 0) return;
      const values = sql.join(
        batch.map(
          (b) =>
            sql`(${b.id}::int, ${b.status}::text, ${b.latency}::float8, ${b.release}::text, ${b.hash}::text, ${b.systemData}::jsonb)`,
        ),
      );
      await sql`UPDATE appliances AS a
      SET online = true, status = v.status, latency = v.latency, release = COALESCE(v.release, a.release),
          running_hash = v.hash, system_data = COALESCE(v.system_data, a.system_data), last_seen_online = ${now}, last_polled = ${now}
      FROM (VALUES ${values}) AS v(id, status, latency, release, hash, system_data)
      WHERE a.id = v.id AND a.authorized`.execute(queryable(d));
    },
    /**
     * Drift: sets the configuration status only if it and the applied hash are still what the
     * poll read (an apply that ran meanwhile wins). Whether the row changed.
     */
    async setConfigurationStatusIf(
      d: DbHandle,
      id: number,
      change: { status: string; details: Record<string, unknown> },
      expected: { status: string; appliedHash: string },
    ): Promise<boolean> {
      const res = await queryable(d)
        .updateTable('appliances')
        .set({
          configuration_status: change.status,
          configuration_status_details: JSON.stringify(change.details),
        })
        .where('id', '=', id)
        .where('configuration_status', '=', expected.status)
        .where('applied_hash', '=', expected.appliedHash)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
  };
}

export type HealthRepo = ReturnType<typeof createHealthRepo>;
