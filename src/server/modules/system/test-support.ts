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
