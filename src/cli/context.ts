// The one factory the `steward` commands share: it opens and migrates the database from the
// Config, loads the secret key when the command needs it, builds the services through the same
// composition root as the server (server/services.ts), runs the command, and closes everything,
// on failure too. Commands act as `cliActor()` (audit user `cli:<os user>`).

import type { Config } from '../server/config/config.js';
import type { DatabaseHandle } from '../server/db/client.js';
import { openAndMigrate } from '../server/db/open.js';
import { loadSecretKey } from '../server/secret-key.js';
import { createServices, type Services } from '../server/services.js';
import type { Logger } from '../server/shared/logger.js';

export interface CliContextOptions {
  /**
   * Load the key for secrets (creating `<data dir>/secret.key` when there is none and
   * STEWARD_SECRET_KEY is unset). Only commands that seal or open secrets ask for it.
   */
  secretKey?: boolean;
  /** Statement timeout on PostgreSQL in ms (0: none, for backups and restores). */
  statementTimeoutMs?: number;
  /** Where the services' warnings go (default: standard error, prefixed `steward:`). */
  log?: Logger;
  /** Told which migrations ran (default: nothing said). */
  print?: (line: string) => void;
}

export interface CliContext {
  config: Config;
  database: DatabaseHandle;
  services: Services;
}

/** A Logger writing warnings and errors to standard error as `<prefix>: message[: error]`. */
export function stderrLogger(prefix: string, leadingNewline = false): Logger {
  const write = (a: string | object, msg?: string) => {
    const err = typeof a === 'string' ? undefined : (a as { err?: unknown }).err;
    const text =
      typeof a === 'string' ? a : `${msg ?? ''}${err ? `: ${(err as Error)?.message ?? String(err)}` : ''}`;
    process.stderr.write(`${leadingNewline ? '\n' : ''}${prefix}: ${text}\n`);
  };
  return { debug() {}, info() {}, warn: write, error: write };
}

/** Runs `fn` with the services of the manager whose Config is given, then closes them. */
export async function withCliContext<T>(
  config: Config,
  opts: CliContextOptions,
  fn: (ctx: CliContext) => Promise<T>,
): Promise<T> {
  const database = await openAndMigrate(
    { dataDir: config.dataDir, databaseUrl: config.databaseUrl, statementTimeoutMs: opts.statementTimeoutMs },
    opts.print,
  );
  try {
    const services = createServices({
      config,
      database,
      secretKey: opts.secretKey ? loadSecretKey(config.dataDir, config.secretKey) : undefined,
      log: opts.log ?? stderrLogger('steward'),
      role: 'cli',
    });
    try {
      return await fn({ config, database, services });
    } finally {
      await services.close();
    }
  } finally {
    await database.close();
  }
}
