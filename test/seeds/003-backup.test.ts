// Seed 003, "Back up and restore the Manager": create, status, download, upload and restore, with
// curl against the built `steward serve`.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  eventually,
  expectStatus,
  type SeedManager,
  seedCurl,
  seedRequest,
  startSeedManager,
} from './harness.js';

let m: SeedManager;
let apiToken: string;
const work = mkdtempSync(join(tmpdir(), 'steward-seed-backup-'));

beforeAll(async () => {
  m = await startSeedManager();
  // An API token: it survives the restore (sessions do not), so the last step can check the result.
  apiToken = expectStatus(
    await api(m, 'POST', '/api/v1/tokens/', {
      name: 'backup-steps',
      scopes: ['backup:read', 'backup:write', 'configuration:read', 'configuration:write'],
    }),
    201,
  ).json().token;
  // Not a seed step: Steward encrypts every backup with a passphrase an admin sets once
  // (docs/administration.md, "Backups"); from then on the seed's commands work as written.
  expectStatus(
    await api(m, 'POST', '/api/v1/config/backup/', { passphrase: 'seed backup passphrase 003' }),
    200,
  );
});
afterAll(async () => {
  await m?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('seed 003: Back up and restore the Manager', () => {
  it('Create a backup file: POST /api/v1/backup/create/', async () => {
    const res = await seedRequest(m, 'POST /api/v1/backup/create/', undefined, { token: apiToken });
    expect(res.status, res.body).toBe(202);
  });

  it("Find out the backup status: GET /api/v1/backup/ (message 'idle': ready)", async () => {
    const done = await eventually('the backup', async () => {
      const res = expectStatus(
        await seedRequest(m, 'GET /api/v1/backup/', undefined, { token: apiToken }),
        200,
      );
      const body = res.json();
      return body.message === 'idle' && body.backup_filename && body;
    });
    expect(done.backup_filename).toMatch(/\.tar\.gz$/);
  });

  it('Download backup file: GET /api/v1/backup/download/', async () => {
    const res = await seedCurl(
      `curl -X GET https://{server}/api/v1/backup/download/ -H 'Authorization: Token <token>' -o steward-backup.tar.gz`,
      m,
      { cwd: work, token: apiToken },
    );
    expect(res.status).toBe(200);
    expect(statSync(join(work, 'steward-backup.tar.gz')).size).toBeGreaterThan(1000);
  });

  it('Upload and restore the Manager from backup: POST /api/v1/backup/restore-upload/ -F file=@...', async () => {
    // Something made after the backup, which the restore takes away.
    expectStatus(await api(m, 'POST', '/api/v1/config-group/create/', { name: 'after-backup' }), 201);
    const res = await seedCurl(
      `curl -X POST https://{server}/api/v1/backup/restore-upload/ -H 'Authorization: Token <token>' -F file=@steward-backup.tar.gz`,
      m,
      { cwd: work, token: apiToken },
    );
    expect(res.status, res.body).toBe(200);
    const groups = await seedRequest(m, 'GET /api/v1/config-group/list/', undefined, { token: apiToken });
    expect(groups.status, groups.body).toBe(200);
    expect(groups.json().results.map((g: { name: string }) => g.name)).not.toContain('after-backup');
  });
});
