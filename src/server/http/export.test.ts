// The export stream (http/export.ts) over a real loopback connection: a failure before the first
// byte is an ordinary error answer; a failure part-way aborts the connection (with and without
// compression), so no client takes a cut file for a whole one; a client that goes away stops the
// reads; each row shows the item schema's fields only.
import type { AddressInfo } from 'node:net';
import compress from '@fastify/compress';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExportFormat, sendExport } from './export.js';

const Item = Type.Object({ id: Type.Integer(), name: Type.String(), tags: Type.Array(Type.String()) });

let app: FastifyInstance;
let base: string;
/** How many batches the last export read, and whether its reads were closed. */
const reads = { batches: 0, closed: false };

/** `count` batches of 100 rows; with `failAt`, the read of that batch throws. */
async function* rows(count: number, failAt?: number) {
  reads.batches = 0;
  reads.closed = false;
  try {
    for (let b = 0; b < count; b++) {
      if (b === failAt) throw new Error('the database went away');
      reads.batches++;
      yield Array.from({ length: 100 }, (_, i) => ({
        id: b * 100 + i,
        name: `row ${b * 100 + i}`,
        tags: ['a'],
        digest: 'never-shown',
      }));
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    reads.closed = true;
  }
}

beforeAll(async () => {
  // fetch may open a spare connection that never carries a request; close it with the rest.
  app = Fastify({ forceCloseConnections: true });
  await app.register(compress, { global: true, threshold: 1024, encodings: ['gzip'] });
  app.get<{ Querystring: { format: ExportFormat; count: string; fail?: string } }>('/x', async (req, reply) =>
    sendExport(reply, {
      name: 'test',
      format: req.query.format,
      item: Item,
      batches: rows(
        Number(req.query.count),
        req.query.fail === undefined ? undefined : Number(req.query.fail),
      ),
    }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
});

describe('sendExport', () => {
  it('streams every batch, with the schema fields only', async () => {
    for (const encoding of ['identity', 'gzip']) {
      const res = await fetch(`${base}/x?format=json&count=30`, { headers: { 'accept-encoding': encoding } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBeNull(); // chunked: not built in memory first
      const body = await res.text();
      const parsed = JSON.parse(body) as unknown[];
      expect(parsed).toHaveLength(3000);
      expect(parsed[2999]).toEqual({ id: 2999, name: 'row 2999', tags: ['a'] });
      expect(body).not.toContain('never-shown');
    }
    const csv = await (await fetch(`${base}/x?format=csv&count=2`)).text();
    expect(csv.split('\r\n').slice(0, 2)).toEqual(['id,name,tags', '0,row 0,"[""a""]"']);
  });

  it('answers a failure of the first read as an error, not a file', async () => {
    const res = await fetch(`${base}/x?format=csv&count=5&fail=0`);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-disposition')).toBeNull();
  });

  it('aborts the connection when a read fails part-way, compressed or not', async () => {
    for (const format of ['csv', 'json']) {
      for (const encoding of ['identity', 'gzip']) {
        const res = await fetch(`${base}/x?format=${format}&count=40&fail=25`, {
          headers: { 'accept-encoding': encoding },
        });
        expect(res.status).toBe(200);
        await expect(res.text(), `${format} ${encoding}`).rejects.toThrow();
      }
    }
  });

  it('stops reading when the client goes away', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/x?format=json&count=100000`, { signal: controller.signal });
    const reader = res.body?.getReader();
    await reader?.read();
    controller.abort();
    await expect.poll(() => reads.closed, { timeout: 5000 }).toBe(true);
    expect(reads.batches).toBeLessThan(1000);
  });
});
