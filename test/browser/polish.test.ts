// What admins of other consoles expect, in a real Chromium against a real manager: dark mode
// (the system's, and a remembered choice), the favicon, the Ctrl+K palette, a licence page that
// explains an unlicensed manager, a token's "permissions used" report and narrowing, and the API
// docs page acting with the console session. axe-core runs on every page at desktop and phone
// size in both colour schemes. Screenshots go to test/browser/screenshots/polish-*.png.
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type ConsoleHarness, DESKTOP, PASSWORD, PHONE, ready, startConsoleHarness } from './harness.js';

let h: ConsoleHarness;
let page: Page;
let applianceId = 0;
let narrowable = { id: 0, name: 'polish-reporting' };
/** What the docs page (Swagger UI, under its own CSP) printed to the browser console. */
const docsPageMessages: string[] = [];
/** Moves what the docs page printed out of the console's list of browser errors. */
const takeDocsMessages = (from: number) => {
  docsPageMessages.push(...h.browserErrors.splice(from));
};

/**
 * Expands one operation of the docs page. Clicked in the page: Swagger UI's deep linking changes
 * the URL's hash, which playwright's own click waited on as a navigation until it timed out.
 */
/**
 * Past 150 tags and operations Swagger UI draws only those near the viewport (it virtualises the
 * list, keeping each operation's state): scrolls from the top until this one is drawn.
 */
async function drawOperation(on: Page, id: string) {
  const summary = `#operations-${id} .opblock-summary-control`;
  await on.locator('#operations-tag-auth').waitFor({ timeout: 30_000 });
  if ((await on.locator(summary).count()) === 0) await on.evaluate('window.scrollTo(0, 0)');
  for (let i = 0; i < 100 && (await on.locator(summary).count()) === 0; i++) {
    await on.evaluate('window.scrollBy(0, 600)');
    await on.waitForTimeout(50);
  }
  await on.locator(summary).waitFor({ timeout: 30_000 });
}

async function openOperation(on: Page, id: string) {
  const summary = `#operations-${id} .opblock-summary-control`;
  await drawOperation(on, id);
  await on.evaluate(`document.querySelector(${JSON.stringify(summary)}).click()`);
}

const scheme = (on: Page = page) => on.locator('html').getAttribute('data-mantine-color-scheme');

/** Every page of the console an admin can open, with its level-1 heading. */
const PAGES: [string, string | RegExp][] = [
  ['/', 'Dashboard'],
  ['/appliances', 'Appliances'],
  ['/config-groups', 'Configuration groups'],
  ['/hub-groups', 'Hub groups'],
  ['/upgrades', 'Upgrades'],
  ['/activities', 'Activities'],
  ['/tokens', 'API tokens'],
  ['/users', /Users/],
  ['/sessions', 'Sessions'],
  ['/audit', 'Audit log'],
  ['/settings/network', /Settings|Network/],
  ['/licensing', 'Licensing'],
  ['/files', 'Files'],
  ['/backup', 'Backup'],
];

describe.skipIf(!ready && !process.env.CI)('console polish', () => {
  beforeAll(async () => {
    h = await startConsoleHarness();
    page = h.page;
    // An appliance to find by name (no agent needed to be listed), and a token that used one of
    // its three scopes.
    const created = await h.apiAsAdmin('/api/v1/appliances/create/', {
      method: 'POST',
      body: JSON.stringify({ name: 'edge-gateway-7', type: 'tiscale-worker', url: 'https://127.0.0.1:9/' }),
    });
    expect(created.status).toBe(201);
    applianceId = ((await created.json()) as { id: number }).id;
    const token = await h.apiAsAdmin('/api/v1/tokens/', {
      method: 'POST',
      body: JSON.stringify({
        name: narrowable.name,
        scopes: ['appliances:read', 'audit:read', 'files:read'],
      }),
    });
    expect(token.status).toBe(201);
    const t = (await token.json()) as { id: number; token: string };
    narrowable = { id: t.id, name: narrowable.name };
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${h.manager.baseUrl}/api/v1/appliances/`, {
        headers: { authorization: `Token ${t.token}` },
      });
      expect(r.status).toBe(200);
    }
  }, 120_000);

  afterEach(async (ctx) => {
    await h?.shotIfFailed(ctx.task);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('follows the system colour scheme, and the header menu remembers a choice', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${h.base}/sign-in`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await expect.poll(() => scheme()).toBe('dark');
    await h.shot('polish-sign-in-dark');
    await h.signInAs('admin', PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await expect.poll(() => scheme()).toBe('dark');
    await h.shot('polish-dashboard-dark');
    // The system turns light: the console follows while no choice was made.
    await page.emulateMedia({ colorScheme: 'light' });
    await expect.poll(() => scheme()).toBe('light');
    await h.shot('polish-dashboard-light');

    // The admin picks dark: it sticks over a light system and a reload.
    await page.getByRole('button', { name: /^Colour scheme/ }).click();
    await page.getByRole('menuitem', { name: 'Dark' }).click();
    await expect.poll(() => scheme()).toBe('dark');
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await expect.poll(() => scheme()).toBe('dark');
    await expect(
      page.getByRole('button', { name: /^Colour scheme/ }).getAttribute('aria-label'),
    ).resolves.toBe('Colour scheme: dark');
    // Back to following the system.
    await page.getByRole('button', { name: /^Colour scheme/ }).click();
    await expect(page.getByRole('menuitem', { name: 'Dark' }).getAttribute('aria-current')).resolves.toBe(
      'true',
    );
    await page.getByRole('menuitem', { name: 'As the system' }).click();
    await expect.poll(() => scheme()).toBe('light');
  });

  it('serves its favicon with the console', async () => {
    const href = await page.locator('link[rel="icon"]').getAttribute('href');
    expect(href).toBe('/favicon.svg');
    const icon = await page.request.get(`${h.base}${href}`);
    expect(icon.status()).toBe(200);
    expect(icon.headers()['content-type']).toContain('image/svg+xml');
    expect(await icon.text()).toContain('<title>Steward</title>');
  });

  it('Ctrl+K jumps to a page and to an appliance, keyboard only', async () => {
    await page.keyboard.press('Control+K');
    const search = page.getByRole('textbox', { name: 'Go to a page or an appliance' });
    await search.waitFor();
    // The search box has the focus: typing goes straight into it.
    await expect(page.evaluate('document.activeElement?.getAttribute("aria-label")')).resolves.toBe(
      'Go to a page or an appliance',
    );
    await search.pressSequentially('audit');
    await h.shot('polish-palette-page');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/audit$/);
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    await search.waitFor({ state: 'hidden' });

    // An appliance by part of its name: the manager searches the fleet.
    await page.keyboard.press('Control+K');
    await search.waitFor();
    await search.pressSequentially('gateway-7');
    await page.getByRole('button', { name: /edge-gateway-7/ }).waitFor();
    await h.shot('polish-palette-appliance');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/appliances/${applianceId}$`));
    await search.waitFor({ state: 'hidden' });

    // A settings section, found by its name.
    await page.keyboard.press('Control+K');
    await search.waitFor();
    // The palette also asks the manager for appliances matching the words (after a 200 ms pause
    // in typing); its answer re-renders the list, so choose once it has come.
    const searched = page.waitForResponse(
      (r) => r.url().includes('/api/v1/appliances/') && r.url().includes('search=ntp'),
    );
    await search.pressSequentially('ntp');
    await page.getByText('Settings: Time (NTP)').waitFor();
    await searched;
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/settings\/ntp$/);
  });

  it('explains an unlicensed manager instead of a red INVALID', async () => {
    await h.go('/licensing', 'Licensing');
    const note = page.getByTestId('licence-none');
    await note.waitFor();
    await expect(note.textContent()).resolves.toMatch(/No licence installed: everything works without one/);
    await expect(note.textContent()).resolves.toMatch(/Send the machine id to your vendor/);
    await expect(note.textContent()).resolves.toMatch(/STEWARD_LICENSE_PUBLIC_KEY_FILE/);
    await page.getByText('Not licensed', { exact: true }).waitFor();
    await expect(page.getByText('INVALID', { exact: true }).count()).resolves.toBe(0);
    // The API still says what it said: the page explains it.
    const status = (await (await h.apiAsAdmin('/api/v1/license/manager/')).json()) as { status: string };
    expect(status.status).toBe('INVALID');
    await h.shot('polish-licensing');
  });

  it("shows which of a token's scopes were used, and narrows it to those after a confirmation", async () => {
    await h.go('/tokens', 'API tokens');
    await page.getByRole('button', { name: `More actions for ${narrowable.name}` }).click();
    await page.getByRole('menuitem', { name: 'Permissions used' }).click();
    const dialog = page.getByRole('dialog', { name: `Permissions used by “${narrowable.name}”` });
    const row = (scope: string) => dialog.locator(`tr[data-scope="${scope}"]`);
    await row('appliances:read').waitFor();
    await expect(row('appliances:read').locator('td').nth(1).textContent()).resolves.toBe('2');
    await expect(row('audit:read').textContent()).resolves.toContain('never used');
    await expect(row('files:read').textContent()).resolves.toContain('never used');
    await expect(dialog.getByTestId('usage-verdict').textContent()).resolves.toMatch(/2 of 3 scopes/);
    await dialog.getByRole('button', { name: 'Narrow to used scopes…' }).click();
    const confirm = dialog.getByTestId('narrow-confirm');
    await expect(confirm.textContent()).resolves.toMatch(/audit:read.*files:read/);
    await expect(confirm.textContent()).resolves.toContain('Kept: appliances:read');
    await h.shot('polish-token-narrow-confirm');
    await confirm.getByRole('button', { name: 'Remove 2 scopes' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const after = (await (await h.apiAsAdmin(`/api/v1/tokens/${narrowable.id}/`)).json()) as {
      scopes: string[];
    };
    expect(after.scopes).toEqual(['appliances:read']);

    // An API key carries all of its owner's permissions: the report, but no narrowing offered.
    const key = await h.apiAsAdmin('/api/v1/authentication/users/1/api-key/', { method: 'POST', body: '{}' });
    expect(key.status).toBeLessThan(300);
    const keyName = ((await key.json()) as { name: string }).name;
    await page.reload();
    await page.getByRole('button', { name: `More actions for ${keyName}` }).click();
    await page.getByRole('menuitem', { name: 'Permissions used' }).click();
    const keyDialog = page.getByRole('dialog', { name: `Permissions used by “${keyName}”` });
    await keyDialog.getByText(/cannot be narrowed/).waitFor();
    await expect(keyDialog.getByRole('button', { name: /Narrow/ }).count()).resolves.toBe(0);
    await page.keyboard.press('Escape');
    await keyDialog.waitFor({ state: 'hidden' });
  });

  it('lets a signed-in admin try a GET and a POST on the docs page with the console session', async () => {
    const from = h.browserErrors.length;
    onTestFinished(() => takeDocsMessages(from));
    await page.goto(`${h.base}/api/docs`);
    await openOperation(page, 'auth-getAuthWhoami');

    const whoami = page.locator('#operations-auth-getAuthWhoami');
    await whoami.getByRole('button', { name: 'Try it out' }).click({ timeout: 30_000 });
    await whoami.getByRole('button', { name: 'Execute' }).click();
    const status = whoami.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor();
    await expect(status.textContent()).resolves.toContain('200');
    await expect(
      whoami.locator('.live-responses-table .microlight').first().textContent(),
    ).resolves.toContain('"username": "admin"');

    await openOperation(page, 'tokens-postTokens');
    const create = page.locator('#operations-tokens-postTokens');
    await create.getByRole('button', { name: 'Try it out' }).click({ timeout: 30_000 });
    await create
      .locator('textarea.body-param__text')
      .fill('{"name": "from-the-docs-page", "scopes": ["audit:read"]}');
    await create.getByRole('button', { name: 'Execute' }).click();
    const created = create.locator('.live-responses-table tbody .response-col_status').first();
    await created.waitFor();
    await expect(created.textContent()).resolves.toContain('201');
    await h.shot('polish-docs-try-post');
    const tokens = (await (await h.apiAsAdmin('/api/v1/tokens/?search=from-the-docs-page')).json()) as {
      results: { name: string }[];
    };
    expect(tokens.results.map((t) => t.name)).toContain('from-the-docs-page');
  });

  it('refuses the same tries to a visitor who is not signed in', async () => {
    const from = h.browserErrors.length;
    onTestFinished(() => takeDocsMessages(from));
    const visitor = await h.newPage(DESKTOP);
    try {
      await visitor.goto(`${h.base}/api/docs`);
      await openOperation(visitor, 'auth-getAuthWhoami');
      const whoami = visitor.locator('#operations-auth-getAuthWhoami');
      await whoami.getByRole('button', { name: 'Try it out' }).click({ timeout: 30_000 });
      await whoami.getByRole('button', { name: 'Execute' }).click();
      const status = whoami.locator('.live-responses-table tbody .response-col_status').first();
      await status.waitFor();
      await expect(status.textContent()).resolves.toContain('401');

      await openOperation(visitor, 'tokens-postTokens');
      const create = visitor.locator('#operations-tokens-postTokens');
      await create.getByRole('button', { name: 'Try it out' }).click({ timeout: 30_000 });
      await create.locator('textarea.body-param__text').fill('{"name": "visitor", "scopes": ["audit:read"]}');
      await create.getByRole('button', { name: 'Execute' }).click();
      const refused = create.locator('.live-responses-table tbody .response-col_status').first();
      await refused.waitFor();
      await expect(refused.textContent()).resolves.toContain('401');

      // A bare token pasted into the Token scheme works.
      const login = await visitor.request.post(`${h.base}/api/v1/auth/token/`, {
        data: { username: 'admin', password: PASSWORD },
      });
      const token = ((await login.json()) as { token: string }).token;
      await visitor
        .getByRole('button', { name: /Authorize/ })
        .first()
        .click();
      // The recommended scheme is the first one offered.
      await expect(visitor.locator('.auth-container h4').first().textContent()).resolves.toContain(
        'TokenAuth',
      );
      await h.shot('polish-docs-authorize', visitor);
      const tokenAuth = visitor.locator('.auth-container').filter({ hasText: 'TokenAuth' });
      await tokenAuth.locator('input[type="text"]').fill(token);
      await tokenAuth.getByRole('button', { name: 'Apply credentials' }).click();
      await visitor.locator('.btn-done').first().click();
      const writes = h.writesWithoutCsrfHeader.length;
      await drawOperation(visitor, 'tokens-postTokens'); // the dialog is at the top of the page
      await create.getByRole('button', { name: 'Execute' }).click();
      await expect
        .poll(() => create.locator('.live-responses-table tbody .response-col_status').first().textContent())
        .toContain('201');
      // Sent with the pasted token and without the cookie: no CSRF header is needed, none is sent.
      expect(h.writesWithoutCsrfHeader.splice(writes)).toEqual(['POST /api/v1/tokens/']);
      await expect(create.locator('.curl-command').first().textContent()).resolves.toContain(
        `Authorization: Token ${token}`,
      );
    } finally {
      await visitor.context().close();
    }
  });

  it('has no serious accessibility violation on any page, desktop and phone, light and dark', async () => {
    const phone = await h.newPage(PHONE);
    try {
      await phone.goto(`${h.base}/sign-in`);
      await h.signInAs('admin', PASSWORD, phone);
      await phone.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
      const found: string[] = [];
      for (const colorScheme of ['light', 'dark'] as const) {
        for (const [on, size] of [
          [page, 'desktop'],
          [phone, 'phone'],
        ] as const) {
          await on.emulateMedia({ colorScheme });
          for (const [path, heading] of PAGES) {
            await h.go(path, heading, on);
            await expect.poll(() => scheme(on)).toBe(colorScheme);
            for (const v of await h.axeViolations(on)) found.push(`${path} ${size} ${colorScheme}: ${v}`);
          }
          await h.go('/tokens', 'API tokens', on);
          await h.shot(`polish-tokens-${size}-${colorScheme}`, on);
          await h.go('/licensing', 'Licensing', on);
          await h.shot(`polish-licensing-${size}-${colorScheme}`, on);
          // The palette, open.
          await on.keyboard.press('Control+K');
          await on.getByRole('textbox', { name: 'Go to a page or an appliance' }).pressSequentially('set');
          for (const v of await h.axeViolations(on)) found.push(`palette ${size} ${colorScheme}: ${v}`);
          await h.shot(`polish-palette-${size}-${colorScheme}`, on);
          await on.keyboard.press('Escape');
        }
      }
      expect(found).toEqual([]);
    } finally {
      await phone.context().close();
    }
  }, 600_000);

  it('saw no script error, no CSP violation and no console write without the CSRF header', () => {
    expect(h.browserErrors).toEqual([]);
    expect(h.writesWithoutCsrfHeader).toEqual([]);
    // Swagger UI's own CSP (style-src without 'unsafe-inline') blocks one inline style attribute
    // of its page, once per load; nothing else may appear there, and no script error.
    expect(docsPageMessages.filter((m) => !/^Applying inline style violates .*style-src/.test(m))).toEqual(
      [],
    );
  });
});
