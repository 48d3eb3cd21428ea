// Backup and restore through the seed's endpoints: a backup of one manager restored on a fresh
// one reproduces every table and the uploaded files; damaged, truncated, hostile or mismatched
// archives are refused with nothing changed. Backups are admin-only, always encrypted with the
// admin-set passphrase, and never carry the master key in clear.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { multipart, sealArchive, uploadFile } from '../../../../test/helpers/system.js';
import { extractArchive, type Manifest } from './backup.archive.js';
import { END_OF_ARCHIVE, padding, tarHeader } from './tar.js';

const PASSPHRASE = 'correct horse battery staple';
const MASTER_KEY = 'ab'.repeat(32);

let a: TestContext;
let b: TestContext;
let archive: Buffer;
let uploadedName: string;
beforeAll(async () => {
  [a, b] = await Promise.all([createTestContext(), createTestContext()]);
  const h = await a.adminHeaders();
  // An admin who exists on A only: after the restore onto B she logs in there.
  await a.createUser('admin', { username: 'alice-of-a' });
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
  writeFileSync(join(a.dataDir, 'secret.key'), MASTER_KEY, { mode: 0o600 });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

const restore = async (
  t: TestContext,
  data: Buffer,
  extra: { name: string; value: string }[] = [{ name: 'passphrase', value: PASSPHRASE }],
) => {
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

/** A gzipped tar of these entries, sealed with PASSPHRASE like a real archive. */
function buildArchive(entries: { path: string; data: Buffer; type?: string }[]) {
  return sealArchive(buildTar(entries), PASSPHRASE);
}

function buildTar(entries: { path: string; data: Buffer; type?: string }[]) {
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
  const manifest = await extractArchive(file, join(dir, 'x'), { passphrase: PASSPHRASE });
  return { dir: join(dir, 'x'), manifest };
}

const rowsOf = async (t: TestContext, table: string) =>
  (await sql<{ j: string }>`select row_to_json(t)::text as j from ${sql.id(table)} t`.execute(t.db)).rows.map(
    (r) => JSON.parse(r.j) as Record<string, unknown>,
  );
const canon = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();

const setPassphrase = async (t: TestContext, passphrase: string) =>
  t.app.inject({
    method: 'POST',
    url: '/api/v1/config/backup/',
    headers: await t.adminHeaders(),
    payload: { passphrase },
  });

/** The archive as it was before the manifest moved first: entries, then manifest.json. */
async function repack(
  data: Buffer,
  edit: (m: Manifest, entries: { path: string; data: Buffer }[]) => { path: string; data: Buffer }[],
) {
  const { manifest, dir } = await unpack(data);
  try {
    const entries = manifest.tables.map((t) => ({ path: t.file, data: readFileSync(join(dir, t.file)) }));
    entries.push(...manifest.files.map((f) => ({ path: f.path, data: readFileSync(join(dir, f.path)) })));
    return await buildArchive(edit(manifest, entries));
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
}

describe('backup passphrase', () => {
  it('before a passphrase is set, create is a 409 that names the setting', async () => {
    const res = await b.app.inject({
      method: 'POST',
      url: '/api/v1/backup/create/',
      headers: await b.adminHeaders(),
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().detail).toContain('POST /api/v1/config/backup/');
    expect(res.json().detail).toContain('passphrase');
    const st = await b.app.inject({
      method: 'GET',
      url: '/api/v1/config/backup/',
      headers: await b.adminHeaders(),
    });
    expect(st.json()).toEqual({ passphrase_set: false, passphrase_set_at: null });
  });

  it('is write-only and stored only as a sealed derived key', async () => {
    const short = await setPassphrase(a, 'too short');
    expect(short.statusCode).toBe(400);
    expect(short.json().errors[0].field).toContain('passphrase');
    const res = await setPassphrase(a, PASSPHRASE);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().passphrase_set).toBe(true);
    expect(res.body).not.toContain(PASSPHRASE);
    const get = await a.app.inject({
      method: 'GET',
      url: '/api/v1/config/backup/',
      headers: await a.adminHeaders(),
    });
    expect(get.json()).toMatchObject({ passphrase_set: true });
    expect(get.body).not.toContain(PASSPHRASE);
    const rows = await sql<{
      j: string;
    }>`select value::text as j from settings where key = 'backup.passphrase'`.execute(a.db);
    expect(rows.rows[0]?.j).toContain('scrypt');
    expect(rows.rows[0]?.j).not.toContain(PASSPHRASE);
    const audit = await a.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'backup.passphrase_set')
      .execute();
    expect(audit.length).toBe(1);
    expect(JSON.stringify(audit)).not.toContain(PASSPHRASE);
    expect(a.logs.join('\n')).not.toContain(PASSPHRASE);
  });

  it('only admins set or read it', async () => {
    const op = await a.headersFor('operator');
    const res = await a.app.inject({
      method: 'POST',
      url: '/api/v1/config/backup/',
      headers: op,
      payload: { passphrase: 'operator chose this one' },
    });
    expect(res.statusCode).toBe(403);
  });
});

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
    // Reading is as sensitive as writing: an archive holds every secret of the manager.
    for (const url of ['/api/v1/backup/', '/api/v1/backup/download/', '/api/v1/config/backup/']) {
      for (const headers of [op, viewer]) {
        expect((await a.app.inject({ method: 'GET', url, headers })).statusCode, url).toBe(403);
      }
    }
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
    // Sealed: no gzip, no tar, no master key or SMTP password anywhere in the bytes.
    expect(archive.subarray(0, 8).toString('latin1')).toBe('STWBAK2\0');
    expect(() => gunzipSync(archive)).toThrow();
    expect(archive.includes(Buffer.from(MASTER_KEY))).toBe(false);
    expect(archive.includes(Buffer.from('ustar'))).toBe(false);
    const header = JSON.parse(archive.subarray(12, 12 + archive.readUInt32BE(8)).toString());
    expect(header.kdf).toMatchObject({ name: 'scrypt', N: 2 ** 17, r: 8, p: 1 });
    expect(Buffer.from(header.kdf.salt, 'base64').length).toBe(16);
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

  it('a wrong passphrase is a 400 naming it, and changes nothing', async () => {
    const before = canon(await rowsOf(b, 'users'));
    const res = await restore(b, archive, [{ name: 'passphrase', value: 'not the passphrase at all' }]);
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('body.passphrase');
    expect(res.json().detail).toContain('wrong passphrase');
    expect(canon(await rowsOf(b, 'users'))).toEqual(before);
    const none = await restore(b, archive, []);
    expect(none.statusCode).toBe(400);
    expect(none.json().errors[0].field).toBe('body.passphrase');
    expect(readdirSync(join(b.dataDir, 'backups')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('refuses an unencrypted archive, even a well-formed one', async () => {
    const { manifest, dir } = await unpack(archive);
    try {
      const entries = [{ path: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) }];
      entries.push(...manifest.tables.map((t) => ({ path: t.file, data: readFileSync(join(dir, t.file)) })));
      entries.push(...manifest.files.map((f) => ({ path: f.path, data: readFileSync(join(dir, f.path)) })));
      const res = await restore(b, buildTar(entries));
      expect(res.statusCode).toBe(400);
      expect(res.json().detail).toContain('not an encrypted Steward backup');
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });

  it('refuses a truncated archive', async () => {
    const res = await restore(b, archive.subarray(0, archive.length - 100));
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/truncated|corrupted|damaged/);
  });

  it.each([
    ['a path with ..', [{ path: '../evil', data: Buffer.from('x') }]],
    ['an absolute path', [{ path: '/etc/cron.d/evil', data: Buffer.from('x') }]],
    ['a symlink', [{ path: 'files/uploads/link', data: Buffer.alloc(0), type: '2' }]],
    ['no manifest', [{ path: 'db/users.jsonl', data: Buffer.from('{}\n') }]],
    ['not a tar at all', null],
  ])('refuses an archive with %s', async (_what, entries) => {
    const data = entries
      ? await buildArchive(entries)
      : await sealArchive(gzipSync(Buffer.from('hello')), PASSPHRASE);
    const res = await restore(b, data);
    expect(res.statusCode).toBe(400);
  });

  it('refuses a backup whose schema (migrations) differs', async () => {
    const data = await repack(archive, (m, entries) => {
      m.database.migrations.push('9999_from_the_future');
      return [{ path: 'manifest.json', data: Buffer.from(JSON.stringify(m)) }, ...entries];
    });
    const res = await restore(b, data);
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toContain('schema');
  });

  it('refuses an archive whose manifest is not the first entry (checked before anything is written)', async () => {
    const data = await repack(archive, (m, entries) => [
      ...entries,
      { path: 'manifest.json', data: Buffer.from(JSON.stringify(m)) },
    ]);
    const res = await restore(b, data);
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toContain('manifest.json, which must be first');
  });

  it('refuses early, with a 413, an archive that declares more than the disk can take', async () => {
    const before = canon(await rowsOf(b, 'users'));
    const data = await repack(archive, (m, entries) => {
      const users = m.tables.find((t) => t.name === 'users') as Manifest['tables'][number];
      users.bytes += 2 ** 50; // a petabyte: past every limit and any free space
      m.total_bytes += 2 ** 50;
      return [{ path: 'manifest.json', data: Buffer.from(JSON.stringify(m)) }, ...entries];
    });
    const res = await restore(b, data);
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json().detail).toMatch(/would expand to \d+ bytes/);
    expect(canon(await rowsOf(b, 'users'))).toEqual(before);
    expect(readdirSync(join(b.dataDir, 'backups')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('restores on a fresh manager: every table and the uploaded files are reproduced', async () => {
    const res = await restore(b, archive);
    expect(res.statusCode, res.body).toBe(200);
    // B runs with another key than the one that sealed A's SMTP password: restart needed.
    expect(res.json().restart_required).toBe(true);
    expect(readFileSync(join(b.dataDir, 'secret.key'), 'utf8')).toBe(MASTER_KEY);
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
    // An admin of manager A logs in on B; settings are A's.
    await b.login('alice-of-a', a.adminPassword);
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

  it('a one-off passphrase in the create body seals that archive with it instead', async () => {
    const h = await a.adminHeaders();
    const res = await a.app.inject({
      method: 'POST',
      url: '/api/v1/backup/create/',
      headers: h,
      payload: { passphrase: 'another passphrase for once' },
    });
    expect(res.statusCode).toBe(202);
    await waitIdle(a);
    const enc = (await a.app.inject({ method: 'GET', url: '/api/v1/backup/download/', headers: h }))
      .rawPayload;
    expect((await restore(b, enc)).statusCode).toBe(400);
    // Without a passphrase, the manager's own backup key does not open it either.
    const own = await restore(a, enc, []);
    expect(own.statusCode, own.body).toBe(400);
    expect(own.json().errors[0].field).toBe('body.passphrase');
    expect(own.json().detail).toContain("another passphrase than this manager's backup passphrase");
    const ok = await restore(b, enc, [{ name: 'passphrase', value: 'another passphrase for once' }]);
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it("restores the seed's way (the file alone) an archive this manager sealed with its backup passphrase", async () => {
    const h = await a.adminHeaders();
    expect(
      (await a.app.inject({ method: 'POST', url: '/api/v1/backup/create/', headers: h })).statusCode,
    ).toBe(202);
    await waitIdle(a);
    const own = (await a.app.inject({ method: 'GET', url: '/api/v1/backup/download/', headers: h }))
      .rawPayload;
    const res = await restore(a, own, []);
    expect(res.statusCode, res.body).toBe(200);
  });
});
