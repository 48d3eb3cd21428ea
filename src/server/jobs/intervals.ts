// How often each background job runs, in ms. The health-poll interval is a setting
// (STEWARD_HEALTH_POLL_SECONDS); the others are fixed here. Tests shorten any of them through
// `jobIntervals` (buildApp's deps), by the names below.

import type { Config } from '../config/config.js';

export const DEFAULT_INTERVALS = {
  /** Audit, token request log, files and abandoned upload chunks past their retention. */
  retention: 60 * 60 * 1000,
  /** The first token expiry check, a minute after start; then daily. */
  tokenExpiryFirst: 60 * 1000,
  tokenExpiry: 24 * 60 * 60 * 1000,
  /** SNMP thresholds of this replica's host. */
  hostThresholds: 60 * 1000,
  /** VACUUM (ANALYZE) of the embedded database: first 10 minutes after start, then every 6 hours. */
  embeddedMaintenanceFirst: 10 * 60 * 1000,
  embeddedMaintenance: 6 * 60 * 60 * 1000,
  /** How old the dashboard summary's fleet-wide figures may be (recounted while watched). */
  summaryFresh: 5000,
  /** This replica's row in the cluster registry. */
  clusterHeartbeat: 5000,
  /** Rollouts and upgrades a stopped replica left (ADR 0006): first 15 s after start, then every 30 s. */
  resumeLeftWorkFirst: 15 * 1000,
  resumeLeftWork: 30 * 1000,
} as const;

export type JobIntervals = Partial<Record<string, number>>;

/** The interval of `name`: the test override, else the setting or the default. */
export function intervalOf(
  name: keyof typeof DEFAULT_INTERVALS | 'fleetHealth',
  config: Pick<Config, 'healthPollSeconds'>,
  overrides: JobIntervals | undefined,
): number {
  const override = overrides?.[name];
  if (override !== undefined) return override;
  return name === 'fleetHealth' ? config.healthPollSeconds * 1000 : DEFAULT_INTERVALS[name];
}
