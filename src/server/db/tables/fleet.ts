// Row types of the fleet tables (migration 0100_fleet.sql), merged into Database.
import type { ColumnType, Generated, JSONColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Defaulted<T> = ColumnType<T, T | undefined, T>;
type Json<T extends object> = JSONColumnType<T, string | undefined, string>;

export interface FleetIdentityTable {
  id: number;
  public_key: string;
  private_key_sealed: string;
  fingerprint: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface ConfigGroupsTable {
  id: Generated<number>;
  name: string;
  kind: Defaulted<'standard' | 'hub'>;
  content: Json<Record<string, unknown>>;
  revision: Defaulted<number>;
  hub_settings: JSONColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  created: ColumnType<Date, Date | string | undefined, never>;
  updated: Defaulted<Date | string>;
}

export interface AppliancesTable {
  id: Generated<number>;
  name: string;
  type: string;
  url: string;
  uuid: string | null;
  hostname: string | null;
  release: string | null;
  snmp_community: Defaulted<string>;
  haproxy_password_sealed: string | null;
  authorized: Defaulted<boolean>;
  agent_token_sealed: string | null;
  tls_cert_pem: string | null;
  online: Defaulted<boolean>;
  latency: number | null;
  maintenance: Defaulted<boolean>;
  status: Defaulted<string>;
  last_seen_online: Timestamp | null;
  last_polled: Timestamp | null;
  system_data: Json<Record<string, unknown>>;
  group_id: number | null;
  individual_content: JSONColumnType<
    Record<string, unknown> | null,
    string | null | undefined,
    string | null
  >;
  individual_revision: Defaulted<number>;
  configuration_status: Defaulted<string>;
  configuration_status_details: Json<Record<string, unknown>>;
  /** The replica sending the `pending` configuration (migration 0105); null before that release. */
  configuration_claimed_by: string | null;
  last_applied_config_timestamp: Timestamp | null;
  applied_revision: number | null;
  applied_hash: string | null;
  running_hash: string | null;
  events_cursor: Defaulted<number>;
  /** Bumped by a trigger when a column the health poll reads changes (migration 0104). */
  poll_version: ColumnType<string, never, never>;
  machine_id: ColumnType<string | null, string | null | undefined, string | null>;
  license: JSONColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  created: ColumnType<Date, Date | string | undefined, never>;
  updated: Defaulted<Date | string>;
}

export interface ConfigRevisionsTable {
  id: Generated<number>;
  group_id: number | null;
  appliance_id: number | null;
  revision: number;
  content: Json<Record<string, unknown>>;
  created: ColumnType<Date, Date | string | undefined, never>;
  created_by: string | null;
  /** Entries of the destination lists the content referenced, by list name (migration 0361). */
  destination_lists: JSONColumnType<
    Record<string, string[]> | null,
    string | null | undefined,
    string | null
  >;
}

export interface FleetEventsTable {
  id: Generated<number>;
  at: ColumnType<Date, Date | string | undefined, never>;
  appliance_id: number | null;
  appliance_name: string | null;
  kind: string;
  severity: Defaulted<string>;
  source: Defaulted<string>;
  message: string;
  details: Json<Record<string, unknown>>;
}

declare module '../schema.js' {
  interface Database {
    fleet_identity: FleetIdentityTable;
    config_groups: ConfigGroupsTable;
    appliances: AppliancesTable;
    config_revisions: ConfigRevisionsTable;
    fleet_events: FleetEventsTable;
  }
}

export interface FleetPackagesTable {
  id: Generated<number>;
  type: string;
  version: string;
  requires: string;
  sha256: string;
  size: number;
  publisher_fingerprint: string;
  file_name: string;
  created: ColumnType<Date, Date | string | undefined, never>;
}

export interface FleetUpgradesTable {
  id: Generated<number>;
  appliance_id: number;
  /** Null once the package was removed from the store (migration 0103). */
  package_id: number | null;
  version: string;
  status: Defaulted<string>;
  log: Defaulted<string>;
  started: ColumnType<Date, Date | string | undefined, never>;
  finished: Timestamp | null;
  /** The replica following the upgrade (migration 0105); null before that release. */
  run_by: string | null;
}

declare module '../schema.js' {
  interface Database {
    fleet_packages: FleetPackagesTable;
    fleet_upgrades: FleetUpgradesTable;
  }
}

declare module '../schema.js' {
  interface Database {}
}

/** Downloads from the package repository (migration 0360). */
export interface FleetPackageDownloadsTable {
  id: Generated<number>;
  type: string;
  version: string;
  /** downloading, verifying, done or error */
  status: Defaulted<string>;
  received: Defaulted<number>;
  total: Defaulted<number>;
  error: string | null;
  started_by: string | null;
  started: ColumnType<Date, Date | string | undefined, never>;
  heartbeat: Defaulted<Date | string>;
  finished: Timestamp | null;
}

declare module '../schema.js' {
  interface Database {
    fleet_package_downloads: FleetPackageDownloadsTable;
  }
}

/** One health sample per appliance per 5-minute slot, kept 24 hours (migration 0106). */
export interface ApplianceHealthSamplesTable {
  appliance_id: number;
  slot: ColumnType<string, string | number | bigint, never>;
  at: ColumnType<Date, Date | string, never>;
  load1: number;
  memory_used_percent: number;
  disk_used_percent: number;
  uptime_seconds: ColumnType<string, number, never>;
}

declare module '../schema.js' {
  interface Database {
    appliance_health_samples: ApplianceHealthSamplesTable;
  }
}
