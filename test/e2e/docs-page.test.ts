// The interactive API docs page, in a real Chromium against a real manager over HTTPS: it
// renders the operations, has an Authorize button, and "Try it out" runs a call with a token.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, type RunningManager, startManager } from '../helpers/process.js';

const CHROMIUM = process.env.STEWARD_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// Like the console tests: locally a missing Debian Chromium skips this; in CI (CI=1) it must run.
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('API docs page', () => {
  let manager: RunningManager;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'steward-docs-'));
    manager = await startManager({
      STEWARD_DATA_DIR: dataDir,
      STEWARD_ADMIN_PASSWORD: 'Docs Page Passphrase 2026',
    });
  });
  afterAll(async () => {
    await manager?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('renders /api/docs with the Authorize button and tries an operation with a token', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
      await page.goto(`${manager.baseUrl}/api/docs`);
      await page
        .getByRole('button', { name: /Authorize/ })
        .first()
        .waitFor({ timeout: 30_000 });
      await expect(page.getByText('Steward management API').first().isVisible()).resolves.toBe(true);
      await page.locator('#operations-auth-getAuthWhoami').waitFor();
      await page.screenshot({ path: join(ROOT, 'test', 'e2e', 'screenshots', 'api-docs.png') });
      // Past 150 tags and operations Swagger UI draws only those near the viewport (a virtual
      // list): scrolled from top to bottom, it draws every tag that has operations.
      const doc = (await (await page.request.get(`${manager.baseUrl}/api/v1/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { tags?: string[] }>>;
      };
      const tags = new Set(
        Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((o) => o.tags ?? [])),
      );
      const drawn = new Set<string>();
      const missing = () => [...tags].filter((t) => !drawn.has(t));
      for (let i = 0; i < 300 && missing().length > 0; i++) {
        for (const id of await page
          .locator('[id^="operations-tag-"]')
          .evaluateAll((els) => els.map((e) => e.id)))
          drawn.add(id.replace('operations-tag-', ''));
        await page.evaluate('window.scrollBy(0, 600)');
        await page.waitForTimeout(50);
      }
      expect(tags.size).toBeGreaterThan(10);
      expect(missing()).toEqual([]);
      await page.evaluate('window.scrollTo(0, 0)');
      await page.locator('#operations-auth-getAuthWhoami').waitFor();

      // Log in through the API, authorize the page with the session token, try GET whoami.
      const login = await page.request.post(`${manager.baseUrl}/api/v1/auth/token/`, {
        data: { username: 'admin', password: 'Docs Page Passphrase 2026' },
      });
      const token = (await login.json()).token as string;
      await page
        .getByRole('button', { name: /Authorize/ })
        .first()
        .click();
      await page.locator('#auth-bearer-value').fill(token);
      const bearerForm = page.locator('form').filter({ has: page.locator('#auth-bearer-value') });
      await bearerForm.locator('button[type=submit]').click();
      await page.locator('.btn-done').first().click();
      const op = page.locator('#operations-auth-getAuthWhoami');
      await op.locator('.opblock-summary').click();
      await op.getByRole('button', { name: 'Try it out' }).click();
      await op.getByRole('button', { name: 'Execute' }).click();
      await op.locator('.curl-command, .request-url').first().waitFor();
      await expect(op.locator('.curl-command').first().textContent()).resolves.toContain('curl');
      await expect(
        op.locator('.live-responses-table tbody .response-col_status').first().textContent(),
      ).resolves.toContain('200');
      await page.screenshot({
        path: join(ROOT, 'test', 'e2e', 'screenshots', 'api-docs-try-it-out.png'),
        fullPage: false,
      });
    } finally {
      await browser.close();
    }
  });
});
