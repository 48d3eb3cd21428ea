// The archive format on its own: sealing (no plaintext, wrong passphrase and tampering found
// early), and extraction that reads the manifest first and refuses a hostile archive before it
// has written anything to the staging directory.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { sealArchive } from '../../../../test/helpers/system.js';
import { ArchiveError, extractArchive, type Manifest } from './backup.archive.js';
import { BackupCryptoError, encryptStream, newBackupKey, openDecryptor } from './backup.crypto.js';
import { END_OF_ARCHIVE, padding, tarHeader } from './tar.js';

const PASSPHRASE = 'archive test passphrase';
const root = mkdtempSync(join(tmpdir(), 'steward-archive-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function manifestFor(
  tables: { name: string; data: Buffer }[],
  extra: Partial<Manifest> = {},
): Manifest & Record<string, unknown> {
  const t = tables.map(({ name, data }) => ({
    name,
    file: `db/${name}.jsonl`,
    rows: data.toString().split('\n').filter(Boolean).length,
    bytes: data.length,
    sha256: sha(data),
  }));
  return {
    format: 'steward-backup',
    format_version: 2,
    steward_version: 'test',
    created_at: new Date().toISOString(),
    database: { kind: 'pglite', migrations: [] },
    tables: t,
    files: [],
    total_bytes: t.reduce((a, x) => a + x.bytes, 0),
    entries: t.length,
    ...extra,
  };
}

const entry = (path: string, data: Buffer) => [
  tarHeader(path, data.length, new Date()),
  data,
  padding(data.length),
];

/** Bytes in files under dir (directories themselves do not count). */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += statSync(join(e.parentPath, e.name)).size;
  }
  return total;
}

async function extract(sealed: Buffer, opts: Partial<Parameters<typeof extractArchive>[2]> = {}) {
  const dir = join(root, `case-${n++}`);
  const file = `${dir}.bin`;
  writeFileSync(file, sealed);
  try {
    return { manifest: await extractArchive(file, dir, { passphrase: PASSPHRASE, ...opts }), dir };
  } catch (err) {
    return { err: err as ArchiveError, dir };
  }
}

/** gzip of a manifest that promises a 10-byte users table, then a tar entry of `size` zero bytes. */
async function bomb(size: number): Promise<Buffer> {
  const m = manifestFor([{ name: 'users', data: Buffer.from('{"id":1}\n\n') }]);
  const gz = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((r) => gz.on('end', r));
  for (const b of entry('manifest.json', Buffer.from(JSON.stringify(m)))) gz.write(b);
  gz.write(tarHeader('db/users.jsonl', size, new Date()));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= zeros.length) {
    if (!gz.write(zeros.subarray(0, Math.min(zeros.length, left))))
      await new Promise((r) => gz.once('drain', r));
  }
  gz.end(END_OF_ARCHIVE);
  await done;
  return Buffer.concat(out);
}

describe('extraction reads the manifest first', () => {
  it('refuses an entry larger than the manifest declares at its header, before writing any byte', async () => {
    const gz = await bomb(256 * 1024 * 1024);
    expect(gz.length).toBeLessThan(2 * 1024 * 1024); // a small upload ...
    const { err, dir } = await extract(await sealArchive(gz, PASSPHRASE));
    expect(err).toBeInstanceOf(ArchiveError);
    expect(err?.message).toContain('268435456 bytes, but the manifest declares 10');
    expect(bytesUnder(dir)).toBe(0); // ... refused before it filled the staging directory
  });

  it('refuses more entries or bytes than the limits allow, before writing anything', async () => {
    const tables = ['a', 'b', 'c'].map((name) => ({
      name,
      data: Buffer.from(`{"x":"${name.repeat(100)}"}\n`),
    }));
    const tar = Buffer.concat([
      ...entry('manifest.json', Buffer.from(JSON.stringify(manifestFor(tables)))),
      ...tables.flatMap((t) => entry(`db/${t.name}.jsonl`, t.data)),
      END_OF_ARCHIVE,
    ]);
    const sealed = await sealArchive(gzipSync(tar), PASSPHRASE);
    const ok = await extract(sealed);
    expect(ok.manifest?.entries).toBe(3);
    const entries = await extract(sealed, { limits: { maxBytes: 1e9, maxEntries: 2 } });
    expect(entries.err?.kind).toBe('too_large');
    expect(entries.err?.message).toContain('3 entries, more than the limit of 2');
    expect(bytesUnder(entries.dir)).toBe(0);
    const bytes = await extract(sealed, { limits: { maxBytes: 100, maxEntries: 10 } });
    expect(bytes.err?.kind).toBe('too_large');
    expect(bytes.err?.message).toMatch(/would expand to \d+ bytes, more than the limit of 100/);
    expect(bytesUnder(bytes.dir)).toBe(0);
  });

  it('refuses a manifest whose totals disagree with its entries', async () => {
    const t = [{ name: 'a', data: Buffer.from('{}\n') }];
    const m = manifestFor(t, { total_bytes: 0 });
    const tar = Buffer.concat([...entry('manifest.json', Buffer.from(JSON.stringify(m))), END_OF_ARCHIVE]);
    const { err } = await extract(await sealArchive(gzipSync(tar), PASSPHRASE));
    expect(err?.message).toContain('totals do not match');
  });

  it('stops decompressing once the stream passes what the manifest declared', async () => {
    const t = [{ name: 'a', data: Buffer.from('{}\n') }];
    const tar = Buffer.concat([
      ...entry('manifest.json', Buffer.from(JSON.stringify(manifestFor(t)))),
      ...entry('db/a.jsonl', t[0]?.data as Buffer),
      END_OF_ARCHIVE,
      Buffer.alloc(64 * 1024 * 1024), // zeros after the end: cheap to send, costly to inflate
    ]);
    const { err } = await extract(await sealArchive(gzipSync(tar), PASSPHRASE));
    expect(err?.kind).toBe('too_large');
  });
});

describe('sealing', () => {
  const plain = Buffer.concat([Buffer.from('secret.key=abababab '), Buffer.alloc(200_000, 7)]);
  let sealed: Buffer;

  async function open(data: Buffer, passphrase = PASSPHRASE): Promise<Buffer> {
    const { skip, stream } = await openDecryptor(data, passphrase);
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    const done = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.end(data.subarray(skip));
    await done;
    return Buffer.concat(out);
  }

  it('round-trips, and the sealed bytes hold none of the plaintext', async () => {
    sealed = await sealArchive(plain, PASSPHRASE);
    expect(sealed.includes(Buffer.from('secret.key'))).toBe(false);
    expect((await open(sealed)).equals(plain)).toBe(true);
    // Each archive has its own nonce: the same input seals differently.
    expect((await sealArchive(plain, PASSPHRASE)).equals(sealed)).toBe(false);
  });

  it('tells a wrong passphrase from the header, before decrypting anything', async () => {
    await expect(open(sealed, 'not the right passphrase')).rejects.toMatchObject({
      kind: 'wrong_passphrase',
    });
  });

  it('refuses an altered header, a truncated payload and swapped chunks', async () => {
    const headerLen = 12 + sealed.readUInt32BE(8);
    const altered = Buffer.from(sealed);
    altered[headerLen - 3] = (altered[headerLen - 3] as number) ^ 1; // inside the header JSON
    await expect(open(altered)).rejects.toBeInstanceOf(BackupCryptoError);
    const body = headerLen + 32;
    const chunk = 64 * 1024 + 16;
    // Cut exactly after the second chunk: each remaining chunk is intact, but none is the last.
    await expect(open(sealed.subarray(0, body + 2 * chunk))).rejects.toMatchObject({ kind: 'damaged' });
    const swapped = Buffer.concat([
      sealed.subarray(0, body),
      sealed.subarray(body + chunk, body + 2 * chunk),
      sealed.subarray(body, body + chunk),
      sealed.subarray(body + 2 * chunk),
    ]);
    await expect(open(swapped)).rejects.toMatchObject({ kind: 'damaged' });
  });

  it('refuses KDF parameters an uploaded header could use to exhaust the manager', async () => {
    const k = await newBackupKey(PASSPHRASE);
    const enc = encryptStream({ ...k, kdf: { ...k.kdf, N: 2 ** 30 } });
    const out: Buffer[] = [];
    enc.on('data', (c: Buffer) => out.push(c));
    enc.end(Buffer.from('x'));
    await new Promise((r) => enc.on('end', r));
    const t = Date.now();
    await expect(open(Buffer.concat(out))).rejects.toThrow(/unsupported key derivation parameters/);
    expect(Date.now() - t).toBeLessThan(1000);
  });
});
