// Hostile input that used to reach the database and come back as a 500: ids beyond the integer
// column, huge page numbers and offsets, cursors of the wrong shape, NUL characters and lone
// surrogates in strings, over-long path segments. Each is a 4xx problem document naming the
// field. The schema-driven fuzz test (test/fuzz/) looks for more of the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const cursorOf = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function expectProblem(
  req: { method?: string; url: string; payload?: unknown },
  status: number,
  field: string,
) {
  const res = await t.app.inject({
    method: (req.method ?? 'GET') as 'GET',
    url: req.url,
    headers: admin,
    ...(req.payload !== undefined ? { payload: req.payload as object } : {}),
  });
  expect(res.statusCode, `${req.method ?? 'GET'} ${req.url}: ${res.body}`).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json() as { errors?: { field: string }[] };
  expect(body.errors?.map((e) => e.field)).toContain(field);
}

describe('ids beyond the integer range', () => {
  it.each(['99999999999999999999', '1e309', '2147483648'])(
    'path id %s is a 400 naming path.id',
    async (id) => {
      await expectProblem({ url: `/api/v1/authentication/users/${id}/` }, 400, 'path.id');
      await expectProblem({ url: `/api/v1/tokens/${id}/` }, 400, 'path.id');
      await expectProblem({ url: `/api/v1/appliances/${id}/` }, 400, 'path.id');
      await expectProblem({ url: `/api/v1/files/${id}/` }, 400, 'path.id');
      await expectProblem({ method: 'DELETE', url: `/api/v1/auth/sessions/${id}/` }, 400, 'path.id');
    },
  );

  it('the largest id is still accepted (and not found)', async () => {
    const res = await t.app.inject({ url: '/api/v1/authentication/users/2147483647/', headers: admin });
    expect(res.statusCode).toBe(404);
  });

  it('ids in query strings and bodies are bounded too', async () => {
    await expectProblem({ url: '/api/v1/audit/?user_id=99999999999999999999' }, 400, 'query.user_id');
    await expectProblem({ url: '/api/v1/audit/?token_id=2147483648' }, 400, 'query.token_id');
    await expectProblem(
      {
        method: 'POST',
        url: '/api/v1/tokens/',
        payload: { name: 'big', scopes: ['users:read'], group_id: 1e12 },
      },
      400,
      'body.group_id',
    );
  });
});

describe('pages and offsets', () => {
  it('a huge page is a 400 naming query.page', async () => {
    await expectProblem(
      { url: '/api/v1/authentication/users/?page=99999999999999999999' },
      400,
      'query.page',
    );
    await expectProblem({ url: '/api/v1/tokens/?page=1000001' }, 400, 'query.page');
  });

  it('a huge offset is a 400 naming query.offset', async () => {
    await expectProblem(
      { url: '/api/v1/authentication/users/?offset=99999999999999999999' },
      400,
      'query.offset',
    );
  });

  it('the deepest page is answered, empty', async () => {
    const res = await t.app.inject({
      url: '/api/v1/authentication/users/?page=1000000&page_size=100',
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().results).toEqual([]);
  });
});

describe('cursors of the wrong shape', () => {
  it.each([
    ['not base64 JSON', 'abc'],
    ['a string id', cursorOf({ before: 'abc' })],
    ['an id beyond bigint', cursorOf({ before: 1e30 })],
    ['a fractional id', cursorOf({ before: 1.5 })],
    ['an array', cursorOf([1])],
    ['extra keys', cursorOf({ before: 5, evil: 1 })],
    ['null', cursorOf(null)],
  ])('%s is a 400 naming query.cursor', async (_name, cursor) => {
    await expectProblem({ url: `/api/v1/audit/?cursor=${cursor}` }, 400, 'query.cursor');
  });

  it('a cursor the list issued still works', async () => {
    const first = await t.app.inject({ url: '/api/v1/audit/?cursor=&limit=1', headers: admin });
    expect(first.statusCode).toBe(400);
    const res = await t.app.inject({
      url: `/api/v1/audit/?cursor=${cursorOf({ before: 1_000_000 })}&limit=1`,
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().results.length).toBe(1);
  });
});

describe('NUL characters and lone surrogates', () => {
  it.each(['/api/v1/authentication/users/', '/api/v1/tokens/', '/api/v1/files/', '/api/v1/appliances/'])(
    'NUL in search of %s is a 400 naming query.search',
    async (url) => {
      await expectProblem({ url: `${url}?search=a%00b` }, 400, 'query.search');
    },
  );

  it('NUL in a name is a 400 naming the field', async () => {
    await expectProblem(
      { method: 'POST', url: '/api/v1/tokens/', payload: { name: 'x\u0000y', scopes: ['users:read'] } },
      400,
      'body.name',
    );
    await expectProblem(
      { method: 'POST', url: '/api/v1/authentication/groups/', payload: { name: 'g\u0000' } },
      400,
      'body.name',
    );
  });

  it('a lone surrogate in a JSON body is a 400 naming the field', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: { ...admin, 'content-type': 'application/json' },
      payload: '{"name":"x\\ud800y","scopes":["users:read"]}',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([
      { field: 'body.name', message: 'must be well-formed Unicode (no lone surrogate)' },
    ]);
  });

  it('NUL in a field name of a free-form object is named too', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config-group/create/',
      headers: admin,
      payload: { name: 'g1', 'bad\u0000key': 1 },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('body.bad\\u0000key');
  });

  it('ordinary Unicode is untouched', async () => {
    const res = await t.app.inject({
      url: `/api/v1/tokens/?search=${encodeURIComponent('ключ 🔑')}`,
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('URLs the router refuses', () => {
  it('a path segment over 200 characters is a 414 problem document', async () => {
    const res = await t.app.inject({
      url: `/api/v1/authentication/users/${'x'.repeat(300)}/`,
      headers: admin,
    });
    expect(res.statusCode).toBe(414);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe('uri_too_long');
  });

  it('a bad percent-encoding in the path is a 400 problem document', async () => {
    const res = await t.app.inject({ url: '/api/v1/authentication/users/%E0%A4%A/', headers: admin });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('multipart forms', () => {
  const form = (fields: Record<string, string>, file: { name: string; content: string }) => {
    const boundary = 'fuzzboundary1234';
    const parts = Object.entries(fields).map(
      ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
    );
    parts.push(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n${file.content}\r\n--${boundary}--\r\n`,
    );
    return {
      payload: parts.join(''),
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    };
  };

  it.each([
    ['a NUL in a field', { tags: 'a\u0000b' }, 'f.txt'],
    ['a NUL in the profile', { profile: 'p\u0000' }, 'f.txt'],
    ['a NUL in the file name', {}, 'f\u0000.txt'],
  ])('%s of an upload is a 4xx', async (_name, fields, filename) => {
    const { payload, headers } = form(fields as Record<string, string>, { name: filename, content: 'hello' });
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/files/',
      headers: { ...admin, ...headers },
      payload,
    });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, res.body).toBeLessThan(500);
  });
});

describe('found by the fuzz', () => {
  it('PATCH of a user with no fields answers the user unchanged (it was a 500: UPDATE with an empty SET)', async () => {
    const user = await t.createUser('viewer');
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/authentication/users/${user.id}/`,
      headers: admin,
      payload: {},
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: user.id, username: user.username, role: 'viewer' });
  });

  it('an appliance type named like an Object.prototype key is a 400 (__proto__ found the prototype: a 500)', async () => {
    for (const type of ['__proto__', 'constructor', 'toString']) {
      await expectProblem(
        { method: 'POST', url: `/api/v1/package-management/${type}/1.0.0/`, payload: {} },
        400,
        'path.appliance_type',
      );
    }
  });

  it('ids past the integer column on destination lists are a 400 (they were a 500)', async () => {
    await expectProblem({ url: '/api/v1/destination-lists/9007199254740992/' }, 400, 'path.id');
    await expectProblem({ url: '/api/v1/destination-lists/100000000000000000000/entries/' }, 400, 'path.id');
  });
});
