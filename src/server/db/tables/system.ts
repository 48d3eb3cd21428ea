// Row types of the system module's tables (migrations 02xx), merged into the Database interface.
import type { ColumnType, Generated, JSONColumnType } from 'kysely';

export interface FilesTable {
  id: Generated<number>;
  name: string;
  stored_name: string;
  size: number;
  sha256: string;
  file_type: string;
  mime_type: string;
  tags: JSONColumnType<string[], string | undefined, string>;
  profile: string | null;
  owner_id: number | null;
  group_id: number | null;
  visibility: ColumnType<string, string | undefined, string>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface TokenExpiryAlertsTable {
  token_id: number;
  expires_at: ColumnType<Date, Date | string, never>;
  sent_at: ColumnType<Date, Date | string | undefined, never>;
  recipients: ColumnType<string, string | undefined, string>;
}

declare module '../schema.js' {
  interface Database {
    files: FilesTable;
    token_expiry_alerts: TokenExpiryAlertsTable;
  }
}
