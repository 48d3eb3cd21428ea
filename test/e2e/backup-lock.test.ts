// `steward backup create|restore` beside a running manager on the embedded database: the manager
// holds its data directory's lock, so the command refuses with a message naming the API to use,
// and writes nothing. Once the manager has stopped the same commands work.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, runSteward, startManager } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'steward-e2e-backup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = 'E2e Admin Passphrase 2026';
const PASSPHRASE = 'e2e backup passphrase';

describe('steward backup beside a running manager', () => {
  it('refuses while steward serve holds the data directory, and works once it has stopped', async () => {
    const dataDir = join(dir, 'data');
    const env = { STEWARD_DATA_DIR: dataDir, STEWARD_ADMIN_PASSWORD: PASSWORD, STEWARD_TLS: 'off' };
    const cli = { STEWARD_BACKUP_PASSPHRASE: PASSPHRASE, STEWARD_DATA_DIR: dataDir };
    const archive = join(dir, 'from-api.tar.gz');
    const m = await startManager(env);
    let stopped = false;
    try {
      const login = await call(`${m.baseUrl}/api/v1/auth/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
      });
      const h = { authorization: `Token ${login.json().token}`, 'content-type': 'application/json' };
      const set = await call(`${m.baseUrl}/api/v1/config/backup/`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ passphrase: PASSPHRASE }),
      });
      expect(set.status, set.body).toBe(200);
      expect(
        (await call(`${m.baseUrl}/api/v1/backup/create/`, { method: 'POST', headers: h, body: '{}' })).status,
      ).toBe(202);
      await expect
        .poll(async () => (await call(`${m.baseUrl}/api/v1/backup/`, { headers: h })).json(), {
          timeout: 60_000,
        })
        .toMatchObject({ message: 'idle', status: 'success' });
      // fetch for the bytes (call() decodes bodies as text); plain HTTP on loopback.
      const dl = await fetch(`${m.baseUrl}/api/v1/backup/download/`, { headers: h });
      expect(dl.status).toBe(200);
      writeFileSync(archive, Buffer.from(await dl.arrayBuffer()));

      for (const args of [
        ['backup', 'create', '--quiet'],
        ['backup', 'restore', archive, '--yes', '--quiet'],
      ]) {
        const r = await runSteward(args, cli);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toContain(`the data directory ${dataDir} is in use by`);
        expect(r.stderr).toContain(`pid ${m.proc.pid}`);
        expect(r.stderr).toContain('POST /api/v1/backup/create/');
      }
      // The manager is untouched and keeps working.
      const users = await call(`${m.baseUrl}/api/v1/authentication/users/`, { headers: h });
      expect(users.status).toBe(200);
      expect(await m.stop('SIGTERM')).toBe(0);
      stopped = true;
      expect(existsSync(join(dataDir, 'steward.lock'))).toBe(false);

      const created = await runSteward(['backup', 'create', '--quiet'], cli);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toContain('backup written:');
      const restored = await runSteward(['backup', 'restore', archive, '--yes', '--quiet'], cli);
      expect(restored.code, restored.stderr).toBe(0);
      const wrong = await runSteward(['backup', 'verify', archive, '--quiet'], {
        ...cli,
        STEWARD_BACKUP_PASSPHRASE: 'not the passphrase here',
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('wrong passphrase');
    } finally {
      if (!stopped) await m.stop('SIGKILL');
    }
  }, 240_000);
});
