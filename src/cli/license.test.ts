// `steward license keygen` and `issue` produce a licence that the manager's check accepts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLicense, parseLicense } from '../server/modules/license/license.js';
import { registerLicenseCommand } from './license.js';

const dir = mkdtempSync(join(tmpdir(), 'steward-license-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => {
  const program = new Command().exitOverride();
  registerLicenseCommand(program);
  return program.parseAsync(['node', 'steward', ...args]);
};

describe('steward license', () => {
  it('keygen then issue gives a VALID licence for that machine id', async () => {
    await run('license', 'keygen', '--out-dir', dir);
    const machineId = '0123456789abcdef0123456789abcdef';
    const out = join(dir, 'licence.json');
    await run(
      'license',
      'issue',
      '--key',
      join(dir, 'vendor.key'),
      '--machine-id',
      machineId,
      '--company',
      'Example Corp',
      '--expires',
      '2099-12-31',
      '--limit',
      'appliances=25',
      '--out',
      out,
    );
    const doc = parseLicense(readFileSync(out));
    expect(doc.license).toMatchObject({
      machine_id: machineId,
      company: 'Example Corp',
      limits: { appliances: 25 },
      product: 'STEWARD_MANAGER',
    });
    const pub = readFileSync(join(dir, 'vendor.pub'), 'utf8');
    expect(checkLicense(doc, pub, machineId, new Date()).status).toBe('VALID');
  });
});
