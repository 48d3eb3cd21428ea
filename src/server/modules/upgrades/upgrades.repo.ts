// SQL of appliance upgrades (fleet_upgrades) and of the release an upgrade leaves on its
// appliance. Rows or undefined; never HTTP errors. Every method takes the handle it runs on: a
// service's transaction, or `Transactor.direct` outside one.

import type { Insertable } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { FleetUpgradesTable } from '../../db/tables/fleet.js';
import type { DbHandle } from '../../db/transactor.js';

export interface UpgradeProgress {
  status: string;
  /** Left as it is when undefined. */
  log?: string | undefined;
  /** Set when the upgrade ends; left unset otherwise. */
  finished?: Date | undefined;
}

export function createUpgradesRepo() {
  return {
    /** The name of the appliance an unfinished upgrade runs on, if one runs anywhere in the fleet. */
    async activeUpgrade(h: DbHandle) {
      return queryable(h)
        .selectFrom('fleet_upgrades as u')
        .innerJoin('appliances as a', 'a.id', 'u.appliance_id')
        .select(['a.name'])
        .where('u.finished', 'is', null)
        .executeTakeFirst();
    },

    /** An unfinished upgrade to the package `packageId`, if any. */
    async runningUpgradeTo(h: DbHandle, packageId: number) {
      return queryable(h)
        .selectFrom('fleet_upgrades')
        .select('id')
        .where('package_id', '=', packageId)
        .where('finished', 'is', null)
        .executeTakeFirst();
    },

    /**
     * A unique index lets one unfinished upgrade in across the fleet: a second insert while one
     * runs fails (another replica started one at the same moment).
     */
    async insertUpgrade(h: DbHandle, row: Insertable<FleetUpgradesTable>): Promise<number> {
      const u = await queryable(h)
        .insertInto('fleet_upgrades')
        .values(row)
        .returning('id')
        .executeTakeFirstOrThrow();
      return u.id;
    },

    async setUpgradeProgress(h: DbHandle, id: number, p: UpgradeProgress) {
      await queryable(h)
        .updateTable('fleet_upgrades')
        .set({
          status: p.status,
          ...(p.log !== undefined ? { log: p.log } : {}),
          ...(p.finished ? { finished: p.finished } : {}),
        })
        .where('id', '=', id)
        .execute();
    },

    /** The appliance's latest upgrade (running or finished). */
    async latestUpgradeOf(h: DbHandle, applianceId: number) {
      return queryable(h)
        .selectFrom('fleet_upgrades')
        .selectAll()
        .where('appliance_id', '=', applianceId)
        .orderBy('id', 'desc')
        .executeTakeFirst();
    },

    /**
     * Claims for `me` the unfinished upgrade a replica no longer alive left: run by a replica not
     * in `live`, or by nobody recorded (a release before migration 0105) and started before
     * `unclaimedBefore`. One conditional UPDATE; with the package it installs (null once removed).
     */
    async claimLeftUpgrade(h: DbHandle, me: string, live: string[], unclaimedBefore: Date) {
      const alive = live.length > 0 ? live : [me];
      return queryable(h)
        .updateTable('fleet_upgrades')
        .set({ run_by: me })
        .where('finished', 'is', null)
        .where((eb) =>
          eb.or([
            eb.and([eb('run_by', 'is not', null), eb('run_by', 'not in', alive)]),
            eb.and([eb('run_by', 'is', null), eb('started', '<', unclaimedBefore)]),
          ]),
        )
        .returning(['id', 'appliance_id', 'package_id', 'version', 'status', 'started'])
        .executeTakeFirst();
    },

    /** The release an appliance runs once an upgrade to it finished. */
    async setApplianceRelease(h: DbHandle, applianceId: number, release: string) {
      await queryable(h).updateTable('appliances').set({ release }).where('id', '=', applianceId).execute();
    },
  };
}

export type UpgradesRepo = ReturnType<typeof createUpgradesRepo>;
