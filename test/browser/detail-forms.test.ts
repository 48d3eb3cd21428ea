// The appliance detail page and the forms that explain themselves (issue 15), in a real browser
// against a real manager and a real agent: health charts from the samples the poller keeps, the
// maintenance switch, the running configuration compared with the group's; field errors in words
// under their fields (never a pattern), numbers never clamped, apply that confirms with the diff
// and is disabled when nothing differs. Each page at 1280x800 and 390x844, with axe.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleHarness, PASSWORD, PHONE, ready, startConsoleHarness } from './harness.js';

let h: ConsoleHarness;
let page: ConsoleHarness['page'];
let id = 0;

const json = async <T>(res: Response) => (await res.json()) as T;
const api = (path: string, method = 'GET', body?: unknown) =>
  h.apiAsAdmin(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

/** Waits until the group's member took the latest revision (a loop: beforeAll has no expect.poll). */
async function waitDone(name: string) {
  const until = Date.now() + 30_000;
  let last = '';
  while (Date.now() < until) {
    const g = await json<{ statuses: { configuration_status: string }[] }>(
      await api(`/api/v1/config-group/retrieve/${name}/`),
    );
    last = g.statuses.map((s) => s.configuration_status).join(',');
    if (last === 'done') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`group ${name} did not reach done (last: ${last})`);
}

describe.skipIf(!ready && !process.env.CI)('appliance detail and forms', () => {
  beforeAll(async () => {
    h = await startConsoleHarness({ agents: [{ name: 'd1', type: 'worker' }] });
    page = h.page;
    const agent = h.agents[0];
    const created = await api('/api/v1/appliances/create/', 'POST', {
      name: 'd1',
      type: 'worker',
      url: agent?.url,
    });
    expect(created.status).toBe(201);
    id = (await json<{ id: number }>(created)).id;
    expect((await api(`/api/v1/appliances/${id}/authorization/`)).status).toBe(200);
    expect((await api('/api/v1/config-group/create/', 'POST', { name: 'detail' })).status).toBe(201);
    const saved = await api('/api/v1/config-group/save/detail/', 'PATCH', {
      appliances: ['d1'],
      content: { snmp__enable: true },
    });
    expect(saved.status).toBe(200);
    expect(
      (await api('/api/v1/config-group/update/detail/', 'PUT', { applyconfiguration: ['d1'] })).status,
    ).toBe(202);
    await waitDone('detail');
    await page.goto(`${h.base}/sign-in`);
    await h.signInAs('admin', PASSWORD);
    await page.waitForURL((u) => !u.pathname.startsWith('/sign-in'));
  }, 120_000);

  afterEach(async (ctx) => {
    await h?.shotIfFailed(ctx.task);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('draws the health charts once the poller kept a sample, with uptime', async () => {
    // The first poll after authorization keeps a sample (one per 5-minute slot after that).
    await expect
      .poll(
        async () =>
          (await json<{ samples: unknown[] }>(await api(`/api/v1/appliances/${id}/health/?hours=1`))).samples
            .length,
        { timeout: 30_000 },
      )
      .toBeGreaterThan(0);
    await h.go(`/appliances/${id}`, 'd1');
    const charts = page.getByTestId('health-charts');
    await charts.waitFor();
    expect(await charts.locator('svg.recharts-surface').count()).toBe(3);
    await expect(page.getByTestId('health-now-memory').textContent()).resolves.toMatch(/^\d+(\.\d)?%$/);
    await expect(page.getByTestId('health-now-disk').textContent()).resolves.toMatch(/^\d+(\.\d)?%$/);
    await expect(page.getByTestId('uptime').textContent()).resolves.toMatch(/^Agent up for \d+ (min|h)/);
    await page.locator('label', { hasText: /^24 h$/ }).click();
    await expect.poll(() => page.getByRole('radio', { name: '24 h' }).isChecked()).toBe(true);
    await charts.waitFor();
    await h.shot('detail-01-health');
    expect(await h.axeViolations()).toEqual([]);
  });

  it('compares the running configuration with the group, field by field in words', async () => {
    // The revision the manager recorded from the agent's answer to the apply is there at once. The
    // agent's own report (revision and hash, in system_data) comes with the next poll after the
    // apply: wait for it through the API first (a loaded host can delay a poll by seconds).
    await expect
      .poll(
        async () =>
          (
            await json<{ system_data: { running_config?: { revision?: number } } }>(
              await api(`/api/v1/appliances/${id}/`),
            )
          ).system_data.running_config?.revision,
        { timeout: 60_000, interval: 500 },
      )
      .toBe(1);
    await h.go(`/appliances/${id}`, 'd1');
    await page.getByTestId('config-compare-same').waitFor();
    await expect
      .poll(() => page.getByTestId('running-revision').textContent(), { timeout: 20_000 })
      .toMatch(/^revision 1 [0-9a-f]{12}$/);
    // A saved change the appliance does not run yet.
    const saved = await api('/api/v1/config-group/save/detail/', 'PATCH', {
      content: { snmp__enable: true, snmp__community: 'ops-team' },
    });
    expect(saved.status).toBe(200);
    await page.reload();
    const table = page.getByRole('table', { name: 'Running configuration compared with the group' });
    await table.waitFor();
    await table.getByText('SNMP v2c community string').waitFor();
    await table.getByText('ops-team').waitFor();
    await h.shot('detail-02-config-compare');
  });

  it('puts the appliance in maintenance and out again with the switch', async () => {
    await h.go(`/appliances/${id}`, 'd1');
    const toggle = page.getByRole('switch', { name: /Maintenance/ });
    expect(await toggle.isChecked()).toBe(false);
    await toggle.click({ force: true });
    await expect.poll(() => toggle.isChecked()).toBe(true);
    await expect
      .poll(
        async () =>
          (await json<{ maintenance: boolean }>(await api(`/api/v1/appliances/${id}/`))).maintenance,
      )
      .toBe(true);
    await h.shot('detail-03-maintenance');
    await toggle.click({ force: true });
    await expect
      .poll(
        async () =>
          (await json<{ maintenance: boolean }>(await api(`/api/v1/appliances/${id}/`))).maintenance,
      )
      .toBe(false);
  });

  it('fits a phone, and axe finds nothing serious there', async () => {
    const phone = await h.newPage(PHONE);
    await phone.goto(`${h.base}/sign-in`);
    await h.signInAs('admin', PASSWORD, phone);
    await phone.waitForURL((u) => !u.pathname.startsWith('/sign-in'));
    await h.go(`/appliances/${id}`, 'd1', phone);
    await phone.getByTestId('health-charts').waitFor();
    // On a phone the comparison is a card per setting, not a table wider than the screen.
    const cards = phone.getByTestId('config-compare-cards');
    await cards.getByText('SNMP v2c community string').waitFor();
    await cards.getByText('ops-team').waitFor();
    expect(
      await phone.getByRole('table', { name: 'Running configuration compared with the group' }).isVisible(),
    ).toBe(false);
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await h.shot('detail-04-phone', phone);
    expect(await h.axeViolations(phone)).toEqual([]);
    await h.go('/config-groups', 'Configuration groups', phone);
    await h.shot('detail-05-config-groups-phone', phone);
    expect(await h.axeViolations(phone)).toEqual([]);
  });

  it('says a bad group name in words under the field, never the pattern', async () => {
    await h.go('/config-groups', 'Configuration groups');
    await page.getByLabel('New group name').fill('-not ok!');
    await page.getByRole('button', { name: 'Create' }).click();
    const field = page.getByRole('textbox', { name: 'New group name' });
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    await page
      .getByText(
        'is not in the expected form: a letter or digit, then letters, digits, spaces, dots, dashes or underscores',
      )
      .waitFor();
    expect(await page.getByText(/must match pattern/).count()).toBe(0);
  });

  it('labels configuration fields from the catalogue and never clamps a number', async () => {
    await h.go('/config-groups', 'Configuration groups');
    await page.getByRole('button', { name: /^detail/ }).click();
    await page.getByRole('heading', { level: 2, name: 'detail' }).waitFor();
    // Readable labels: the catalogue's words, with the section and the technical name as help.
    await page.getByRole('switch', { name: 'Enable the SNMP agent' }).waitFor();
    await page.getByRole('combobox', { name: 'Add a field' }).fill('analysis time');
    await page.getByRole('option', { name: /^Analysis time limit per file, in seconds/ }).click();
    const timeout = page.getByRole('textbox', { name: 'Analysis time limit per file, in seconds' });
    await timeout.fill('999999');
    await timeout.blur();
    // Said at once, next to the field, and the value stays what was typed.
    await page.getByText('must be between 10 and 86400').waitFor();
    expect(await timeout.inputValue()).toBe('999999');
    await page.getByText('10 to 86400 · default 300').waitFor();
    const saved = page.waitForResponse(
      (r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/config-group/save/detail/'),
    );
    await page.getByRole('button', { name: 'Save (does not apply)' }).click();
    const res = await saved;
    expect(res.status()).toBe(400);
    expect(await res.json()).toMatchObject({
      errors: [{ field: 'body.content.analysis__timeout', message: 'must be between 10 and 86400' }],
    });
    expect(await timeout.getAttribute('aria-invalid')).toBe('true');
    await h.shot('detail-06-field-errors');
    expect(await h.axeViolations()).toEqual([]);
    // Back in range: saved as typed.
    await timeout.fill('86400');
    await page.getByRole('button', { name: 'Remove Analysis time limit per file, in seconds' }).click();
  });

  it('confirms an apply with the diff, and disables Apply once nothing differs', async () => {
    await h.go('/config-groups', 'Configuration groups');
    await page.getByRole('button', { name: /^detail/ }).click();
    await page
      .getByRole('table', { name: 'Configuration diff' })
      .getByText('SNMP v2c community string')
      .waitFor();
    const apply = page.getByRole('button', { name: /Apply to 1 appliance/ });
    await expect.poll(() => apply.isEnabled()).toBe(true);
    await apply.click();
    const dialog = page.getByRole('dialog', { name: /Apply detail \(revision 2\)/ });
    await dialog.getByRole('table', { name: 'Configuration diff' }).getByText('ops-team').waitFor();
    await h.shot('detail-07-apply-confirm');
    expect(await h.axeViolations()).toEqual([]);
    // Cancel sends nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const g = await json<{ statuses: { applied_revision: number }[] }>(
      await api('/api/v1/config-group/retrieve/detail/'),
    );
    expect(g.statuses[0]?.applied_revision).toBe(1);
    await apply.click();
    await page
      .getByRole('dialog', { name: /Apply detail/ })
      .getByRole('button', { name: 'Apply now' })
      .click();
    await waitDone('detail');
    await page.getByTestId('no-differences').waitFor({ timeout: 15_000 });
    await expect.poll(() => apply.isDisabled(), { timeout: 15_000 }).toBe(true);
    await h.shot('detail-08-nothing-differs');
  });

  it('says a bad username and email in words under their fields in the user form', async () => {
    await h.go('/users', /Users/);
    await page.getByRole('button', { name: 'Add user' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add user' });
    await dialog.getByLabel(/^Username/).fill('has space');
    await dialog.getByLabel(/^Email/).fill('not-an-address');
    await dialog.getByLabel(/^Password/).fill('Correct-Horse-Battery-9-staple');
    await dialog.getByRole('button', { name: 'Add user' }).click();
    await dialog.getByText('is not in the expected form: letters, digits and @.+-_').waitFor();
    await dialog.getByText('must be an email address').waitFor();
    expect(await dialog.getByText(/must match/).count()).toBe(0);
    await h.shot('detail-10-user-form');
    expect(await h.axeViolations()).toEqual([]);
    await page.keyboard.press('Escape');
  });

  it('refuses a settings number out of range in words, without clamping it', async () => {
    await h.go('/settings/ticloud', /Settings/);
    const timeout = page.getByRole('textbox', { name: 'Timeout (seconds)' });
    await timeout.fill('999999');
    await timeout.blur();
    await page.getByText('must be between 1 and 600').waitFor();
    expect(await timeout.inputValue()).toBe('999999');
    const saved = page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url().includes('/api/v1/config/ticloud/'),
    );
    await page.getByRole('button', { name: 'Save' }).click();
    expect((await saved).status()).toBe(400);
    await page.getByText('Some fields need attention').waitFor();
    await h.shot('detail-09-settings-range');
    expect(await h.axeViolations()).toEqual([]);
    expect(h.browserErrors).toEqual([]);
    expect(h.writesWithoutCsrfHeader).toEqual([]);
  });
});
