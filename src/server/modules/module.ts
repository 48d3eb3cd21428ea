// What app.ts hands every domain module, and what a module gives back. A module reaches another
// module only through what is in this context (DESIGN.md: dependencies point one way).

import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { DatabaseHandle } from '../db/client.js';
import type { LeaderLease } from '../db/leases.js';
import type { Clock } from '../shared/clock.js';
import type { SecretBox } from '../shared/secret-box.js';
import type { AuditService } from './audit/audit.service.js';
import type { SettingsStore } from './settings/settings.repo.js';

export interface ModuleContext {
  /** The query builder, for building this module's repositories (and nothing else). */
  db: DatabaseHandle['db'];
  database: DatabaseHandle;
  audit: AuditService;
  settings: SettingsStore;
  clock: Clock;
  /** The manager's data directory (uploads, certificates, backups live under it). */
  dataDir: string;
  /** AES-256-GCM for secrets that must be recoverable (SMTP password, appliance tokens). */
  secrets: SecretBox;
  /** Intervals of background jobs in ms; tests shorten them. */
  jobIntervals?: Partial<Record<string, number>>;
  /**
   * Whether this replica runs the background jobs. Jobs that must run once across replicas run
   * each tick through `leader.runJob(name, fn)`, which runs it only on the leader (always, on the
   * embedded database) and records the run in `job_runs`.
   */
  leader: LeaderLease;
}

export interface StewardModule {
  /** Registers the module's routes (a Fastify plugin). */
  routes: FastifyPluginAsync;
  /** Starts background work once the server listens (health polling, retention, ...). */
  start?(app: FastifyInstance): Promise<void> | void;
  /** Stops background work; called on shutdown before the database closes. */
  stop?(): Promise<void> | void;
}
