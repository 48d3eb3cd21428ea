// The appliance list in a real browser against a real manager with three real agents: the empty
// state's enrollment command, search (and `/` to focus it), each filter, sorting, pages, the view
// in the URL (reload, back), bulk maintenance and authorize with a result per appliance, remove
// with confirmation, cards on a phone, and axe at both sizes. Screenshots go to
// test/browser/screenshots/appliances-*.png.
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleHarness, PASSWORD, PHONE, ready, startConsoleHarness } from './harness.js';

let h: ConsoleHarness;
let page: Page;
const ids: Record<string, number> = {};

/** The names of the appliances the table shows, top to bottom. */
async function shown(on: Page = page): Promise<string[]> {
  await on.getByTestId('appliances-table').waitFor();
  return on
    .locator('tr[data-appliance]')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-appliance') ?? ''));
}

/** Waits until the table shows exactly these appliances, in this order. */
async function expectShown(names: string[], on: Page = page) {
  await expect.poll(() => shown(on), { timeout: 10_000 }).toEqual(names);
}

/** Runs in the page: how far the appliance table is wider than the space it has (px). */
const TABLE_OVERFLOW = `(() => {
  const table = document.querySelector('[data-testid="appliances-table"]');
  const box = table?.closest('.mantine-ScrollArea-viewport') ?? table?.parentElement;
  return box ? box.scrollWidth - box.clientWidth : 9999;
})()`;

const param = (name: string) => new URL(page.url()).searchParams.get(name);

/** Picks an option of a select; a multi-select keeps its list open between picks. */
async function pick(label: string, option: string) {
  const opt = page.getByRole('option', { name: option, exact: true });
  if (!(await opt.isVisible())) await page.getByRole('combobox', { name: label, exact: true }).click();
  await opt.click();
}

async function api(path: string, method = 'GET', body?: unknown) {
  const res = await h.apiAsAdmin(path, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.status === 204 ? undefined : res.json();
}

describe.skipIf(!ready && !process.env.CI)('appliances list', () => {
  beforeAll(async () => {
    h = await startConsoleHarness({
      // Two real agents (a worker and a hub); w-b's URL has no agent behind it, so pairing with it
      // is refused and says why.
      agents: [
        { name: 'w-a', type: 'worker' },
        { name: 'h-c', type: 'hub' },
      ],
    });
    page = h.page;
    await page.goto(`${h.base}/sign-in`);
    await h.signInAs('admin', PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  });

  afterEach(async (ctx) => {
    await h?.shotIfFailed(ctx.task);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('an empty fleet shows the exact agent command for this manager, with a copy button', async () => {
    await h.go('/appliances', 'Appliances');
    await page.getByTestId('appliances-empty').waitFor();
    const enrollment = (await api('/api/v1/appliances/enrollment/?type=tiscale-worker')) as {
      command: string;
      fingerprint: string;
    };
    const line = page.getByTestId('agent-command-line');
    await expect.poll(() => line.textContent()).toBe(enrollment.command);
    expect(enrollment.command).toMatch(/^steward agent --type tiscale-worker --manager sha256:[0-9a-f]{64}$/);
    await page.getByRole('button', { name: 'Copy the command' }).click();
    await expect.poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(enrollment.command);
    // Another type, another command.
    await page.getByTestId('agent-command').getByText('Hub', { exact: true }).click();
    await expect.poll(() => line.textContent()).toContain('--type tiscale-hub');
    await h.shot('appliances-01-empty');
    expect(await h.axeViolations()).toEqual([]);

    const phone = await h.newPage(PHONE);
    await phone.goto(`${h.base}/sign-in`);
    await h.signInAs('admin', PASSWORD, phone);
    await phone.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await h.go('/appliances', 'Appliances', phone);
    await phone.getByTestId('agent-command-line').waitFor();
    // Nothing wider than the screen, the long fingerprint included.
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
      PHONE.width,
    );
    await h.shot('appliances-02-empty-phone', phone);
    expect(await h.axeViolations(phone)).toEqual([]);
    await phone.close();
  });

  it('lists the fleet; the authorize dialog shows the fingerprints to compare', async () => {
    const [wa, hc] = h.agents;
    for (const [name, type, url] of [
      ['w-a', 'worker', wa?.url],
      ['w-b', 'worker', 'https://127.0.0.1:9'],
      ['h-c', 'hub', hc?.url],
    ] as const) {
      ids[name] = (
        (await api('/api/v1/appliances/create/', 'POST', { name, type, url })) as { id: number }
      ).id;
    }
    await api('/api/v1/config-group/create/', 'POST', { name: 'lab' });
    await api('/api/v1/config-group/save/lab/', 'PATCH', { appliances: ['w-a'] });

    await h.go('/appliances', 'Appliances');
    await expectShown(['w-a', 'w-b', 'h-c']);
    // Authorize w-a from its row: the manager's fingerprint before, the pinned certificate after.
    await page.getByRole('button', { name: 'Authorize w-a' }).click();
    const dialog = page.getByRole('dialog', { name: 'Authorize w-a' });
    const managerFp = (await api('/api/v1/appliances/enrollment/')) as { fingerprint: string };
    await expect
      .poll(() => dialog.getByTestId('manager-fingerprint').textContent())
      .toBe(managerFp.fingerprint);
    await h.shot('appliances-03-authorize');
    await dialog.getByRole('button', { name: 'Pair and authorize' }).click();
    const pinned = await dialog.getByTestId('pinned-fingerprint').textContent();
    const printed = /TLS certificate: (sha256:[0-9a-f]{64})/.exec(wa?.output ?? '')?.[1];
    expect(pinned).toBe(printed);
    await dialog.getByRole('button', { name: 'Done' }).click();
    const row = page.locator('tr[data-appliance="w-a"]');
    await row.getByText('Online').waitFor();
    // The URL the admin typed stays visible, whole.
    await row.getByText(wa?.url ?? 'missing', { exact: true }).waitFor();
    await page.locator('tr[data-appliance="w-b"]').getByText('Unauthorized').waitFor();
    await h.shot('appliances-04-list');
    expect(await page.evaluate<number>(TABLE_OVERFLOW)).toBeLessThanOrEqual(0);
    expect(await h.axeViolations()).toEqual([]);
  });

  it('searches (/ focuses the box) and filters by state, type, group and configuration status', async () => {
    await page.locator('body').click({ position: { x: 5, y: 400 } });
    await page.keyboard.press('/');
    const search = page.getByRole('textbox', { name: 'Search appliances' });
    await expect
      .poll(() =>
        page.evaluate<boolean>(`document.activeElement?.getAttribute('aria-label') === 'Search appliances'`),
      )
      .toBe(true);
    await page.keyboard.type('w-b');
    await expectShown(['w-b']);
    await expect.poll(() => param('search')).toBe('w-b');
    // A URL typed into the search matches too.
    await search.fill(new URL(h.agents[1]?.url ?? 'http://x').host);
    await expectShown(['h-c']);
    await search.fill('');
    await expectShown(['w-a', 'w-b', 'h-c']);

    await pick('State', 'Unauthorized');
    await expectShown(['w-b', 'h-c']);
    expect(param('state')).toBe('unauthorized');
    await pick('State', 'Online');
    await expectShown(['w-a', 'w-b', 'h-c']);
    expect(param('state')).toBe('unauthorized,online');
    await page.getByRole('button', { name: 'Clear filters' }).click();

    await pick('Type', 'Hub');
    await expectShown(['h-c']);
    expect(param('type')).toBe('tiscale-hub');
    await page.getByRole('button', { name: 'Clear filters' }).click();

    await pick('Group', 'lab');
    await expectShown(['w-a']);
    expect(param('group_name')).toBe('lab');
    await page.getByRole('button', { name: 'Clear filters' }).click();

    await pick('Configuration status', 'no configuration group');
    await expectShown(['w-b', 'h-c']);
    await h.shot('appliances-05-filtered');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expectShown(['w-a', 'w-b', 'h-c']);
  });

  it('sorts by a column header (aria-sort), pages, and keeps the view in the URL', async () => {
    await h.go('/appliances', 'Appliances');
    const nameTh = page.locator('th', { hasText: 'Name' });
    await nameTh.getByRole('button').click();
    await expectShown(['h-c', 'w-a', 'w-b']);
    expect(await nameTh.getAttribute('aria-sort')).toBe('ascending');
    await nameTh.getByRole('button').click();
    await expectShown(['w-b', 'w-a', 'h-c']);
    expect(await nameTh.getAttribute('aria-sort')).toBe('descending');
    expect(param('ordering')).toBe('-name');
    const stateTh = page.locator('th', { hasText: 'State' });
    await stateTh.getByRole('button').click();
    // Online first, then the unauthorized ones (equal: by id).
    await expectShown(['w-a', 'w-b', 'h-c']);
    expect(await nameTh.getAttribute('aria-sort')).toBe('none');

    // A small page through the URL: what a shared link does.
    await page.goto(`${h.base}/appliances?ordering=name&page_size=2`);
    await expectShown(['h-c', 'w-a']);
    await expect.poll(() => page.getByTestId('appliances-range').textContent()).toBe('1–2 of 3');
    // A page size from a link that the menu does not offer is still shown as chosen.
    expect(await page.getByRole('combobox', { name: 'Appliances per page' }).inputValue()).toBe('2 per page');
    await page.getByRole('button', { name: 'Next page' }).click();
    await expectShown(['w-b']);
    expect(param('page')).toBe('2');
    await page.reload();
    await expectShown(['w-b']);
    await h.shot('appliances-06-page-2');
    await page.goBack();
    await expectShown(['h-c', 'w-a']);
    await page.goForward();
    await expectShown(['w-b']);
  });

  it('bulk actions give each appliance its own result', async () => {
    await page.goto(`${h.base}/appliances?ordering=name`);
    await expectShown(['h-c', 'w-a', 'w-b']);
    const select = (name: string) =>
      page.getByRole('checkbox', { name: `Select ${name}`, exact: true }).check();
    const results = page.getByTestId('bulk-results');
    const resultsDialog = page.getByRole('dialog').filter({ has: results });
    // The results' own Close button (the dialog's corner button is named Close too).
    const close = () =>
      resultsDialog.getByRole('button', { name: 'Close' }).filter({ hasText: 'Close' }).click();

    // Maintenance on for the page, then off.
    await page.getByRole('checkbox', { name: 'Select all on this page' }).check();
    await page.getByTestId('bulk-bar').getByRole('button', { name: 'Maintenance on' }).click();
    await expect.poll(() => results.locator('[data-result="done"]').count()).toBe(3);
    await h.shot('appliances-07-bulk-maintenance');
    await close();
    await page.locator('tr[data-appliance="w-a"]').getByText('Maintenance').waitFor();
    // Every column fits at 1280 px, the widest state badge included: nothing scrolls sideways.
    expect(await page.evaluate<number>(TABLE_OVERFLOW)).toBeLessThanOrEqual(0);
    // Unauthorized wins over maintenance: they still show what they need first.
    await page.locator('tr[data-appliance="w-b"]').getByText('Unauthorized').waitFor();
    await page.locator('tr[data-appliance="h-c"]').getByText('Unauthorized').waitFor();
    await page.getByRole('checkbox', { name: 'Select all on this page' }).check();
    await page.getByTestId('bulk-bar').getByRole('button', { name: 'Maintenance off' }).click();
    await expect.poll(() => results.locator('[data-result="done"]').count()).toBe(3);
    await close();
    await page.locator('tr[data-appliance="w-a"]').getByText('Online').waitFor();

    // Authorize: one already is, one has no agent behind its URL (both refused with the reason),
    // the hub pairs.
    await select('w-a');
    await select('w-b');
    await select('h-c');
    await page.getByTestId('bulk-bar').getByRole('button', { name: 'Authorize' }).click();
    await expect.poll(() => results.locator('[data-result]').count(), { timeout: 20_000 }).toBe(3);
    const lines = await results.locator('[data-result]').allTextContents();
    // In the order they were selected.
    expect(lines).toEqual([
      'w-a: refused: already authorized',
      expect.stringMatching(/^w-b: refused: unreachable/),
      'h-c: done',
    ]);
    await h.shot('appliances-07b-bulk-authorize');
    await close();
    await page.locator('tr[data-appliance="h-c"]').getByText('Online').waitFor();
    // The refused ones stay selected; the done one is not.
    expect(await page.getByRole('checkbox', { name: 'Select w-a', exact: true }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: 'Select w-b', exact: true }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: 'Select h-c', exact: true }).isChecked()).toBe(false);
    await page.getByRole('checkbox', { name: 'Select w-a', exact: true }).uncheck();
    await page.getByRole('checkbox', { name: 'Select w-b', exact: true }).uncheck();

    // Add to group: the API refuses a hub in a standard group, and says why.
    await select('h-c');
    await select('w-b');
    await page.getByTestId('bulk-bar').getByRole('button', { name: 'Add to group' }).click();
    await page
      .getByRole('dialog', { name: 'Add to a group' })
      .getByRole('combobox', { name: 'Group', exact: true })
      .click();
    await page.getByRole('option', { name: 'lab', exact: true }).click();
    await page.getByRole('button', { name: 'Add 2' }).click();
    await expect.poll(() => results.locator('[data-result]').count()).toBe(2);
    await expect(results.locator('[data-result="refused"]').textContent()).resolves.toContain(
      'h-c: refused: "h-c" is a hub; hubs belong in hub groups',
    );
    await expect(results.locator('[data-result="done"]').textContent()).resolves.toBe('w-b: done');
    await h.shot('appliances-08-bulk-group');
    await close();
    await page.getByRole('checkbox', { name: 'Select h-c', exact: true }).uncheck();

    // A hub belongs in a hub group: the picker offers hub groups under their own heading, and the
    // add goes through the hub group's save, keeping the members it already has. A hub group
    // starts with its primary hub; emptied here so the bulk add has a hub to add. w-b leaves lab
    // to be added too; w-a stays in lab, and the refusal is the API's.
    await api('/api/v1/tiscale-hub-group/create/', 'POST', {
      name: 'edge',
      primary_router_id: 'r1',
      primary_host: 'h-c',
    });
    await api('/api/v1/tiscale-hub-group/save/edge/', 'PUT', { appliances: [] });
    await api('/api/v1/config-group/save/lab/', 'PUT', { appliances: ['w-a'] });
    await select('h-c');
    await select('w-b');
    await select('w-a');
    await page.getByTestId('bulk-bar').getByRole('button', { name: 'Add to group' }).click();
    const picker = page.getByRole('dialog', { name: 'Add to a group' });
    await picker.getByRole('combobox', { name: 'Group', exact: true }).click();
    const options = page.getByRole('listbox');
    await options.getByText('Configuration groups', { exact: true }).waitFor();
    await options.getByText('Hub groups', { exact: true }).waitFor();
    await h.shot('appliances-08b-bulk-hub-group-picker');
    expect(await h.axeViolations()).toEqual([]);
    await page.getByRole('option', { name: 'edge', exact: true }).click();
    await picker.getByRole('button', { name: 'Add 3' }).click();
    await expect.poll(() => results.locator('[data-result]').count()).toBe(3);
    expect(await results.locator('[data-result]').allTextContents()).toEqual([
      'h-c: done',
      'w-b: done',
      'w-a: refused: appliance "w-a" is already in group "lab"; an appliance is in at most one group',
    ]);
    await resultsDialog.getByRole('heading', { name: 'Add to group: hub group edge' }).waitFor();
    await h.shot('appliances-08c-bulk-hub-group');
    const edge = (await api('/api/v1/config-group/retrieve/edge/')) as { kind: string; appliances: string[] };
    expect(edge.kind).toBe('hub');
    expect([...edge.appliances].sort()).toEqual(['h-c', 'w-b']);
    await close();
    await page.getByRole('checkbox', { name: 'Select w-a', exact: true }).uncheck();
  });

  it('removes only after confirmation', async () => {
    await page.getByRole('checkbox', { name: 'Select w-b', exact: true }).check();
    await page.getByTestId('bulk-bar').getByRole('button', { name: 'Remove' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove appliances?' });
    await expect(confirm.getByTestId('remove-list').textContent()).resolves.toBe('w-b');
    await h.shot('appliances-09-remove-confirm');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expectShown(['h-c', 'w-a', 'w-b']);
    await page.getByTestId('bulk-bar').getByRole('button', { name: 'Remove' }).click();
    await confirm.getByRole('button', { name: 'Remove 1' }).click();
    const results = page.getByTestId('bulk-results');
    await expect.poll(() => results.locator('[data-result="done"]').count()).toBe(1);
    await page
      .getByRole('dialog')
      .filter({ has: results })
      .getByRole('button', { name: 'Close' })
      .filter({ hasText: 'Close' })
      .click();
    await expectShown(['h-c', 'w-a']);
    expect((await h.apiAsAdmin(`/api/v1/appliances/${ids['w-b']}/`)).status).toBe(404);
  });

  it('becomes cards on a phone, and stays accessible', async () => {
    const phone = await h.newPage(PHONE);
    await phone.goto(`${h.base}/sign-in`);
    await h.signInAs('admin', PASSWORD, phone);
    await phone.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await h.go('/appliances?ordering=name', 'Appliances', phone);
    const cards = phone.getByTestId('appliance-cards');
    await cards.locator('[data-appliance-card="h-c"]').waitFor();
    await cards.locator('[data-appliance-card="w-a"]').getByText('Online').waitFor();
    expect(await phone.getByTestId('appliances-table').count()).toBe(0);
    // Nothing wider than the screen.
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
      PHONE.width,
    );
    await h.shot('appliances-10-phone', phone);
    expect(await h.axeViolations(phone)).toEqual([]);
    // The group picker, hub groups apart, fits the phone too; Cancel adds nothing.
    await phone.getByRole('checkbox', { name: 'Select h-c', exact: true }).check();
    await phone.getByTestId('bulk-bar').getByRole('button', { name: 'Add to group' }).click();
    const picker = phone.getByRole('dialog', { name: 'Add to a group' });
    await picker.getByRole('combobox', { name: 'Group', exact: true }).click();
    await phone.getByRole('listbox').getByText('Hub groups', { exact: true }).waitFor();
    await h.shot('appliances-10b-phone-group-picker', phone);
    expect(await h.axeViolations(phone)).toEqual([]);
    await phone.keyboard.press('Escape');
    await picker.getByRole('button', { name: 'Cancel' }).click();
    await picker.waitFor({ state: 'hidden' });
    await phone.close();

    await h.go('/appliances', 'Appliances');
    await h.shot('appliances-11-desktop');
    expect(await h.axeViolations()).toEqual([]);
  });

  it('saw no script errors, no CSP violations and no write without the CSRF header', () => {
    expect(h.browserErrors).toEqual([]);
    expect(h.writesWithoutCsrfHeader).toEqual([]);
  });
});
