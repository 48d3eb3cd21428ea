// Row types of the destination list tables (migration 0361), merged into Database.
import type { ColumnType, Generated } from 'kysely';

export interface DestinationListsTable {
  id: Generated<number>;
  name: string;
  description: ColumnType<string, string | undefined, string>;
  created: ColumnType<Date, Date | string | undefined, never>;
  updated: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface DestinationListEntriesTable {
  id: Generated<number>;
  list_id: number;
  value: string;
  comment: ColumnType<string, string | undefined, string>;
  created: ColumnType<Date, Date | string | undefined, never>;
}

declare module '../schema.js' {
  interface Database {
    destination_lists: DestinationListsTable;
    destination_list_entries: DestinationListEntriesTable;
  }
}
