// Every status an operation can answer is in the OpenAPI document: the ones the shared layers
// give (credentials, permissions, rate limits, body parsing, the router, the database) are added
// to every operation from its properties, each a problem+json document of the one Problem schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

let t: TestContext;
type Op = {
  parameters?: { in: string }[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
  'x-required-permission': string;
};
let ops: { where: string; method: string; op: Op }[] = [];
let doc: { components: { schemas: Record<string, unknown> } };

beforeAll(async () => {
  t = await createTestContext();
  doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json();
  ops = Object.entries((doc as unknown as { paths: Record<string, Record<string, Op>> }).paths).flatMap(
    ([p, item]) =>
      Object.entries(item).map(([m, op]) => ({ where: `${m.toUpperCase()} ${p}`, method: m, op })),
  );
});
afterAll(async () => {
  await t?.close();
});

describe('error statuses in the OpenAPI document', () => {
  it('every operation lists the statuses the shared layers can answer', () => {
    const missing: string[] = [];
    for (const { where, method, op } of ops) {
      const want = [400, 429, 431, 503];
      if (op['x-required-permission'] !== 'public') want.push(401, 403);
      if ((op.parameters ?? []).some((p) => p.in === 'path')) want.push(404, 414);
      if (['post', 'put', 'patch', 'delete'].includes(method)) want.push(413, 415);
      for (const s of want) if (!op.responses[String(s)]) missing.push(`${where}: ${s}`);
    }
    expect(missing).toEqual([]);
  });

  it('every error response is a problem+json document of the shared Problem schema', () => {
    expect(doc.components.schemas.Problem).toMatchObject({ type: 'object' });
    const wrong: string[] = [];
    for (const { where, op } of ops) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400 || status === '431') continue;
        const ref = response.content?.['application/problem+json']?.schema?.$ref;
        if (ref !== '#/components/schemas/Problem') wrong.push(`${where} ${status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('a router-level 414 really is what the document says', async () => {
    const res = await t.app.inject({
      url: `/api/v1/tokens/${'9'.repeat(250)}/`,
      headers: await t.adminHeaders(),
    });
    expect(res.statusCode).toBe(414);
    expect(res.json()).toMatchObject({ status: 414, code: 'uri_too_long' });
  });
});
