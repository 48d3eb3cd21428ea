// `steward package add|list|remove`: the manager's upgrade package store from the manager host,
// through the same service as `POST /api/v1/package-management/upload/` (signature and sha256
// checked, audited). With the embedded database (PGlite) stop the manager first: its data
// directory can be open in one process only; on PostgreSQL it may run.

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { normalizePackageType } from '../contract/fleet-fields.js';
import type { Config } from '../server/config/config.js';
import { MAX_PACKAGE_BYTES, type UpgradeService } from '../server/modules/upgrades/upgrades.service.js';
import { cliActor } from '../server/shared/actor.js';
import { AppError } from '../server/shared/app-error.js';
import { configFrom, withConfigFlags } from './config-flags.js';
import { stderrLogger, withCliContext } from './context.js';

const CONFIG_KEYS: readonly (keyof Config)[] = ['dataDir', 'databaseUrl', 'secretKey'];
const TYPES = 'a1000, tiscale-worker, tiscale-hub (or analyze, worker, hub) or manager';

const STORE_HELP = `
The package store lives in the manager's data directory (packages/); packages must be signed by a
publisher whose public key (PEM) is in <data dir>/package-keys/. A package of type "manager" is
the manager's own release: appliances never take it; GET /api/v1/update-system/available-update/
offers it and POST /api/v1/update/latest/ hands it to the host's apply hook. With the embedded database, stop
the manager first (its database can be open in one process only), or upload through the API:
  curl -H "Authorization: Token $T" -F file=@pkg.stwpkg https://<manager>/api/v1/package-management/upload/
Every change is written to the audit log (actor "cli:<user>", the user running the command).
`;

class CliError extends Error {}

function describe(err: unknown): string {
  if (err instanceof AppError) {
    const lines = [err.message];
    // Field errors not already in the message (badField puts its one field there).
    for (const e of err.errors ?? []) {
      const line = `${e.field}: ${e.message}`;
      if (!err.message.includes(line)) lines.push(`  ${line}`);
    }
    return lines.join('\n');
  }
  return (err as Error)?.message ?? String(err);
}

function fail(err: unknown): never {
  process.stderr.write(`steward package: ${describe(err)}\n`);
  process.exit(err instanceof CliError ? 2 : 1);
}

/** The package store: the upgrade service of the manager, as the upload route uses it. */
async function withStore<T>(
  opts: Record<string, unknown>,
  fn: (store: UpgradeService) => Promise<T>,
): Promise<T> {
  return withCliContext(
    configFrom(opts),
    { secretKey: true, log: stderrLogger('steward package') },
    ({ services }) => fn(services.upgrades),
  );
}

function checkType(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const type = normalizePackageType(value);
  if (!type) throw new CliError(`${flag}: unknown package type "${value}"; use ${TYPES}`);
  return type;
}

export function registerPackageCommand(program: Command): Command {
  const pkg = program
    .command('package')
    .description('The upgrade package store of the manager: add, list and remove signed packages')
    .addHelpText('after', STORE_HELP);

  withConfigFlags(
    pkg
      .command('add')
      .description(
        'Check a signed package (publisher signature, payload sha256, manifest) and put it in the store',
      )
      .argument('<file>', 'the package file (JSON envelope: manifest, payload, signature)')
      .option('--type <type>', `refuse the package unless its manifest is of this type: ${TYPES}`)
      .option('--version <version>', 'refuse the package unless its manifest has this version')
      .addHelpText('after', STORE_HELP),
    CONFIG_KEYS,
  ).action(async (file: string, opts: Record<string, unknown>) => {
    try {
      const expectType = checkType(opts.type as string | undefined, '--type');
      const expectVersion = opts.version as string | undefined;
      const path = resolve(file);
      const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      });
      if (!info.isFile()) throw new CliError(`${path} is not a file`);
      if (info.size > MAX_PACKAGE_BYTES) throw new CliError(`${path} is larger than 256 MiB`);
      const data = await readFile(path);
      // Check the expectations before anything is stored: peek at the manifest.
      if (expectType || expectVersion) {
        let manifest: { type?: unknown; version?: unknown } | undefined;
        try {
          manifest = (JSON.parse(data.toString('utf8')) as { manifest?: typeof manifest }).manifest;
        } catch {
          manifest = undefined; // addPackage below names what is wrong with the file
        }
        if (manifest) {
          const got = typeof manifest.type === 'string' ? normalizePackageType(manifest.type) : undefined;
          if (expectType && got && got !== expectType)
            throw new CliError(`--type: the package is for ${got}, not ${expectType}`);
          if (expectVersion && typeof manifest.version === 'string' && manifest.version !== expectVersion)
            throw new CliError(`--version: the package is version ${manifest.version}, not ${expectVersion}`);
        }
      }
      const out = await withStore(opts, (store) => store.addPackage(cliActor(), data, 'cli'));
      process.stdout.write(
        `added ${out.type} ${out.version} (requires ${out.requires}, ${out.size} bytes, sha256 ${out.sha256}, publisher ${out.publisher_fingerprint})\n`,
      );
    } catch (err) {
      fail(err);
    }
  });

  withConfigFlags(
    pkg
      .command('list')
      .description('List the packages in the store')
      .option(
        '--json',
        'print the store as JSON (GET /api/v1/package-management/ without the repository offers)',
      ),
    CONFIG_KEYS,
  ).action(async (opts: Record<string, unknown>) => {
    try {
      const out = await withStore(opts, (store) => store.list());
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      if (out.bins.length === 0) process.stdout.write('the package store is empty\n');
      for (const b of out.bins) {
        process.stdout.write(
          `${b.type.padEnd(15)} ${b.version.padEnd(12)} requires ${b.requires.padEnd(10)} ${String(b.size).padStart(10)} bytes  sha256 ${b.sha256}\n`,
        );
      }
      process.stdout.write(`used ${out.used_space} bytes, ${out.allowed_space} bytes free\n`);
    } catch (err) {
      fail(err);
    }
  });

  withConfigFlags(
    pkg
      .command('remove')
      .description(
        'Remove a package from the store (refused while an upgrade to it runs; past upgrades keep their history)',
      )
      .argument('<type>', TYPES)
      .argument('<version>', 'the package version, e.g. 5.4.0'),
    CONFIG_KEYS,
  ).action(async (type: string, version: string, opts: Record<string, unknown>) => {
    try {
      checkType(type, 'type');
      const out = await withStore(opts, (store) => store.removePackage(cliActor(), type, version, 'cli'));
      process.stdout.write(`removed ${out.type} ${out.version}\n`);
    } catch (err) {
      fail(err);
    }
  });
  return pkg;
}
