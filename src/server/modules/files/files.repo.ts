// SQL of the files kept on the manager (the `files` table): who may see which file, the bytes an
// owner stores, and the rows the upload, delete and retention paths write.

import { type Insertable, type Kysely, sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { Database } from '../../db/schema.js';
import type { FilesTable } from '../../db/tables/system.js';
import type { DbHandle } from '../../db/transactor.js';
import type { Principal } from '../../shared/principal.js';

export interface FileFilter {
  tag?: string;
  ownerId?: number;
  type?: string;
  search?: string;
}

export function createFilesRepo(db: Kysely<Database>) {
  /** Who may see a file: admins all; others their own, public ones and their group's. */
  function visible(p: Principal) {
    let q = db.selectFrom('files');
    if (p.role !== 'admin') {
      q = q.where((eb) =>
        eb.or([
          eb('owner_id', '=', p.userId),
          eb('visibility', '=', 'public'),
          ...(p.groupId ? [eb.and([eb('visibility', '=', 'group'), eb('group_id', '=', p.groupId)])] : []),
        ]),
      );
    }
    return q;
  }

  function filtered(p: Principal, f: FileFilter) {
    let q = visible(p);
    if (f.tag !== undefined) q = q.where(sql<boolean>`tags @> ${JSON.stringify([f.tag])}::jsonb`);
    if (f.ownerId !== undefined) q = q.where('owner_id', '=', f.ownerId);
    if (f.type !== undefined) q = q.where('file_type', '=', f.type);
    if (f.search !== undefined) q = q.where('name', 'ilike', `%${f.search.replace(/[\\%_]/g, '\\$&')}%`);
    return q;
  }

  return {
    /** A page of the files `p` may see, newest first. */
    list(p: Principal, f: FileFilter, limit: number, offset: number) {
      return filtered(p, f).selectAll().orderBy('id', 'desc').limit(limit).offset(offset).execute();
    },

    async count(p: Principal, f: FileFilter): Promise<number> {
      const r = await filtered(p, f)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },

    /** The file with this id if `p` may see it. */
    findVisible(p: Principal, id: number) {
      return visible(p).selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** Bytes stored by one owner (0 when none), for the quota. */
    async usedBytes(ownerId: number): Promise<number> {
      const used = await db
        .selectFrom('files')
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size'), sql<number>`0`).as('n'))
        .where('owner_id', '=', ownerId)
        .executeTakeFirstOrThrow();
      return Number(used.n);
    },

    insert(trx: DbHandle, row: Insertable<FilesTable>) {
      return queryable(trx).insertInto('files').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async remove(trx: DbHandle, id: number): Promise<void> {
      await queryable(trx).deleteFrom('files').where('id', '=', id).execute();
    },

    /** Deletes the rows of files created before `cutoff`; returns their stored names. */
    deleteOlderThan(cutoff: Date) {
      return db.deleteFrom('files').where('created_at', '<', cutoff).returning(['stored_name']).execute();
    },
  };
}

export type FilesRepo = ReturnType<typeof createFilesRepo>;
