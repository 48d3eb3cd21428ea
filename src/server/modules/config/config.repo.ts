// Configuration queries: groups (standard and hub), their revisions, and the configuration
// status of appliances as saves, membership changes and rollouts move it. Rows or undefined;
// never HTTP errors.
import { type Insertable, type Kysely, sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { Database } from '../../db/schema.js';
import type { ConfigGroupsTable, ConfigRevisionsTable } from '../../db/tables/fleet.js';
import type { DbHandle } from '../../db/transactor.js';
import type { GroupRow } from '../fleet/fleet.repo.js';
import '../../db/tables/fleet.js';

/** Where a revision comes from: a group's, or one Spectra Analyze's individual configuration. */
export type RevisionSource =
  | { groupId: number; revision: number }
  | { applianceId: number; revision: number };

/** An agent's answer to an apply, as the rollout records it. */
export interface RecordedOutcome {
  id: number;
  status: string;
  details: Record<string, unknown>;
  /** The configuration hash the agent now runs; null when it did not take the revision. */
  hash: string | null;
}

export function createConfigRepo(db: Kysely<Database>) {
  return {
    async getGroup(name: string, d: DbHandle = db, lock = false): Promise<GroupRow | undefined> {
      let q = queryable(d).selectFrom('config_groups').selectAll().where('name', '=', name);
      if (lock) q = q.forUpdate();
      return q.executeTakeFirst();
    },
    async getGroupById(id: number, d: DbHandle = db): Promise<GroupRow | undefined> {
      return queryable(d).selectFrom('config_groups').selectAll().where('id', '=', id).executeTakeFirst();
    },
    /** A revision's content and the destination list entries saved with it. */
    async revision(
      where: { groupId: number } | { applianceId: number },
      revision: number,
      d: DbHandle = db,
    ): Promise<
      { content: Record<string, unknown>; destination_lists: Record<string, string[]> | null } | undefined
    > {
      let q = queryable(d)
        .selectFrom('config_revisions')
        .select(['content', 'destination_lists'])
        .where('revision', '=', revision);
      q =
        'groupId' in where
          ? q.where('group_id', '=', where.groupId)
          : q.where('appliance_id', '=', where.applianceId);
      return q.executeTakeFirst();
    },
    /** Groups whose content references the destination list (locked when `lock`). */
    async groupsUsingList(name: string, d: DbHandle = db, lock = false): Promise<GroupRow[]> {
      let q = queryable(d)
        .selectFrom('config_groups')
        .selectAll()
        .where(sql<boolean>`content -> 'destinations__lists' @> jsonb_build_array(${name}::text)`)
        .orderBy('name');
      if (lock) q = q.forUpdate();
      return q.execute();
    },
    async insertGroup(d: DbHandle, values: Insertable<ConfigGroupsTable>): Promise<GroupRow> {
      return queryable(d).insertInto('config_groups').values(values).returningAll().executeTakeFirstOrThrow();
    },
    async countGroups(d: DbHandle = db): Promise<number> {
      const count = await queryable(d)
        .selectFrom('config_groups')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(count.n);
    },
    /** A page of groups by name. */
    async pageGroups(limit: number, offset: number, d: DbHandle = db): Promise<GroupRow[]> {
      return queryable(d)
        .selectFrom('config_groups')
        .selectAll()
        .orderBy('name')
        .limit(limit)
        .offset(offset)
        .execute();
    },
    async deleteGroup(d: DbHandle, id: number): Promise<void> {
      await queryable(d).deleteFrom('config_groups').where('id', '=', id).execute();
    },
    /** A save's new content and revision. */
    async setGroupContent(
      d: DbHandle,
      id: number,
      content: Record<string, unknown>,
      revision: number,
      now: Date,
    ): Promise<void> {
      await queryable(d)
        .updateTable('config_groups')
        .set({ content: JSON.stringify(content), revision, updated: now })
        .where('id', '=', id)
        .execute();
    },
    /** A new revision with the content unchanged (a destination list it references changed). */
    async setGroupRevision(d: DbHandle, id: number, revision: number, now: Date): Promise<void> {
      await queryable(d)
        .updateTable('config_groups')
        .set({ revision, updated: now })
        .where('id', '=', id)
        .execute();
    },
    async insertRevision(d: DbHandle, values: Insertable<ConfigRevisionsTable>): Promise<void> {
      await queryable(d).insertInto('config_revisions').values(values).execute();
    },
    /**
     * The group's members await the new revision, except those whose apply is in flight
     * (`pending`: the rollout's outcome, or a later save, moves them).
     */
    async markGroupAwaitingApply(
      d: DbHandle,
      groupId: number,
      details: Record<string, unknown>,
    ): Promise<void> {
      await queryable(d)
        .updateTable('appliances')
        .set({
          configuration_status: 'changes_awaiting_apply',
          configuration_status_details: JSON.stringify(details),
        })
        .where('group_id', '=', groupId)
        .where('configuration_status', '!=', 'pending')
        .execute();
    },
    /** A PUT of the member list: the members not in `keep` leave the group. */
    async releaseMembers(d: DbHandle, groupId: number, keep: number[], now: Date): Promise<void> {
      let q = queryable(d)
        .updateTable('appliances')
        .set({
          group_id: null,
          configuration_status: 'no_configuration_group',
          configuration_status_details: JSON.stringify({}),
          applied_revision: null,
          updated: now,
        })
        .where('group_id', '=', groupId);
      if (keep.length > 0) q = q.where('id', 'not in', keep);
      await q.execute();
    },
    /** Appliances join the group and await its current revision. */
    async addMembers(
      d: DbHandle,
      ids: number[],
      groupId: number,
      revision: number,
      now: Date,
    ): Promise<void> {
      await queryable(d)
        .updateTable('appliances')
        .set({
          group_id: groupId,
          configuration_status: 'changes_awaiting_apply',
          configuration_status_details: JSON.stringify({ revision }),
          applied_revision: null,
          updated: now,
        })
        .where('id', 'in', ids)
        .execute();
    },
    /** Every member leaves the group (it is being deleted). */
    async detachMembers(d: DbHandle, groupId: number): Promise<void> {
      await queryable(d)
        .updateTable('appliances')
        .set({
          group_id: null,
          configuration_status: 'no_configuration_group',
          configuration_status_details: JSON.stringify({}),
          applied_revision: null,
        })
        .where('group_id', '=', groupId)
        .execute();
    },
    /** A Spectra Analyze's own configuration: new content and revision, awaiting apply. */
    async setIndividualContent(
      d: DbHandle,
      id: number,
      content: Record<string, unknown>,
      revision: number,
      now: Date,
    ): Promise<void> {
      await queryable(d)
        .updateTable('appliances')
        .set({
          individual_content: JSON.stringify(content),
          individual_revision: revision,
          configuration_status: 'changes_awaiting_apply',
          configuration_status_details: JSON.stringify({ revision }),
          updated: now,
        })
        .where('id', '=', id)
        .execute();
    },
    /** Sets the configuration status of these appliances (an apply starting: pending, held, refused). */
    /** With `claimedBy` (the replica that will send a `pending` configuration), records the claim. */
    async setConfigurationStatus(
      d: DbHandle,
      ids: number[],
      status: string,
      details: Record<string, unknown>,
      now: Date,
      claimedBy?: string,
    ): Promise<void> {
      await queryable(d)
        .updateTable('appliances')
        .set({
          configuration_status: status,
          configuration_status_details: JSON.stringify(details),
          updated: now,
          ...(claimedBy !== undefined ? { configuration_claimed_by: claimedBy } : {}),
        })
        .where('id', 'in', ids)
        .execute();
    },
    /**
     * Records many rollout outcomes in one UPDATE. Only appliances still in the source's scope
     * are written (in the group; or, for individual configuration, in no group); the ids written.
     */
    async recordOutcomes(
      d: DbHandle,
      outcomes: RecordedOutcome[],
      source: RevisionSource,
      now: Date,
    ): Promise<number[]> {
      const values = sql.join(
        outcomes.map(
          (o) => sql`(${o.id}::int, ${o.status}::text, ${JSON.stringify(o.details)}::jsonb, ${o.hash}::text)`,
        ),
      );
      const scope =
        'groupId' in source
          ? sql`a.group_id = ${source.groupId}`
          : sql`a.group_id IS NULL AND a.id = ${source.applianceId}`;
      const updated = await sql<{ id: number }>`UPDATE appliances AS a SET
          configuration_status = v.status,
          configuration_status_details = v.details,
          updated = ${now},
          applied_revision = CASE WHEN v.hash IS NULL THEN a.applied_revision ELSE ${source.revision}::int END,
          applied_hash = COALESCE(v.hash, a.applied_hash),
          running_hash = COALESCE(v.hash, a.running_hash),
          last_applied_config_timestamp = CASE WHEN v.hash IS NULL THEN a.last_applied_config_timestamp ELSE ${now} END
        FROM (VALUES ${values}) AS v(id, status, details, hash)
        WHERE a.id = v.id AND ${scope}
        RETURNING a.id`.execute(queryable(d));
      return updated.rows.map((r) => Number(r.id));
    },

    /**
     * Claims for `me` the `pending` configurations a replica no longer alive left unsent: claimed
     * by a replica not in `live` and marked before `claimedBefore` (its last send had time to
     * end), or with no claimer (a release before migration 0105) and marked before
     * `unclaimedBefore`. One conditional UPDATE, so two replicas cannot claim the same row.
     * Answers what each claimed appliance waits for: its group (or none: individual
     * configuration) and the revision in its status details.
     */
    async claimLeftPending(
      d: DbHandle,
      me: string,
      live: string[],
      claimedBefore: Date,
      unclaimedBefore: Date,
    ): Promise<{ id: number; group_id: number | null; revision: number | null }[]> {
      const alive = live.length > 0 ? live : [me];
      const res = await sql<{ id: number; group_id: number | null; revision: string | null }>`
        UPDATE appliances SET configuration_claimed_by = ${me}
        WHERE configuration_status = 'pending'
          AND ((configuration_claimed_by IS NOT NULL
                AND NOT (configuration_claimed_by IN (${sql.join(alive)}))
                AND updated < ${claimedBefore})
            OR (configuration_claimed_by IS NULL AND updated < ${unclaimedBefore}))
        RETURNING id, group_id, configuration_status_details->>'revision' AS revision`.execute(queryable(d));
      return res.rows.map((r) => ({
        id: Number(r.id),
        group_id: r.group_id === null ? null : Number(r.group_id),
        revision: r.revision === null || !/^\d+$/.test(r.revision) ? null : Number(r.revision),
      }));
    },
  };
}

export type ConfigRepo = ReturnType<typeof createConfigRepo>;
