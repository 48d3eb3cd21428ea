// The API documentation page is Steward's: its title, icon and logo, and no "Explore" bar.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers/app.js';

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
