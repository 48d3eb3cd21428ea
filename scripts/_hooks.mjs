// Prints the manager's OpenAPI document (built from the route schemas) without starting a
// server: builds the app on an in-memory database and asks it. Used by `npm run openapi:lint`.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../dist/server/app.js';
import { loadConfig } from '../dist/server/config/config.js';
import { openDatabase } from '../dist/server/db/client.js';
import { migrateToLatest } from '../dist/server/db/migrator.js';

const dataDir = mkdtempSync(join(tmpdir(), 'steward-openapi-'));
const database = await openDatabase({});
await migrateToLatest(database.db);
const app = await buildApp({
  config: { ...loadConfig({}), logLevel: 'silent', dataDir },
  database,
  secretKey: randomBytes(32),
});
await app.ready();
console.log(app.printRoutes({ includeHooks: true, commonPrefix: false }).split('\n').slice(0).join('\n'));
await app.close();
await database.close();
rmSync(dataDir, { recursive: true, force: true });
