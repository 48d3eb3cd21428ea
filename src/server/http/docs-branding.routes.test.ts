// The API documentation page is Steward's: its title, icon and logo, and no "Explore" bar.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers/app.js';
import { type DocsRequest, docsRequestInterceptor, STEWARD_ICON_SVG } from './docs-branding.js';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

describe('the API documentation page', () => {
  it("carries Steward's title and icon, not Swagger's", async () => {
    const page = await t.app.inject({ url: '/api/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>Steward API</title>');
    expect(page.body).toContain('theme/favicon.svg');
    expect(page.body).not.toContain('favicon-32x32.png');
    const icon = await t.app.inject({ url: '/api/docs/static/theme/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['content-type']).toContain('image/svg+xml');
    expect(icon.body).toContain('<svg');
    // The console's tab shows the same icon.
    const consoleIcon = readFileSync(new URL('../../console/public/favicon.svg', import.meta.url), 'utf8');
    expect(consoleIcon.trim()).toBe(STEWARD_ICON_SVG);
  });

  it("replaces Swagger's logo with Steward's and hides the Explore bar", async () => {
    const init = await t.app.inject({ url: '/api/docs/static/swagger-initializer.js' });
    expect(init.statusCode).toBe(200);
    const logo = /data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)/.exec(init.body);
    expect(logo).not.toBeNull();
    expect(Buffer.from(logo?.[1] ?? '', 'base64').toString()).toContain('Steward API');
    const page = await t.app.inject({ url: '/api/docs/' });
    expect(page.body).toContain('theme/steward.css');
    const css = await t.app.inject({ url: '/api/docs/static/theme/steward.css' });
    expect(css.statusCode).toBe(200);
    expect(css.body).toMatch(/\.download-url-wrapper \{ display: none/);
  });
});

describe("the docs page's Try it out", () => {
  // The interceptor runs in the page: give it the page's location while it runs here.
  const inPage = (req: DocsRequest): DocsRequest => {
    const g = globalThis as unknown as { location?: unknown };
    const saved = g.location;
    g.location = { href: 'https://manager.example:8443/api/docs/', origin: 'https://manager.example:8443' };
    try {
      return docsRequestInterceptor(req);
    } finally {
      g.location = saved;
    }
  };

  it('lists the recommended Token scheme first and serves the interceptor in the page', async () => {
    const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json();
    expect(Object.keys(doc.components.securitySchemes)[0]).toBe('TokenAuth');
    expect(doc.components.securitySchemes.TokenAuth.description).toMatch(/paste the token alone/);
    expect(Object.keys(doc.security[0])).toEqual(['TokenAuth']);
    const init = await t.app.inject({ url: '/api/docs/static/swagger-initializer.js' });
    expect(init.body).toContain('"requestInterceptor":function docsRequestInterceptor(req)');
    expect(init.body).toMatch(/x-requested-with.\]? = .steward-console./);
  });

  it('sends a request without a credential of its own with the console session and CSRF header', () => {
    const req = inPage({ url: 'https://manager.example:8443/api/v1/tokens/', headers: {} });
    expect(req.credentials).toBe('same-origin');
    expect(req.headers['x-requested-with']).toBe('steward-console');
  });

  it('completes a bare token to `Token <t>` and then leaves the cookie out', () => {
    const req = inPage({ url: '/api/v1/auth/whoami/', headers: { Authorization: ' stws_abc ' } });
    expect(req.headers.Authorization).toBe('Token stws_abc');
    expect(req.credentials).toBe('omit');
    expect(req.headers['x-requested-with']).toBeUndefined();
    for (const typed of ['Token stws_abc', 'Bearer stws_abc', 'token stws_abc']) {
      expect(inPage({ url: '/api/v1/', headers: { Authorization: typed } }).headers.Authorization).toBe(
        typed,
      );
    }
    const key = inPage({ url: '/api/v1/', headers: { 'Api-Key': 'stws_abc' } });
    expect(key.credentials).toBe('omit');
  });

  it('adds nothing to a request for another origin', () => {
    const req = inPage({ url: 'https://elsewhere.example/api/v1/', headers: {} });
    expect(req.headers).toEqual({});
    expect(req.credentials).toBeUndefined();
  });
});
