// The tar writer and the strict reader: round trip, long names, and malformed input.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { END_OF_ARCHIVE, padding, readTar, TarFormatError, tarHeader } from './tar.js';

function archive(entries: { path: string; data: Buffer }[]) {
  const parts: Buffer[] = [];
  for (const e of entries)
    parts.push(tarHeader(e.path, e.data.length, new Date(0)), e.data, padding(e.data.length));
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

async function read(buf: Buffer, chunk = 7) {
  const out: { path: string; data: Buffer; type: string }[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) pieces.push(buf.subarray(i, i + chunk));
  await readTar(Readable.from(pieces), async (h) => {
    const parts: Buffer[] = [];
    return {
      async write(c) {
        parts.push(Buffer.from(c));
      },
      async end() {
        out.push({ path: h.path, type: h.type, data: Buffer.concat(parts) });
      },
    };
  });
  return out;
}

describe('tar', () => {
  it('round-trips entries of any size, read in small pieces', async () => {
    const long = `files/uploads/${'a'.repeat(32)}.${'n'.repeat(110)}`;
    const entries = [
      { path: 'db/users.jsonl', data: Buffer.from('{"id":1}\n') },
      { path: 'empty', data: Buffer.alloc(0) },
      { path: long, data: Buffer.alloc(1025, 3) },
    ];
    const got = await read(archive(entries));
    expect(got.map((g) => g.path)).toEqual(entries.map((e) => e.path));
    expect(got[2]?.data.equals(entries[2]?.data as Buffer)).toBe(true);
    expect(got.every((g) => g.type === '0')).toBe(true);
  });

  it('refuses a truncated archive and a bad header checksum', async () => {
    const a = archive([{ path: 'x', data: Buffer.alloc(2000, 1) }]);
    await expect(read(a.subarray(0, 1200))).rejects.toBeInstanceOf(TarFormatError);
    const bad = Buffer.from(a);
    bad[10] = 0x41;
    await expect(read(bad)).rejects.toThrow(/checksum/);
  });
});
