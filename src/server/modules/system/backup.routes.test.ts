// Backup and restore through the seed's endpoints: a backup of one manager restored on a fresh
// one reproduces every table and the uploaded files; damaged, truncated, hostile or mismatched
// archives are refused with nothing changed.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { extractArchive, type Manifest } from './backup.archive.js';
import { END_OF_ARCHIVE, padding, tarHeader } from './tar.js';
import { multipart, uploadFile } from './test-support.js';

let a: TestContext;
let b: TestContext;
let archive: Buffer;
let uploadedName: string;
beforeAll(async () => {
  [a, b] = await Promise.all([createTestContext(), createTestContext()]);
  const h = await a.adminHeaders();
  await a.createUser('operator', { username: 'olga' });
  await a.createUser('viewer', { username: 'vic' });
  await a.headersFor('operator');
  await a.app.inject({
    method: 'POST',
    url: '/api/v1/config/ntp/',
    headers: h,
    payload: { enable: true, servers: 'ntp.example.com' },
  });
  await a.app.inject({
    method: 'POST',
    url: '/api/v1/config/smtp/',
    headers: h,
    payload: { host: 'smtp.example.com', password: 'Backup-Smtp-Pw-1' },
  });
  const up = await uploadFile(a.app, h, 'capture.pcap', Buffer.from('d4c3b2a1 pretend capture'));
  uploadedName = `${up.id}.capture.pcap`;
  await sql`insert into appliances (name, type, url, configuration_status)
    values ('worker-1', 'tiscale-worker', 'https://192.0.2.21', 'done'),
           ('loner', 'tiscale-worker', 'https://192.0.2.22', 'no_configuration_group')`.execute(a.db);
  // As on a real manager: the key sealing stored secrets sits in the data directory.
  writeFileSync(join(a.dataDir, 'secret.key'), 'ab'.repeat(32), { mode: 0o600 });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

const restore = async (t: TestContext, data: Buffer, extra: { name: string; value: string }[] = []) => {
  const mp = multipart([...extra, { name: 'file', value: data, filename: 'backup.tar.gz' }]);
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/backup/restore-upload/',
    // A restore ends every session (sessions are not in backups): log in for each one.
    headers: { ...(await t.login('admin', t.adminPassword)), ...mp.headers },
    payload: mp.payload,
  });
};

async function waitIdle(t: TestContext) {
  const h = await t.adminHeaders();
  await expect
    .poll(
      async () => (await t.app.inject({ method: 'GET', url: '/api/v1/backup/', headers: h })).json().message,
      { timeout: 30_000 },
    )
    .toMatch(/^idle/);
  return (await t.app.inject({ method: 'GET', url: '/api/v1/backup/', headers: h })).json();
}

function buildArchive(entries: { path: string; data: Buffer; type?: string }[]) {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const h = tarHeader(e.path, e.data.length, new Date());
    if (e.type) {
      h.write(e.type, 156, 1, 'ascii');
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const x of h) sum += x;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
    }
    parts.push(h, e.data, padding(e.data.length));
  }
  parts.push(END_OF_ARCHIVE);
  return gzipSync(Buffer.concat(parts));
}

async function unpack(data: Buffer): Promise<{ dir: string; manifest: Manifest }> {
  const dir = mkdtempSync(join(tmpdir(), 'steward-unpack-'));
  const file = join(dir, 'a.tar.gz');
  await import('node:fs/promises').then((fs) => fs.writeFile(file, data));
  const manifest = await extractArchive(file, join(dir, 'x'));
  return { dir: join(dir, 'x'), manifest };
}

const rowsOf = async (t: TestContext, table: string) =>
  (await sql<{ j: string }>`select row_to_json(t)::text as j from ${sql.id(table)} t`.execute(t.db)).rows.map(
    (r) => JSON.parse(r.j) as Record<string, unknown>,
  );
const canon = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();

describe('backup', () => {
  it('reports no backup before the first one; download is 404', async () => {
    const h = await a.adminHeaders();
    const s = await a.app.inject({ method: 'GET', url: '/api/v1/backup/', headers: h });
    expect(s.json()).toMatchObject({ status: 'none', message: 'idle', backup_filename: '' });
    expect(
      (await a.app.inject({ method: 'GET', url: '/api/v1/backup/download/', headers: h })).statusCode,
    ).toBe(404);
  });

  it('only admins back up and restore', async () => {
    const op = await a.headersFor('operator');
    const viewer = await a.headersFor('viewer');
    expect(
      (await a.app.inject({ method: 'POST', url: '/api/v1/backup/create/', headers: op })).statusCode,
    ).toBe(403);
    expect(
      (await a.app.inject({ method: 'GET', url: '/api/v1/backup/download/', headers: viewer })).statusCode,
    ).toBe(403);
    const mp = multipart([{ name: 'file', value: Buffer.from('x'), filename: 'b' }]);
    expect(
      (
        await a.app.inject({
          method: 'POST',
          url: '/api/v1/backup/restore-upload/',
          headers: { ...op, ...mp.headers },
          payload: mp.payload,
        })
      ).statusCode,
    ).toBe(403);
  });

  it('creates a backup in the background; status says idle with the file name; download streams it', async () => {
    const h = await a.adminHeaders();
    const res = await a.app.inject({ method: 'POST', url: '/api/v1/backup/create/', headers: h });
    expect(res.statusCode).toBe(202);
    const st = await waitIdle(a);
    expect(st.status).toBe('success');
    expect(st.backup_filename).toMatch(/^steward-backup-\d{8}T\d{6}Z(-\d+)?\.tar\.gz$/);
    const dl = await a.app.inject({ method: 'GET', url: '/api/v1/backup/download/', headers: h });
    expect(dl.statusCode).toBe(200);
    expect(dl.headers['content-disposition']).toBe(`attachment; filename="${st.backup_filename}"`);
    archive = dl.rawPayload;
    expect(archive.length).toBe(st.size);
    expect(readdirSync(join(a.dataDir, 'backups')).filter((n) => n.startsWith('.'))).toEqual([]);
    const { manifest, dir } = await unpack(archive);
    try {
      const names = manifest.tables.map((t) => t.name);
      for (const table of ['users', 'api_tokens', 'settings', 'audit_log', 'files'])
        expect(names).toContain(table);
      // Runtime coordination state and login sessions are not part of a backup.
      for (const table of ['sessions', 'rate_limit_counters', 'cluster_replicas', 'kysely_migration']) {
        expect(names).not.toContain(table);
      }
      expect(manifest.files.map((f) => f.path)).toContain(`files/uploads/${uploadedName}`);
      expect(manifest.files.map((f) => f.path)).toContain('files/key/secret.key');
      expect(readFileSync(join(dir, 'db', 'settings.jsonl'), 'utf8')).not.toContain('Backup-Smtp-Pw-1');
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});

describe('restore', () => {
  it('refuses a corrupted archive and changes nothing', async () => {
    await b.adminHeaders();
    const before = canon(await rowsOf(b, 'users'));
    const bad = Buffer.from(archive);
    bad[Math.floor(bad.length / 2)] = (bad[Math.floor(bad.length / 2)] as number) ^ 0xff;
    const res = await restore(b, bad);
    expect(res.statusCode).toBe(400);
    expect(canon(await rowsOf(b, 'users'))).toEqual(before);
  });

  it('refuses a truncated archive', async () => {
    const res = await restore(b, archive.subarray(0, archive.length - 100));
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/truncated|corrupted/);
  });

  it.each([
    ['a path with ..', [{ path: '../evil', data: Buffer.from('x') }]],
    ['an absolute path', [{ path: '/etc/cron.d/evil', data: Buffer.from('x') }]],
    ['a symlink', [{ path: 'files/uploads/link', data: Buffer.alloc(0), type: '2' }]],
    ['no manifest', [{ path: 'db/users.jsonl', data: Buffer.from('{}\n') }]],
    ['not a tar at all', null],
  ])('refuses an archive with %s', async (_what, entries) => {
    const data = entries ? buildArchive(entries) : gzipSync(Buffer.from('hello'));
    const res = await restore(b, data);
    expect(res.statusCode).toBe(400);
  });

  it('refuses a backup whose schema (migrations) differs', async () => {
    const { manifest, dir } = await unpack(archive);
    try {
      manifest.database.migrations.push('9999_from_the_future');
      const entries = manifest.tables.map((t) => ({ path: t.file, data: readFileSync(join(dir, t.file)) }));
      entries.push(...manifest.files.map((f) => ({ path: f.path, data: readFileSync(join(dir, f.path)) })));
      entries.push({ path: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) });
      const res = await restore(b, buildArchive(entries));
      expect(res.statusCode).toBe(400);
      expect(res.json().detail).toContain('schema');
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });

  it('restores on a fresh manager: every table and the uploaded files are reproduced', async () => {
    const res = await restore(b, archive);
    expect(res.statusCode, res.body).toBe(200);
    // B runs with another key than the one that sealed A's SMTP password: restart needed.
    expect(res.json().restart_required).toBe(true);
    expect(readFileSync(join(b.dataDir, 'secret.key'), 'utf8')).toBe('ab'.repeat(32));
    const { manifest, dir } = await unpack(archive);
    try {
      for (const t of manifest.tables) {
        const expected = readFileSync(join(dir, t.file), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        let got = await rowsOf(b, t.name);
        if (t.name === 'audit_log') got = got.filter((r) => r.action !== 'backup.restored');
        if (t.name === 'appliances') {
          // As the seed says: restored configuration must be applied again.
          expect(got.find((r) => r.name === 'worker-1')?.configuration_status).toBe('changes_awaiting_apply');
          expect(got.find((r) => r.name === 'loner')?.configuration_status).toBe('no_configuration_group');
          for (const r of [...got, ...expected]) r.configuration_status = '-';
        }
        expect(got.length, t.name).toBe(t.rows);
        expect(canon(got), t.name).toEqual(canon(expected));
      }
      expect(readFileSync(join(b.dataDir, 'uploads', uploadedName), 'utf8')).toBe('d4c3b2a1 pretend capture');
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
    // The restored admin (from manager A) logs in with A's password; settings are A's.
    const h = await b.login('admin', b.adminPassword);
    const smtp = await b.app.inject({ method: 'GET', url: '/api/v1/config/smtp/', headers: h });
    expect(smtp.json()).toMatchObject({ host: 'smtp.example.com', password_set: true });
    const ntp = await b.app.inject({ method: 'GET', url: '/api/v1/config/ntp/', headers: h });
    expect(ntp.json()).toMatchObject({ enable: true, servers: 'ntp.example.com' });
    const audit = await b.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'backup.restored')
      .execute();
    expect(audit.length).toBe(1);
    // New rows do not collide with restored ids (sequences were reset).
    b.forgetAdminSession();
    await b.createUser('viewer');
  });

  it('encrypted backups need their passphrase', async () => {
    const h = await a.adminHeaders();
    const res = await a.app.inject({
      method: 'POST',
      url: '/api/v1/backup/create/',
      headers: h,
      payload: { passphrase: 'correct horse battery staple' },
    });
    expect(res.statusCode).toBe(202);
    await waitIdle(a);
    const enc = (await a.app.inject({ method: 'GET', url: '/api/v1/backup/download/', headers: h }))
      .rawPayload;
    expect(enc.subarray(0, 7).toString()).toBe('STWENC1');
    expect((await restore(b, enc)).statusCode).toBe(400);
    expect((await restore(b, enc, [{ name: 'passphrase', value: 'wrong passphrase!!' }])).statusCode).toBe(
      400,
    );
    const ok = await restore(b, enc, [{ name: 'passphrase', value: 'correct horse battery staple' }]);
    expect(ok.statusCode, ok.body).toBe(200);
  });
});
