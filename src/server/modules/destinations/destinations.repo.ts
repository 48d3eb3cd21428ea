// SQL for destination lists and their entries. Returns rows or undefined; never HTTP errors.
// Every method runs on the handle it is given (a service's `Tx`, or the configuration module's
// own transaction), by default the repository's base handle (the pool).
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { DestinationListEntriesTable, DestinationListsTable } from '../../db/tables/destinations.js';
import type { DbHandle } from '../../db/transactor.js';
import { likePattern } from '../../http/pagination.js';

export type ListRow = Selectable<DestinationListsTable>;
export type EntryRow = Selectable<DestinationListEntriesTable>;

export function createDestinationsRepo(base: DbHandle) {
  return {
    async count(search: string | undefined, d: DbHandle = base): Promise<number> {
      let q = queryable(d)
        .selectFrom('destination_lists')
        .select((eb) => eb.fn.countAll<number>().as('n'));
      if (search) q = q.where(sql<boolean>`lower(name) LIKE ${likePattern(search.toLowerCase())}`);
      return Number((await q.executeTakeFirstOrThrow()).n);
    },
    async page(limit: number, offset: number, search: string | undefined, d: DbHandle = base) {
      let q = queryable(d)
        .selectFrom('destination_lists as l')
        .selectAll('l')
        .select((eb) =>
          eb
            .selectFrom('destination_list_entries as e')
            .whereRef('e.list_id', '=', 'l.id')
            .select((e) => e.fn.countAll<number>().as('n'))
            .as('entry_count'),
        );
      if (search) q = q.where(sql<boolean>`lower(l.name) LIKE ${likePattern(search.toLowerCase())}`);
      return q.orderBy('l.name').orderBy('l.id').limit(limit).offset(offset).execute();
    },
    async get(id: number, d: DbHandle = base, lock = false): Promise<ListRow | undefined> {
      let q = queryable(d).selectFrom('destination_lists').selectAll().where('id', '=', id);
      if (lock) q = q.forUpdate();
      return q.executeTakeFirst();
    },
    async byName(name: string, d: DbHandle = base): Promise<ListRow | undefined> {
      return queryable(d)
        .selectFrom('destination_lists')
        .selectAll()
        .where(sql<boolean>`lower(name) = ${name.toLowerCase()}`)
        .executeTakeFirst();
    },
    async entryCount(listId: number, d: DbHandle = base): Promise<number> {
      const r = await queryable(d)
        .selectFrom('destination_list_entries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('list_id', '=', listId)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    async entries(listId: number, limit: number, offset: number, d: DbHandle = base): Promise<EntryRow[]> {
      return queryable(d)
        .selectFrom('destination_list_entries')
        .selectAll()
        .where('list_id', '=', listId)
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute();
    },
    async entry(listId: number, entryId: number, d: DbHandle = base): Promise<EntryRow | undefined> {
      return queryable(d)
        .selectFrom('destination_list_entries')
        .selectAll()
        .where('list_id', '=', listId)
        .where('id', '=', entryId)
        .executeTakeFirst();
    },
    async entriesByValue(listId: number, values: string[], d: DbHandle = base): Promise<EntryRow[]> {
      if (values.length === 0) return [];
      return queryable(d)
        .selectFrom('destination_list_entries')
        .selectAll()
        .where('list_id', '=', listId)
        .where('value', 'in', values)
        .execute();
    },
    async insert(name: string, description: string, d: DbHandle = base): Promise<ListRow> {
      return queryable(d)
        .insertInto('destination_lists')
        .values({ name, description })
        .returningAll()
        .executeTakeFirstOrThrow();
    },
    async update(
      id: number,
      fields: { name?: string; description?: string; updated: Date },
      d: DbHandle = base,
    ): Promise<ListRow> {
      return queryable(d)
        .updateTable('destination_lists')
        .set(fields)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
    },
    async remove(id: number, d: DbHandle = base): Promise<void> {
      await queryable(d).deleteFrom('destination_lists').where('id', '=', id).execute();
    },
    async insertEntries(
      listId: number,
      values: string[],
      comment: string,
      d: DbHandle = base,
    ): Promise<EntryRow[]> {
      if (values.length === 0) return [];
      return queryable(d)
        .insertInto('destination_list_entries')
        .values(values.map((value) => ({ list_id: listId, value, comment })))
        .returningAll()
        .execute();
    },
    async removeEntries(ids: number[], d: DbHandle = base): Promise<void> {
      if (ids.length === 0) return;
      await queryable(d).deleteFrom('destination_list_entries').where('id', 'in', ids).execute();
    },
    /**
     * The entries of the named lists (names exactly as stored), locked against a concurrent
     * change until the caller's transaction ends. Names with no list are absent.
     */
    async snapshot(names: string[], d: DbHandle = base): Promise<Record<string, string[]>> {
      if (names.length === 0) return {};
      const lists = await queryable(d)
        .selectFrom('destination_lists')
        .select(['id', 'name'])
        .where('name', 'in', names)
        .orderBy('id')
        .forShare()
        .execute();
      const out: Record<string, string[]> = {};
      for (const l of lists) {
        const rows = await queryable(d)
          .selectFrom('destination_list_entries')
          .select('value')
          .where('list_id', '=', l.id)
          .orderBy('id')
          .execute();
        out[l.name] = rows.map((r) => r.value);
      }
      return out;
    },
  };
}

export type DestinationsRepo = ReturnType<typeof createDestinationsRepo>;
