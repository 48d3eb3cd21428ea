// The only file that touches the process: it opens the database, migrates it, builds the app,
// listens, prints where things are, and shuts down cleanly on SIGTERM/SIGINT.

import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { Config } from './config/config.js';
import type { DatabaseHandle } from './db/client.js';
import { openAndMigrate as openDatabaseAndMigrate } from './db/open.js';
import { loadSecretKey } from './secret-key.js';
import { createServices } from './services.js';
import { limitHeapGrowth } from './shared/heap-growth.js';
import { silentLogger } from './shared/logger.js';
import { loadTls } from './tls.js';

export type Print = (line: string) => void;

/** The data directory and the database of the Config, migrated (`steward serve` and `migrate`). */
export function openAndMigrate(config: Config, print: Print): Promise<DatabaseHandle> {
  return openDatabaseAndMigrate(config, print);
}

export async function serve(config: Config, print: Print): Promise<FastifyInstance> {
  const database = await openAndMigrate(config, print);
  // The built-in admin exists before anything listens (the key for secrets is not needed yet).
  const { identity } = createServices({ config, database, log: silentLogger });
  const admin = await identity.users.ensureAdmin(config.adminPassword);
  const tls = config.tls ? await loadTls(config.dataDir, config.tlsCert, config.tlsKey) : undefined;
  // The process's V8 heap: a manager's steady state (the fleet it polls) is what V8 would
  // otherwise let grow to twice its size or more between full collections (heap-growth.ts).
  limitHeapGrowth(config.heapGrowthPercent);
  const app = await buildApp({
    config,
    database,
    secretKey: loadSecretKey(config.dataDir, config.secretKey),
    defaultMetrics: true,
    licensePublicKey: config.licensePublicKeyFile
      ? readFileSync(config.licensePublicKeyFile, 'utf8')
      : undefined,
    ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const base = `${tls ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  // One write, so a reader (a supervisor, a test) sees the whole banner at once.
  const lines: string[] = [];
  lines.push(`Steward manager listening on ${base} (bound to ${config.host}:${port})`);
  lines.push(`API docs:  ${base}/api/docs   OpenAPI: ${base}/api/v1/openapi.json`);
  lines.push(
    `Data:      ${config.dataDir} (database: ${database.kind === 'pglite' ? `embedded, ${database.location}` : database.location})`,
  );
  if (tls) lines.push(`TLS:       ${tls.source}; SHA-256 fingerprint ${tls.fingerprint}`);
  else lines.push('TLS:       off (plain HTTP; put a TLS proxy in front)');
  if (admin.generatedPassword) {
    lines.push('');
    lines.push('The built-in admin user was created with this password. It is shown only this once:');
    lines.push(`  username: admin`);
    lines.push(`  password: ${admin.generatedPassword}`);
    lines.push('Change it after logging in (PUT /api/v1/authentication/users/1/password/).');
    lines.push('');
  } else if (admin.created) {
    lines.push('The built-in admin user was created with the password from STEWARD_ADMIN_PASSWORD.');
  }
  print(lines.join('\n'));
  await app.startJobs();

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing requests in flight');
    const force = setTimeout(() => {
      app.log.error('shutdown took longer than 15 s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      await app.close();
      await database.close();
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return app;
}
