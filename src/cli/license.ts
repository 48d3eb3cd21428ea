// `steward license keygen|issue`: the vendor side of manager licences. `keygen` makes an Ed25519
// key pair (the public key goes into the manager's configuration); `issue` signs a licence for a
// machine id. For tests, and for people who run their own licensing.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type LicenseBody, signLicense } from '../server/modules/license/license.js';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function fail(message: string): never {
  process.stderr.write(`steward license: ${message}\n`);
  process.exit(2);
}

export function registerLicenseCommand(program: Command): Command {
  const license = program
    .command('license')
    .description('Manager licences (vendor side): key pairs and signed licences');

  license
    .command('keygen')
    .description(
      'Create an Ed25519 vendor key pair: vendor.key (keep secret) and vendor.pub (manager configuration)',
    )
    .requiredOption('--out-dir <dir>', 'where to write vendor.key and vendor.pub')
    .action((opts: { outDir: string }) => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      writeFileSync(join(opts.outDir, 'vendor.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
        flag: 'wx',
      });
      writeFileSync(join(opts.outDir, 'vendor.pub'), publicKey.export({ type: 'spki', format: 'pem' }), {
        mode: 0o644,
        flag: 'wx',
      });
      process.stdout.write(
        `wrote ${join(opts.outDir, 'vendor.key')} and ${join(opts.outDir, 'vendor.pub')}\n`,
      );
    });

  license
    .command('issue')
    .description('Sign a licence for a manager machine id (from POST /api/v1/license/machine-id/generate/)')
    .requiredOption('--key <file>', 'the vendor private key (PEM, Ed25519)')
    .requiredOption('--machine-id <id>', 'the manager machine id (32 hex characters)')
    .requiredOption('--company <name>', 'licensee')
    .requiredOption('--expires <YYYY-MM-DD>', 'last day of validity (UTC)')
    .option('--product <name>', 'product', 'STEWARD_MANAGER')
    .option('--type <type>', 'licence type', 'SUBSCRIPTION')
    .option('--serial <serial>', 'serial number (default: a new UUID)')
    .option('--created <YYYY-MM-DD>', 'creation date (default: today)')
    .option('--limit <name=value...>', 'limits, e.g. --limit appliances=100')
    .option('--out <file>', 'write the licence here instead of standard output')
    .action((opts: Record<string, string | string[] | undefined>) => {
      const machineId = String(opts.machineId);
      if (!/^[0-9a-f]{32}$/i.test(machineId)) fail('--machine-id must be 32 hexadecimal characters');
      const expires = String(opts.expires);
      const created = String(opts.created ?? new Date().toISOString().slice(0, 10));
      if (!DATE_RE.test(expires) || !DATE_RE.test(created)) fail('dates must be YYYY-MM-DD');
      const limits: Record<string, number> = {};
      for (const l of (opts.limit as string[] | undefined) ?? []) {
        const m = /^([a-z_][a-z0-9_]*)=(\d+)$/i.exec(l);
        if (!m) fail(`--limit ${l}: expected name=number`);
        limits[m[1] as string] = Number(m[2]);
      }
      const body: LicenseBody = {
        serial_number: String(opts.serial ?? randomUUID()),
        product: String(opts.product),
        company: String(opts.company),
        license_type: String(opts.type),
        machine_id: machineId.toLowerCase(),
        creation_date: created,
        expiry_date: expires,
        limits,
      };
      let doc: ReturnType<typeof signLicense>;
      try {
        doc = signLicense(readFileSync(String(opts.key), 'utf8'), body);
      } catch (err) {
        fail((err as Error).message);
      }
      const text = `${JSON.stringify(doc, null, 2)}\n`;
      if (opts.out) {
        writeFileSync(String(opts.out), text, { mode: 0o644 });
        process.stderr.write(
          `licence ${body.serial_number} for ${body.machine_id} written to ${String(opts.out)}\n`,
        );
      } else {
        process.stdout.write(text);
      }
    });
  return license;
}
