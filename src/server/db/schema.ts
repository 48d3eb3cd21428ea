// Row types of every table, for Kysely. Each module's migration adds its tables here.
import type { ColumnType, Generated, JSONColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export interface SettingsTable {
  key: string;
  value: JSONColumnType<Record<string, unknown>>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  updated_by: number | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: ColumnType<Date, Date | string | undefined, never>;
  action: string;
  outcome: ColumnType<string, string | undefined, string>;
  user_id: number | null;
  username: string | null;
  token_id: number | null;
  auth_method: string | null;
  ip: string | null;
  user_agent: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  target_type: string | null;
  target_id: string | null;
  summary: ColumnType<string, string | undefined, string>;
  details: JSONColumnType<Record<string, unknown>, string | undefined, string>;
  request_id: string | null;
}

export interface UserGroupsTable {
  id: Generated<number>;
  name: string;
  description: ColumnType<string, string | undefined, string>;
  created_at: CreatedAt;
}

export type Role = 'admin' | 'operator' | 'viewer';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: ColumnType<string, string | undefined, string>;
  first_name: ColumnType<string, string | undefined, string>;
  last_name: ColumnType<string, string | undefined, string>;
  directory_name: ColumnType<string, string | undefined, string>;
  directory_type: ColumnType<number, number | undefined, number>;
  password_hash: string | null;
  password_changed_at: Timestamp | null;
  role: Role;
  api_only: ColumnType<boolean, boolean | undefined, boolean>;
  is_active: ColumnType<boolean, boolean | undefined, boolean>;
  group_id: number | null;
  last_login: Timestamp | null;
  date_joined: CreatedAt;
  deleted_at: Timestamp | null;
}

export interface SessionsTable {
  id: Generated<number>;
  user_id: number;
  digest: string;
  prefix: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  last_seen_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: Timestamp;
  ip: string | null;
  user_agent: string | null;
  ended_at: Timestamp | null;
  end_reason: string | null;
}

export type TokenKind = 'api_token' | 'api_key';

export interface ApiTokensTable {
  id: Generated<number>;
  kind: TokenKind;
  name: string;
  description: ColumnType<string, string | undefined, string>;
  owner_id: number;
  group_id: number | null;
  created_by: number | null;
  scopes: JSONColumnType<string[], string, string>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  requires_login: ColumnType<boolean, boolean | undefined, boolean>;
  allow_in_url: ColumnType<boolean, boolean | undefined, boolean>;
  allowed_ips: JSONColumnType<string[], string | undefined, string>;
  rate_limit_per_minute: number | null;
  default_tags: JSONColumnType<string[], string | undefined, string>;
  default_profile: string | null;
  prefix: string;
  last4: string;
  digest: string;
  previous_digest: string | null;
  previous_expires_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  refreshed_at: Timestamp | null;
  last_used_at: Timestamp | null;
  last_used_ip: string | null;
  use_count: ColumnType<number, number | undefined, number>;
  /** What an admin set on someone else's token, per field (migration 0300). */
  restrictions: JSONColumnType<TokenRestrictions, string | undefined, string>;
}

export interface TokenRestriction {
  set_by: number;
  set_at: string;
  value: unknown;
}
export type TokenRestrictions = Partial<
  Record<'enabled' | 'scopes' | 'expires_at' | 'allowed_ips' | 'rate_limit_per_minute', TokenRestriction>
>;

/** Requests per token, permission and hour (migration 0301). */
export interface TokenScopeUsageTable {
  token_id: number;
  permission: string;
  hour: Date | string;
  count: ColumnType<number, number, number>;
  last_at: Date | string;
}

export interface LoginAttemptsTable {
  id: Generated<number>;
  username: string;
  ip: string | null;
  at: ColumnType<Date, Date | string | undefined, never>;
  success: boolean;
}

export interface TokenActivityTable {
  id: Generated<number>;
  token_id: number;
  at: Date | string;
  method: string;
  path: string;
  status: number;
  ip: string | null;
  request_id: string | null;
}

// Modules add their own tables to this interface by declaration merging, in
// db/tables/<domain>.ts (imported by the repositories that use them).
export interface ClusterReplicasTable {
  id: string;
  address: string;
  release: string;
  started_at: Date | string;
  last_heartbeat: Date | string;
  leader: boolean;
  /** The first poll slot in which the others count this replica (ADR 0006). */
  polls_from: Date | string | null;
  polled_appliances: number | null;
  last_round_ms: number | null;
  last_round_at: Date | string | null;
}

export interface RateLimitCountersTable {
  key: string;
  window_start: Date | string;
  count: number;
}

/** One run of a background job on the replica that led at the time (migration 0004). */
export interface JobRunsTable {
  id: Generated<number>;
  job: string;
  replica_id: string;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  ok: boolean | null;
  error: string | null;
}

export interface Database {
  token_activity: TokenActivityTable;
  token_scope_usage: TokenScopeUsageTable;
  job_runs: JobRunsTable;
  cluster_replicas: ClusterReplicasTable;
  rate_limit_counters: RateLimitCountersTable;
  settings: SettingsTable;
  audit_log: AuditLogTable;
  user_groups: UserGroupsTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  login_attempts: LoginAttemptsTable;
}
