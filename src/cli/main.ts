// `steward`: the command line. Parses arguments and calls into server/ or agent/; nothing else.
import { Command } from 'commander';
import { ConfigError, describeSettings } from '../server/config/config.js';
import { VERSION } from '../server/version.js';
import { registerAgentCommand } from './agent.js';
import { registerBackupCommand } from './backup.js';
import { configFrom, withConfigFlags } from './config-flags.js';
import { registerLicenseCommand } from './license.js';
import { registerPackageCommand } from './package.js';

const print = (line: string) => process.stdout.write(`${line}\n`);

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`steward: ${err.message}\n`);
    process.exit(2);
  }
  const e = err as { code?: string; message?: string };
  if (e?.code === 'EADDRINUSE') process.stderr.write(`steward: the port is already in use (${e.message})\n`);
  else process.stderr.write(`steward: ${e?.message ?? String(err)}\n`);
  process.exit(1);
}

const program = new Command()
  .name('steward')
  .description('Steward: a self-hosted manager for fleets of security appliances')
  .version(VERSION)
  // Program options only before the command: `steward package add --version 5.4.0` is the
  // package's version, not a request for Steward's.
  .enablePositionalOptions()
  .showHelpAfterError();

withConfigFlags(
  program
    .command('serve')
    .description('Run the manager: the management API, the console, and background jobs')
    .addHelpText(
      'after',
      `\nEvery flag can also be set by its environment variable:\n${describeSettings()}\n`,
    ),
).action(async (opts) => {
  try {
    const config = configFrom(opts);
    const { serve } = await import('../server/main.js');
    await serve(config, print);
  } catch (err) {
    fail(err);
  }
});

withConfigFlags(
  program
    .command('migrate')
    .description('Apply database migrations and exit (serve also runs them on start)'),
  ['dataDir', 'databaseUrl', 'logLevel'],
).action(async (opts) => {
  try {
    const config = configFrom(opts);
    const { openAndMigrate } = await import('../server/main.js');
    const db = await openAndMigrate(config, print);
    print('database is up to date');
    await db.close();
  } catch (err) {
    fail(err);
  }
});

const admin = program.command('admin').description('Administrative tasks run on the manager host');
withConfigFlags(
  admin
    .command('reset-password')
    .description('Set a new password for a user (default: admin), enable the account, and end its sessions')
    .option('--user <username>', 'the user whose password to reset', 'admin')
    .option('--password-stdin', 'read the new password from standard input instead of generating one'),
  ['dataDir', 'databaseUrl'],
).action(async (opts) => {
  try {
    const config = configFrom(opts);
    let password: string | undefined;
    if (opts.passwordStdin) {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      password = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '');
    }
    const { withCliContext } = await import('./context.js');
    // No secret key: resetting a password seals nothing (and never created secret.key).
    const out = await withCliContext(config, { print }, ({ services }) =>
      services.identity.users.resetPasswordFromCli(opts.user, password),
    );
    print(`password of "${out.username}" reset; its sessions have ended`);
    if (out.password) print(`new password (shown once): ${out.password}`);
  } catch (err) {
    fail(err);
  }
});

registerAgentCommand(program);
registerBackupCommand(program);
registerLicenseCommand(program);
registerPackageCommand(program);

program.parseAsync(process.argv).catch(fail);
