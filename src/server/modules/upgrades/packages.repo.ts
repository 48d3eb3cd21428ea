// SQL of the package store (fleet_packages) and of the downloads from the package repository
// (fleet_package_downloads). Rows or undefined; never HTTP errors. Every method takes the handle
// it runs on: a service's transaction, or `Transactor.direct` outside one.

import type { Insertable } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { FleetPackageDownloadsTable, FleetPackagesTable } from '../../db/tables/fleet.js';
import type { DbHandle } from '../../db/transactor.js';

export function createPackagesRepo() {
  return {
    /** The id of the stored package `type` `version`, if the store has it. */
    async findPackageId(h: DbHandle, type: string, version: string) {
      return queryable(h)
        .selectFrom('fleet_packages')
        .select('id')
        .where('type', '=', type)
        .where('version', '=', version)
        .executeTakeFirst();
    },

    async insertPackage(h: DbHandle, row: Insertable<FleetPackagesTable>) {
      return queryable(h).insertInto('fleet_packages').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async getPackage(h: DbHandle, type: string, version: string) {
      return queryable(h)
        .selectFrom('fleet_packages')
        .selectAll()
        .where('type', '=', type)
        .where('version', '=', version)
        .executeTakeFirst();
    },

    /** Finished upgrades keep their history: their package_id becomes null (migration 0103). */
    async deletePackage(h: DbHandle, id: number) {
      await queryable(h).deleteFrom('fleet_packages').where('id', '=', id).execute();
    },

    /** Every stored package, by type and then in the order they were added. */
    async listPackages(h: DbHandle) {
      return queryable(h).selectFrom('fleet_packages').selectAll().orderBy('type').orderBy('id').execute();
    },

    async packageFileName(h: DbHandle, type: string, version: string) {
      return queryable(h)
        .selectFrom('fleet_packages')
        .select('file_name')
        .where('type', '=', type)
        .where('version', '=', version)
        .executeTakeFirst();
    },

    /** The store's packages of one type, in no particular order. */
    async packagesOfType(h: DbHandle, type: string) {
      return queryable(h).selectFrom('fleet_packages').selectAll().where('type', '=', type).execute();
    },

    async packageSha256(h: DbHandle, type: string, version: string) {
      return queryable(h)
        .selectFrom('fleet_packages')
        .select('sha256')
        .where('type', '=', type)
        .where('version', '=', version)
        .executeTakeFirst();
    },

    async packageSizeAndCreated(h: DbHandle, type: string, version: string) {
      return queryable(h)
        .selectFrom('fleet_packages')
        .select(['size', 'created'])
        .where('type', '=', type)
        .where('version', '=', version)
        .executeTakeFirst();
    },

    /** The latest download of `type` `version` (running or finished). */
    async latestDownload(h: DbHandle, type: string, version: string) {
      return queryable(h)
        .selectFrom('fleet_package_downloads')
        .selectAll()
        .where('type', '=', type)
        .where('version', '=', version)
        .orderBy('id', 'desc')
        .executeTakeFirst();
    },

    /** The newest downloads first, at most `limit`. */
    async recentDownloads(h: DbHandle, limit: number) {
      return queryable(h)
        .selectFrom('fleet_package_downloads')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
    },

    /** Progress of a running download; a finished one is left as it ended. */
    async downloadProgress(h: DbHandle, id: number, received: number, at: Date) {
      await queryable(h)
        .updateTable('fleet_package_downloads')
        .set({ received, heartbeat: at })
        .where('id', '=', id)
        .where('finished', 'is', null)
        .execute();
    },

    async downloadVerifying(h: DbHandle, id: number, received: number, at: Date) {
      await queryable(h)
        .updateTable('fleet_package_downloads')
        .set({ status: 'verifying', received, heartbeat: at })
        .where('id', '=', id)
        .execute();
    },

    /** Ends a download: `done` (with all `received`), or `error` saying why. */
    async finishDownload(h: DbHandle, id: number, error: string | null, received: number, at: Date) {
      await queryable(h)
        .updateTable('fleet_package_downloads')
        .set({
          status: error ? 'error' : 'done',
          error,
          ...(error ? {} : { received }),
          finished: at,
          heartbeat: at,
        })
        .where('id', '=', id)
        .execute();
    },

    /**
     * Closes running downloads of `type` `version` whose heartbeat is older than `staleBefore`:
     * cut off by a restart, they never finish on their own.
     */
    async closeStaleDownloads(h: DbHandle, type: string, version: string, now: Date, staleBefore: Date) {
      await queryable(h)
        .updateTable('fleet_package_downloads')
        .set({
          status: 'error',
          error: 'interrupted (the manager stopped during the download)',
          finished: now,
        })
        .where('type', '=', type)
        .where('version', '=', version)
        .where('finished', 'is', null)
        .where('heartbeat', '<', staleBefore)
        .execute();
    },

    async runningDownload(h: DbHandle, type: string, version: string) {
      return queryable(h)
        .selectFrom('fleet_package_downloads')
        .selectAll()
        .where('type', '=', type)
        .where('version', '=', version)
        .where('finished', 'is', null)
        .executeTakeFirst();
    },

    /** A partial unique index lets one running download of a package in: a second insert fails. */
    async insertDownload(h: DbHandle, row: Insertable<FleetPackageDownloadsTable>) {
      return queryable(h)
        .insertInto('fleet_package_downloads')
        .values(row)
        .returningAll()
        .executeTakeFirstOrThrow();
    },
  };
}

export type PackagesRepo = ReturnType<typeof createPackagesRepo>;
