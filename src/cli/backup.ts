// `steward backup create|restore|verify`: the same backup service as the API, on the manager
// host, with a progress bar on standard error. With the embedded database (PGlite) the data
// directory can be open in one process only: beside a running manager these commands refuse
// (openDatabase takes the data directory's lock) and name the API to use instead.
// Every archive is encrypted: the passphrase comes from --passphrase-file, --passphrase-stdin or
// STEWARD_BACKUP_PASSPHRASE, never from the command line itself (visible to every user in `ps`).

import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../server/config/config.js';
import {
  type BackupService,
  MIN_PASSPHRASE,
  type Progress,
} from '../server/modules/backup/backup.service.js';
import { cliActor } from '../server/shared/actor.js';
import { configFrom, withConfigFlags } from './config-flags.js';
import { stderrLogger, withCliContext } from './context.js';

const CONFIG_KEYS: readonly (keyof Config)[] = ['dataDir', 'databaseUrl', 'secretKey'];

function withFlags(cmd: Command): Command {
  return withConfigFlags(cmd, CONFIG_KEYS)
    .option('--passphrase-file <file>', 'read the backup passphrase from this file (first line)')
    .option('--passphrase-stdin', 'read the backup passphrase from standard input (first line)')
    .option('--quiet', 'no progress bar')
    .addHelpText(
      'after',
      '\nEvery archive is encrypted (AES-256-GCM, key from the passphrase through scrypt). The passphrase comes from\n' +
        '--passphrase-file, --passphrase-stdin or the STEWARD_BACKUP_PASSPHRASE variable, in that order; it has at\n' +
        `least ${MIN_PASSPHRASE} characters. \`create\` without one uses the passphrase an admin set in the manager\n` +
        '(POST /api/v1/config/backup/); `verify` and `restore` always need it.\n' +
        'With the embedded database, stop the manager first: beside a running manager these commands refuse.\n',
    );
}

const firstLine = (text: string) => text.split(/\r?\n/, 1)[0] ?? '';

/** The passphrase from a file, standard input or STEWARD_BACKUP_PASSPHRASE; undefined when none. */
async function readPassphrase(opts: Record<string, unknown>, config: Config): Promise<string | undefined> {
  let p: string | undefined;
  if (typeof opts.passphraseFile === 'string')
    p = firstLine(await readFile(resolve(opts.passphraseFile), 'utf8'));
  else if (opts.passphraseStdin) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    p = firstLine(Buffer.concat(chunks).toString('utf8'));
  } else p = config.backupPassphrase;
  if (p !== undefined && p.length < MIN_PASSPHRASE)
    throw new Error(`the passphrase must have at least ${MIN_PASSPHRASE} characters`);
  return p;
}

async function requirePassphrase(opts: Record<string, unknown>): Promise<string> {
  const p = await readPassphrase(opts, configFrom(opts));
  if (p === undefined)
    throw new Error(
      'the backup passphrase is required: give --passphrase-file <file>, --passphrase-stdin or STEWARD_BACKUP_PASSPHRASE',
    );
  return p;
}

/** A one-line progress display: phase, a bar over tables, the current table and rows. */
export function progressBar(totalTables: number | undefined, quiet: boolean) {
  const seen = new Set<string>();
  let last = 0;
  return (p: Progress) => {
    if (quiet || !process.stderr.isTTY) {
      if (!quiet && (p.phase === 'done' || p.phase !== 'dump')) process.stderr.write(`${p.phase}\n`);
      return;
    }
    if (p.table) seen.add(p.table);
    const now = Date.now();
    if (now - last < 100 && p.phase !== 'done') return;
    last = now;
    const width = 30;
    const frac = totalTables ? Math.min(1, seen.size / totalTables) : p.phase === 'done' ? 1 : 0;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const detail = p.table ? ` ${p.table} ${p.rows ?? 0} rows` : '';
    process.stderr.write(`\r[${bar}] ${p.phase}${detail}`.padEnd(90).slice(0, 100));
    if (p.phase === 'done') process.stderr.write('\n');
  };
}

/**
 * The backup service, as the API uses it, on the database of the Config. No statement timeout:
 * a dump or a restore of a large manager takes longer than a request may. Its warnings (an
 * audit record it could not write) go to standard error.
 */
async function withService<T>(opts: Record<string, unknown>, fn: (svc: BackupService) => Promise<T>) {
  return withCliContext(
    configFrom(opts),
    { secretKey: true, statementTimeoutMs: 0, log: stderrLogger('steward backup', true) },
    ({ services }) => fn(services.backup),
  );
}

function fail(err: unknown): never {
  process.stderr.write(`\nsteward backup: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
}

export function registerBackupCommand(program: Command): Command {
  const backup = program
    .command('backup')
    .description('Back up and restore the whole manager (database, uploads, certificates)');

  withFlags(
    backup
      .command('create')
      .description('Write an encrypted backup to <data dir>/backups (temporary name, fsync, rename)')
      .option('--out <file>', 'also copy the finished archive here'),
  ).action(async (opts: Record<string, unknown>) => {
    try {
      const passphrase = await readPassphrase(opts, configFrom(opts));
      const name = await withService(opts, async (svc) => {
        const n = await svc.createNow({
          ...(passphrase ? { passphrase } : {}),
          onProgress: progressBar(undefined, Boolean(opts.quiet)),
        });
        if (typeof opts.out === 'string') {
          await mkdir(dirname(resolve(opts.out)), { recursive: true });
          await copyFile(`${svc.dir}/${n}`, resolve(opts.out));
        }
        return `${svc.dir}/${n}`;
      });
      process.stdout.write(`backup written: ${name}\n`);
    } catch (err) {
      fail(err);
    }
  });

  withFlags(
    backup
      .command('verify')
      .description('Check an archive completely without changing anything')
      .argument('<file>'),
  ).action(async (file: string, opts: Record<string, unknown>) => {
    try {
      const passphrase = await requirePassphrase(opts);
      const m = await withService(opts, (svc) => svc.verify(resolve(file), passphrase));
      const rows = m.tables.reduce((a, t) => a + t.rows, 0);
      process.stdout.write(
        `OK: backup of ${m.created_at} (Steward ${m.steward_version}): ${m.tables.length} tables, ${rows} rows, ${m.files.length} files\n`,
      );
    } catch (err) {
      fail(err);
    }
  });

  withFlags(
    backup
      .command('restore')
      .description('Replace the whole manager state with an archive (checked completely first)')
      .argument('<file>')
      .option('--yes', 'do not ask for confirmation'),
  ).action(async (file: string, opts: Record<string, unknown>) => {
    try {
      if (!opts.yes)
        throw new Error('restore replaces every table and uploaded file; run again with --yes to confirm');
      const passphrase = await requirePassphrase(opts);
      const out = await withService(opts, (svc) =>
        svc.restore(
          resolve(file),
          // The command line acts as `cli:<user>`, like every other command.
          cliActor(),
          { passphrase, onProgress: progressBar(undefined, Boolean(opts.quiet)) },
        ),
      );
      process.stdout.write(
        `restored the backup of ${out.manifest.created_at}: ${out.manifest.tables.length} tables, ${out.manifest.files.length} files. ` +
          'Apply configuration to configuration groups again.\n',
      );
    } catch (err) {
      fail(err);
    }
  });
  return backup;
}
