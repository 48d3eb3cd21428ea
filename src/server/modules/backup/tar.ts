// A minimal ustar writer and reader for backup archives (regular files only). Writing our own
// keeps the reader strict: it accepts nothing but regular files with plain relative names, so
// links, devices and `..` tricks in a hostile archive never reach the file system.

import type { Writable } from 'node:stream';

const BLOCK = 512;

function writeString(buf: Buffer, offset: number, length: number, value: string) {
  buf.write(value, offset, Math.min(length, Buffer.byteLength(value)), 'utf8');
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number) {
  const s = value.toString(8).padStart(length - 1, '0');
  if (s.length > length - 1) throw new Error('tar field overflow');
  buf.write(`${s}\0`, offset, length, 'ascii');
}

/** Splits a path into ustar `prefix` and `name` fields. */
function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name };
  }
  throw new Error(`path too long for a tar archive: ${path}`);
}

function rawHeader(path: string, size: number, mtime: Date, type: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { prefix, name } = splitName(path);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, Math.floor(mtime.getTime() / 1000));
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  writeString(h, 265, 32, 'steward');
  writeString(h, 297, 32, 'steward');
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeOctal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

/**
 * The header block(s) of a regular file. A path that does not fit ustar's name and prefix
 * fields is carried by a GNU long-name entry first (read by GNU tar, bsdtar and readTar).
 */
export function tarHeader(path: string, size: number, mtime: Date): Buffer {
  try {
    return rawHeader(path, size, mtime, '0');
  } catch {
    const name = Buffer.from(`${path}\0`, 'utf8');
    return Buffer.concat([
      rawHeader('././@LongLink', name.length, mtime, 'L'),
      name,
      Buffer.alloc((BLOCK - (name.length % BLOCK)) % BLOCK),
      rawHeader(path.slice(-99).replace(/^[^/]*\//, ''), size, mtime, '0'),
    ]);
  }
}

export const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

/** Writes a chunk and waits for the destination to drain when it asks to. */
export function writeChunk(out: Writable, chunk: Buffer): Promise<void> | undefined {
  if (out.write(chunk)) return undefined;
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      out.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      out.off('drain', onDrain);
      reject(err);
    };
    out.once('drain', onDrain);
    out.once('error', onError);
  });
}

export interface TarEntryHeader {
  path: string;
  size: number;
  type: string;
}

export class TarFormatError extends Error {}

function parseOctal(buf: Buffer, offset: number, length: number): number {
  const s = buf
    .toString('ascii', offset, offset + length)
    .replace(/\0.*$/, '')
    .trim();
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError('bad number in a tar header');
  return Number.parseInt(s, 8);
}

function parseHeader(h: Buffer): TarEntryHeader {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
  if (parseOctal(h, 148, 8) !== sum) throw new TarFormatError('tar header checksum mismatch');
  const cstr = (o: number, l: number) => h.toString('utf8', o, o + l).replace(/\0.*$/s, '');
  const name = cstr(0, 100);
  const prefix = h.toString('ascii', 257, 262) === 'ustar' ? cstr(345, 155) : '';
  return {
    path: prefix ? `${prefix}/${name}` : name,
    size: parseOctal(h, 124, 12),
    type: String.fromCharCode(h[156] ?? 0),
  };
}

export interface TarSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

/**
 * Reads a tar stream and hands each entry's bytes to the sink `onEntry` returns. Throws
 * TarFormatError on anything malformed, including a stream that ends early.
 */
export async function readTar(
  input: AsyncIterable<Buffer>,
  onEntry: (header: TarEntryHeader) => Promise<TarSink>,
): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  let sink: TarSink | undefined;
  let remaining = 0;
  let pad = 0;
  let ended = false;
  let longName: string | undefined;
  for await (const chunk of input) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (ended) {
        buf = Buffer.alloc(0);
        break;
      }
      if (sink) {
        if (buf.length === 0) break;
        const take = Math.min(remaining, buf.length);
        if (take > 0) await sink.write(buf.subarray(0, take));
        buf = buf.subarray(take);
        remaining -= take;
        if (remaining > 0) break;
        await sink.end();
        sink = undefined;
        continue;
      }
      if (pad > 0) {
        const take = Math.min(pad, buf.length);
        buf = buf.subarray(take);
        pad -= take;
        if (pad > 0) break;
      }
      if (buf.length < BLOCK) break;
      const block = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (block.every((b) => b === 0)) {
        ended = true;
        continue;
      }
      const header = parseHeader(block);
      if (longName !== undefined) {
        header.path = longName;
        longName = undefined;
      }
      if (header.type === 'L') {
        if (header.size > 4096) throw new TarFormatError('long name entry is too large');
        const parts: Buffer[] = [];
        sink = {
          async write(c) {
            parts.push(Buffer.from(c));
          },
          async end() {
            longName = Buffer.concat(parts).toString('utf8').replace(/\0+$/, '');
          },
        };
      } else {
        sink = await onEntry(header);
      }
      remaining = header.size;
      pad = (BLOCK - (header.size % BLOCK)) % BLOCK;
      if (remaining === 0) {
        await sink.end();
        sink = undefined;
      }
    }
  }
  if (!ended || sink || longName !== undefined)
    throw new TarFormatError('the archive ends early (truncated)');
}
