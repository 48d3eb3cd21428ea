// Helpers for the system module's tests: multipart bodies and flow.js chunk uploads.

import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export interface Part {
  name: string;
  value: string | Buffer;
  filename?: string;
}

export function multipart(parts: Part[]) {
  const boundary = `----steward-${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = p.filename !== undefined ? `; filename="${p.filename}"` : '';
    const type = p.filename !== undefined ? '\r\nContent-Type: application/octet-stream' : '';
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${disp}${type}\r\n\r\n`),
    );
    chunks.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

export const newIdentifier = () => randomBytes(16).toString('hex');

/** Uploads `content` as one or more chunks; returns the last response. */
export async function uploadFile(
  app: FastifyInstance,
  headers: Record<string, string>,
  filename: string,
  content: Buffer,
  opts: { identifier?: string; chunkSize?: number; only?: number[] } = {},
) {
  const id = opts.identifier ?? newIdentifier();
  const size = opts.chunkSize ?? content.length;
  const count = Math.max(1, Math.ceil(content.length / size));
  let last: Awaited<ReturnType<FastifyInstance['inject']>> | undefined;
  for (let n = 1; n <= count; n++) {
    if (opts.only && !opts.only.includes(n)) continue;
    const chunk = content.subarray((n - 1) * size, n * size);
    const mp = multipart([
      { name: 'flowChunkNumber', value: String(n) },
      { name: 'flowCurrentChunkSize', value: String(chunk.length) },
      { name: 'flowFilename', value: filename },
      { name: 'flowIdentifier', value: id },
      { name: 'flowTotalSize', value: String(content.length) },
      { name: 'file', value: chunk, filename },
    ]);
    last = await app.inject({
      method: 'POST',
      url: '/api/v1/system/upload/',
      headers: { ...headers, ...mp.headers },
      payload: mp.payload,
    });
    if (last.statusCode !== 200) return { id, res: last };
  }
  return { id, res: last as NonNullable<typeof last> };
}

/** A real SNMP notification receiver (net-snmp) on loopback; collects decoded v2c traps. */
export async function startTrapReceiver() {
  const { default: snmp } = await import('net-snmp');
  const traps: { community: string; trapOid: string; values: Record<string, string | number> }[] = [];
  const receiver = snmp.createReceiver(
    { port: 0, address: '127.0.0.1', disableAuthorization: true, includeAuthentication: true },
    (err: Error | null, n: { pdu: { varbinds: { oid: string; value: unknown }[]; community?: string } }) => {
      if (err || !n) return;
      const values: Record<string, string | number> = {};
      let trapOid = '';
      for (const vb of n.pdu.varbinds) {
        if (vb.oid === '1.3.6.1.6.3.1.1.4.1.0') trapOid = String(vb.value);
        else values[vb.oid] = Buffer.isBuffer(vb.value) ? vb.value.toString('utf8') : (vb.value as number);
      }
      traps.push({ community: n.pdu.community ?? '', trapOid, values });
    },
  );
  const socket = Object.values(
    (receiver as unknown as { listener: { sockets: Record<string, import('node:dgram').Socket> } }).listener
      .sockets,
  )[0] as import('node:dgram').Socket;
  await new Promise<void>((res) => socket.once('listening', () => res()));
  return {
    traps,
    port: socket.address().port,
    close: () => new Promise<void>((res) => receiver.close(() => res())),
  };
}

/** Polls `fn` until it returns true or `ms` pass. */
export async function waitFor(fn: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Seals a (gzipped tar) buffer as a backup archive with this passphrase, as writeArchive does, but
 * with scrypt at the lowest cost a restore accepts (N=2^14, 16 MiB) instead of the default 2^17:
 * every open of the archive derives the key again, and at the default cost the archive tests spent
 * most of their time in scrypt. Archives the manager writes (backup.routes.test.ts) keep the default.
 */
export async function sealArchive(plain: Buffer, passphrase: string): Promise<Buffer> {
  const { deriveBackupKey, encryptStream } = await import('../../src/server/modules/backup/backup.crypto.js');
  const kdf = { name: 'scrypt' as const, N: 2 ** 14, r: 8, p: 1, salt: randomBytes(16).toString('base64') };
  const enc = encryptStream({ key: await deriveBackupKey(passphrase, kdf), kdf });
  const out: Buffer[] = [];
  enc.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    enc.on('end', resolve);
    enc.on('error', reject);
  });
  enc.end(plain);
  await done;
  return Buffer.concat(out);
}
