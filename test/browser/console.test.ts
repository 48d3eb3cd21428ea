// The web console in a real browser (Debian's Chromium through playwright-core) against a real
// manager process on the embedded database: sign in, create a token and use it, disable it and
// see it refused, users, sessions, the audit log, the dashboard, the fleet and system pages. Every run saves a
// screenshot of each page under test/browser/screenshots/ for a human to look at.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher } from '../helpers/agent-package.js';
import type { AgentProcess } from '../helpers/agent-spawn.js';
import type { RunningManager } from '../helpers/process.js';
import { type ConsoleHarness, PASSWORD, ready, startConsoleHarness, UNLABELLED_CONTROLS } from './harness.js';

let h: ConsoleHarness;
let manager: RunningManager;
let page: ConsoleHarness['page'];
let agent: AgentProcess | undefined;
let hub: AgentProcess | undefined;
let hubId = 0;

const shot = (name: string) => h.shot(name);
const go = (path: string, heading: string | RegExp) => h.go(path, heading);
const signInAs = (username: string, password: string) => h.signInAs(username, password);
const apiAsAdmin = (path: string, init?: RequestInit) => h.apiAsAdmin(path, init);
const chooseFile = (
  trigger: Parameters<ConsoleHarness['chooseFile']>[0],
  name: string,
  content: string | Buffer,
) => h.chooseFile(trigger, name, content);

/** The passphrase the backup steps seal their archive with (at least 12 characters). */
const BACKUP_PASSPHRASE = 'console test backup passphrase';

// Locally a missing browser or console build skips these tests; in CI (CI=1) they must run.
describe.skipIf(!ready && !process.env.CI)('web console', () => {
  beforeAll(async () => {
    h = await startConsoleHarness({
      agents: [
        { name: 'w1', type: 'worker' },
        { name: 'h1', type: 'hub' },
      ],
    });
    ({ manager, page } = h);
    [agent, hub] = h.agents;
  });

  afterEach(async (ctx) => {
    // A failing step leaves a picture of what the browser showed.
    await h?.shotIfFailed(ctx.task);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('sends an anonymous visitor to sign-in and shows a wrong password in place', async () => {
    await page.goto(`${h.base}/tokens`);
    await page.waitForURL(/\/sign-in$/);
    await expect(page.getByRole('link', { name: 'API documentation' }).getAttribute('href')).resolves.toBe(
      '/api/docs',
    );
    await shot('01-sign-in');
    await page.getByLabel('Username').fill('admin');
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/incorrect/i);
    await shot('02-sign-in-failed');
  });

  it('signs in with the session cookie, back on the page asked for; home is the dashboard', async () => {
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The visitor asked for /tokens before signing in (a sign-in without one lands on the
    // dashboard: the viewer's test at the end).
    await page.waitForURL(/\/tokens$/);
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    // A fresh manager: no appliances yet; the page gives the command that starts an agent
    // paired with this manager only, and says where to add the appliance then.
    await page.getByRole('link', { name: 'add it on the Appliances page' }).waitFor();
    await expect
      .poll(() => page.getByTestId('agent-command').textContent())
      .toMatch(/steward agent --type tiscale-worker --manager sha256:[0-9a-f]{64}/);
    await expect(page.getByTestId('stat-online').textContent()).resolves.toContain('0');
    await shot('02b-dashboard-empty');
    await go('/tokens', 'API tokens');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'steward_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    await expect(page.getByRole('link', { name: /API docs/ }).getAttribute('href')).resolves.toBe(
      '/api/docs',
    );
  });

  let secret = '';
  it('creates a token, shows the secret once, and the token works against the API', async () => {
    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API token' });
    // The manager's validation error appears next to the field it concerns.
    await dialog.getByLabel('Allowed IPs').fill('not-an-address');
    await dialog.getByLabel('Allowed IPs').press('Enter');
    await dialog.getByLabel('Name', { exact: false }).first().fill('siem-export');
    await dialog.getByLabel('audit:read').check();
    await dialog.getByLabel('tokens:read').check();
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await dialog
      .getByText(/allowed_ips|address|CIDR/i)
      .first()
      .waitFor();
    await shot('03-new-token-field-error');
    await dialog
      .getByRole('button', { name: /Remove not-an-address/i })
      .click()
      .catch(async () => {
        await dialog.getByLabel('Allowed IPs').press('Backspace');
      });
    await dialog.getByLabel('Allowed IPs').fill('127.0.0.1/32');
    await dialog.getByLabel('Allowed IPs').press('Enter');
    await dialog.getByLabel('Default tags').fill('siem');
    await dialog.getByLabel('Default tags').press('Enter');
    await shot('04-new-token-dialog');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const secretBox = page.getByTestId('token-secret');
    await secretBox.waitFor();
    secret = (await secretBox.textContent())?.trim() ?? '';
    expect(secret.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Copy to clipboard' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    await shot('05-token-secret-once');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await expect(page.getByTestId('token-secret').count()).resolves.toBe(0);

    // A token about to expire, made by a script: the table must make it stand out.
    const soon = await apiAsAdmin('/api/v1/tokens/', {
      method: 'POST',
      body: JSON.stringify({
        name: 'legacy-sms',
        expires_at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
      }),
    });
    expect(soon.status).toBe(201);
    await page.reload();
    await page.locator('tr', { hasText: 'legacy-sms' }).getByText('expires in 3 days').waitFor();

    const row = page.locator('tr', { hasText: 'siem-export' });
    await row.waitFor();
    // Hidden in the table: only the prefix and the last four characters.
    await expect(row.textContent()).resolves.toContain(secret.slice(-4));
    await expect(row.textContent()).resolves.not.toContain(secret);
    await shot('06-tokens');

    const ok = await fetch(`${manager.baseUrl}/api/v1/audit/?limit=1`, {
      headers: { authorization: `Token ${secret}` },
    });
    expect(ok.status).toBe(200);
  });

  it('disables the token with its toggle, and the API refuses it on the next request', async () => {
    const toggle = page.getByRole('switch', { name: 'Enabled: siem-export' });
    await expect(toggle.isChecked()).resolves.toBe(true);
    const patched = page.waitForResponse(
      (r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/tokens/'),
    );
    await toggle.click({ force: true });
    expect((await patched).status()).toBe(200);
    await page.locator('tr', { hasText: 'siem-export' }).getByText('disabled').waitFor();
    const refused = await fetch(`${manager.baseUrl}/api/v1/audit/?limit=1`, {
      headers: { authorization: `Token ${secret}` },
    });
    expect(refused.status).toBe(401);
    await shot('07-token-disabled');
  });

  it('refreshes a token with a grace period and shows the new secret', async () => {
    await page.getByRole('button', { name: 'Refresh siem-export' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Refresh token' }).click();
    const fresh = (await page.getByTestId('token-secret').textContent())?.trim();
    expect(fresh).toBeTruthy();
    expect(fresh).not.toBe(secret);
    await page.getByRole('button', { name: 'I have stored it' }).click();
  });

  it('edits a token and deletes another, and the API sees both changes', async () => {
    await page.getByRole('button', { name: 'Edit siem-export' }).click();
    const dialog = page.getByRole('dialog', { name: /Edit token/ });
    await dialog.getByRole('textbox', { name: 'Description' }).fill('SIEM nightly export');
    const saved = page.waitForResponse(
      (r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/tokens/'),
    );
    await dialog.getByRole('button', { name: 'Save' }).click();
    expect((await saved).status()).toBe(200);
    await dialog.waitFor({ state: 'hidden' });
    const names = async () =>
      (
        (await (await apiAsAdmin('/api/v1/tokens/?page_size=100')).json()) as {
          results: { name: string; description: string }[];
        }
      ).results;
    expect((await names()).find((t) => t.name === 'siem-export')?.description).toBe('SIEM nightly export');

    await page.getByRole('button', { name: 'More actions for legacy-sms' }).click();
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    await shot('06b-token-delete-confirm');
    await page
      .getByRole('dialog', { name: /legacy-sms/ })
      .getByRole('button', { name: 'Delete token' })
      .click();
    await expect.poll(() => page.locator('tr', { hasText: 'legacy-sms' }).count()).toBe(0);
    expect((await names()).some((t) => t.name === 'legacy-sms')).toBe(false);
  });

  it('manages users: errors next to the field, add, API-only users refused at sign-in', async () => {
    await go('/users', 'Users & groups');
    await page.getByRole('button', { name: 'Add user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add user' });
    await dialog.getByLabel('Username').fill('bad name');
    await dialog.getByRole('textbox', { name: 'Password', exact: true }).fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Add user' }).click();
    await dialog.locator('.mantine-TextInput-error').first().waitFor();
    await shot('08-add-user-error');
    await dialog.getByLabel('Username').fill('alice');
    await dialog.getByLabel('Email').fill('alice@example.com');
    await dialog.getByRole('button', { name: 'Add user' }).click();
    await page.locator('tr[data-user="alice"]').waitFor();
    // An API-only account for an integration, created through the API like a script would.
    const svc = await apiAsAdmin('/api/v1/authentication/users/add/', {
      method: 'POST',
      body: JSON.stringify({
        username: 'svc-siem',
        password: 'Service Account Passphrase 7',
        api_only: true,
      }),
    });
    expect(svc.status).toBe(201);
    await page.reload();
    await page.locator('tr[data-user="svc-siem"]').getByText('API-only').waitFor();
    await shot('09-users');
  });

  it("changes a user's role and issues a per-user API key that works", async () => {
    const patched = page.waitForResponse(
      (r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/authentication/users/'),
    );
    await page.getByRole('combobox', { name: 'Role of alice' }).click();
    await page.getByRole('option', { name: 'operator', exact: true }).click();
    expect((await patched).status()).toBe(200);
    const users = (await (await apiAsAdmin('/api/v1/authentication/users/?page_size=100')).json()) as {
      results: { username: string; role: string }[];
    };
    expect(users.results.find((u) => u.username === 'alice')?.role).toBe('operator');
    // Back to viewer for the viewer checks at the end.
    await page.getByRole('combobox', { name: 'Role of alice' }).click();
    await page.getByRole('option', { name: 'viewer', exact: true }).click();
    await expect
      .poll(() => page.getByRole('combobox', { name: 'Role of alice' }).inputValue())
      .toBe('viewer');

    await page.getByRole('button', { name: 'Actions for svc-siem' }).click();
    await page.getByRole('menuitem', { name: /New API key/ }).click();
    const key = (await page.getByTestId('token-secret').textContent())?.trim() ?? '';
    expect(key.length).toBeGreaterThan(20);
    await shot('09b-user-api-key');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    const who = await fetch(`${manager.baseUrl}/api/v1/auth/whoami/`, {
      headers: { authorization: `Token ${key}` },
    });
    expect(who.status).toBe(200);
    expect(((await who.json()) as { user: { username: string } }).user.username).toBe('svc-siem');
  });

  it('shows the user their sessions', async () => {
    await go('/sessions', 'Sessions');
    await page.getByText('this session').waitFor();
    await shot('10-sessions');
  });

  it('reads the audit log with filters', async () => {
    await go('/audit', 'Audit log');
    const table = page.getByTestId('audit-table');
    await table.getByText('token.created').first().waitFor();
    await table.getByText('token.disabled').first().waitFor();
    await shot('11-audit');
    await page.getByLabel('Action').fill('auth.login_failed');
    await table.getByText('auth.login_failed').first().waitFor();
    await expect.poll(() => table.getByText('token.created').count(), { timeout: 10_000 }).toBe(0);
  });

  it('adds an appliance and authorizes it with the token its agent printed', async () => {
    await go('/appliances', 'Appliances');
    await page.getByRole('button', { name: 'Add appliance' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add appliance' });
    await dialog.getByLabel('Name').fill('w1');
    await dialog.getByLabel('Agent URL').fill(agent?.url ?? '');
    await dialog.getByRole('button', { name: 'Add appliance' }).click();
    const row = page.locator('tr', { hasText: 'w1' });
    await row.getByText('Unauthorized').waitFor();
    await page.getByRole('button', { name: 'Authorize w1' }).click();
    // Workers pair with the manager (no token to paste); the manager pins the agent's certificate,
    // and the dialog shows it for comparing with what the agent printed.
    const auth = page.getByRole('dialog', { name: 'Authorize w1' });
    await auth.getByRole('button', { name: 'Pair and authorize' }).click();
    await auth.getByTestId('pinned-fingerprint').waitFor();
    await auth.getByRole('button', { name: 'Done' }).click();
    await expect.poll(() => row.getByText('Unauthorized').count(), { timeout: 15_000 }).toBe(0);
    await shot('12-appliances-authorized');
  });

  it('saves a configuration group, shows the diff, applies it and watches it reach done', async () => {
    await go('/config-groups', 'Configuration groups');
    await page.getByLabel('New group name').fill('workers');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 2, name: 'workers' }).waitFor();
    await page.getByRole('combobox', { name: 'Members' }).click();
    await page.getByRole('option', { name: 'w1' }).click();
    await page.keyboard.press('Escape');
    await page.getByRole('combobox', { name: 'Add a field' }).fill('snmp__enable');
    await page.getByRole('option', { name: /snmp__enable\)$/ }).click();
    await page.getByRole('switch', { name: 'Enable the SNMP agent' }).click({ force: true });
    await page.getByRole('button', { name: 'Save (does not apply)' }).click();
    await page
      .getByRole('table', { name: 'Configuration diff' })
      .getByText('snmp__enable')
      .waitFor({ timeout: 15_000 });
    await shot('13-config-group-diff');
    await page.getByRole('button', { name: /Apply to 1 appliance/ }).click();
    await page
      .getByRole('dialog', { name: /Apply workers/ })
      .getByRole('button', { name: 'Apply now' })
      .click();
    await page
      .locator('tr[data-member="w1"]')
      .getByText('done', { exact: true })
      .waitFor({ timeout: 30_000 });
    await page.getByText(/^No differences/).waitFor({ timeout: 15_000 });
    await shot('13-config-group-done');
  });

  it('creates a hub group from the console, with the API errors next to the fields', async () => {
    // The hub is added and authorized through the API, the way a script would.
    const created = await apiAsAdmin('/api/v1/appliances/create/', {
      method: 'POST',
      body: JSON.stringify({ name: 'h1', type: 'hub', url: hub?.url }),
    });
    expect(created.status).toBe(201);
    hubId = ((await created.json()) as { id: number }).id;
    expect((await apiAsAdmin(`/api/v1/appliances/${hubId}/authorization/`)).status).toBe(200);

    await go('/hub-groups', 'Hub groups');
    await page.getByRole('button', { name: 'New hub group' }).click();
    const dialog = page.getByRole('dialog', { name: 'New hub group' });
    await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('hubs-eu');
    await dialog.getByRole('button', { name: 'Create hub group' }).click();
    // The manager names the missing fields; each message appears under its field.
    await dialog.locator('[class*="InputWrapper-error"], [class*="-error"]').first().waitFor();
    await expect(
      dialog.getByRole('textbox', { name: 'Primary router id' }).getAttribute('aria-invalid'),
    ).resolves.toBe('true');
    await shot('23-hub-group-errors');
    await dialog.getByRole('combobox', { name: 'Primary hub' }).click();
    await page.getByRole('option', { name: 'h1', exact: true }).click();
    await dialog.getByRole('textbox', { name: 'Primary router id' }).fill('r1');
    await dialog.getByRole('button', { name: 'Create hub group' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('heading', { level: 2, name: 'hubs-eu' }).waitFor();
    await page.getByRole('table', { name: 'Hub-only settings' }).getByText('r1').waitFor();
    // Nothing saved yet, so nothing to apply: Apply is disabled and says why.
    const apply = page.getByRole('button', { name: /Apply to 1 appliance/ });
    await expect.poll(() => apply.isDisabled()).toBe(true);
    await expect(page.getByTestId('apply-disabled-reason').textContent()).resolves.toMatch(
      /^Nothing saved yet/,
    );
    // Record every apply the console sends to this hub group.
    const applies: string[] = [];
    const onRequest = (r: { method(): string; url(): string }) => {
      if (r.method() === 'PATCH' && r.url().includes('/api/v1/tiscale-hub-group/update/hubs-eu/'))
        applies.push(r.url());
    };
    page.on('request', onRequest);
    // Save a configuration for the group (PUT .../save/); unsaved, Apply stays disabled.
    await page.getByRole('combobox', { name: 'Add a field' }).fill('snmp__enable');
    await page.getByRole('option', { name: /snmp__enable\)$/ }).click();
    await page.getByRole('switch', { name: 'Enable the SNMP agent' }).click({ force: true });
    await expect(page.getByTestId('apply-disabled-reason').textContent()).resolves.toMatch(/^Save first/);
    expect(await apply.isDisabled()).toBe(true);
    const saved = page.waitForResponse(
      (r) => r.request().method() === 'PUT' && r.url().includes('/api/v1/tiscale-hub-group/save/hubs-eu/'),
    );
    await page.getByRole('button', { name: 'Save hub group' }).click();
    expect((await saved).status()).toBe(200);
    // The diff panel shows what an apply would change; Apply asks first, with that diff.
    await page
      .getByRole('table', { name: 'Configuration diff' })
      .getByText('snmp__enable')
      .waitFor({ timeout: 15_000 });
    await expect.poll(() => apply.isEnabled()).toBe(true);
    await shot('24a-hub-group-diff');
    await apply.click();
    const confirm = page.getByRole('dialog', { name: 'Apply hubs-eu (revision 1)?' });
    await confirm.getByRole('table', { name: 'Configuration diff' }).getByText('snmp__enable').waitFor();
    await shot('24b-hub-group-apply-confirm');
    expect((await h.axeViolations()).join('\n')).toBe('');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('24c-hub-group-apply-confirm-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
    // Cancel sends nothing: the hub has not taken the revision.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await page.waitForLoadState('networkidle');
    expect(applies).toEqual([]);
    const before = (await (await apiAsAdmin('/api/v1/config-group/retrieve/hubs-eu/')).json()) as {
      statuses: { name: string; applied_revision: number | null }[];
    };
    expect(before.statuses).toEqual([expect.objectContaining({ name: 'h1', applied_revision: null })]);
    // Apply now sends it (PATCH .../update/).
    const applied = page.waitForResponse(
      (r) =>
        r.request().method() === 'PATCH' && r.url().includes('/api/v1/tiscale-hub-group/update/hubs-eu/'),
    );
    await apply.click();
    await confirm.getByRole('button', { name: 'Apply now' }).click();
    expect((await applied).status()).toBe(202);
    await confirm.waitFor({ state: 'hidden' });
    page.off('request', onRequest);
    expect(applies).toHaveLength(1);
    await page
      .getByRole('table', { name: 'Hub group member status' })
      .locator('tr[data-member="h1"]')
      .getByText('done', { exact: true })
      .waitFor({ timeout: 30_000 });
    // Once the hub runs the latest revision nothing differs, and Apply is disabled again.
    await page.getByText(/^No differences/).waitFor({ timeout: 15_000 });
    await expect.poll(() => apply.isDisabled(), { timeout: 15_000 }).toBe(true);
    await expect(apply.getAttribute('title')).resolves.toMatch(/^Nothing differs/);
    await shot('24-hub-groups');
    const groups = (await (await apiAsAdmin('/api/v1/config-group/list/?page_size=100')).json()) as {
      results: { name: string; kind: string; appliances: string[] }[];
    };
    const g = groups.results.find((x) => x.name === 'hubs-eu');
    expect(g?.kind).toBe('hub');
    expect(g?.appliances).toContain('h1');
  });

  it("edits a hub's connector configuration, keeping secrets write-only", async () => {
    await go(`/appliances/${hubId}`, 'h1');
    await page.getByRole('combobox', { name: 'Connector' }).click();
    await page.getByRole('option', { name: 's3', exact: true }).click();
    await page.getByRole('button', { name: 'Enable s3' }).click();
    await page.getByRole('form', { name: 's3 connector configuration' }).waitFor();
    await expect.poll(() => page.getByRole('button', { name: 'Enable s3' }).count()).toBe(0);
    for (const field of ['bucket', 'secret_key']) {
      await page.getByRole('textbox', { name: 'New field name' }).fill(field);
      await page.getByRole('button', { name: 'Add field' }).click();
    }
    await page.getByRole('textbox', { name: 'bucket', exact: true }).fill('samples');
    await page.getByLabel('secret_key', { exact: true }).fill('S3 Secret Value 1');
    const saved = page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url().includes('/connectors/s3/v1/config/'),
    );
    await page.getByRole('button', { name: 'Save connector' }).click();
    expect((await saved).status()).toBe(200);
    const secretRow = page.locator('[data-field="secret_key"]');
    await secretRow.getByText('set', { exact: true }).waitFor();
    const stored = (await (
      await apiAsAdmin(`/api/v1/appliances/${hubId}/connectors/s3/v1/config/`)
    ).json()) as {
      enabled: boolean;
      config: Record<string, unknown>;
    };
    expect(stored.enabled).toBe(true);
    expect(stored.config).toEqual({ bucket: 'samples', secret_key_set: true });
    expect(JSON.stringify(stored)).not.toContain('S3 Secret Value 1');
    // A save that leaves the stored secret empty keeps it.
    await page.getByRole('textbox', { name: 'bucket', exact: true }).fill('samples-2');
    const resaved = page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url().includes('/connectors/s3/v1/config/'),
    );
    await page.getByRole('button', { name: 'Save connector' }).click();
    expect((await resaved).status()).toBe(200);
    const kept = (await (
      await apiAsAdmin(`/api/v1/appliances/${hubId}/connectors/s3/v1/config/`)
    ).json()) as {
      config: Record<string, unknown>;
    };
    expect(kept.config).toEqual({ bucket: 'samples-2', secret_key_set: true });
    await shot('25-connectors');
  });

  it('uploads a certificate to a hub, and shows the refusal next to the file', async () => {
    await chooseFile(
      page.getByRole('button', { name: 'Certificate and key (PEM)', exact: true }),
      'not-a-cert.pem',
      'this is not PEM\n',
    );
    await page.getByRole('button', { name: 'Upload certificate' }).click();
    await page
      .getByRole('form', { name: 'Certificate upload' })
      .locator('[class*="FileInput-error"], [class*="InputWrapper-error"]')
      .first()
      .waitFor();
  });

  it('uploads files with tags, filters them, downloads and deletes', async () => {
    await go('/files', 'Files');
    const table = page.getByTestId('files-table');
    await chooseFile(
      page.getByRole('button', { name: 'File', exact: true }),
      'capture-notes.txt',
      'incident 42 notes\n',
    );
    await page.getByRole('combobox', { name: 'Tags' }).fill('incident-42');
    await page.getByRole('combobox', { name: 'Tags' }).press('Enter');
    const uploaded = page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url().includes('/api/v1/files/'),
    );
    await page.getByRole('button', { name: 'Upload file' }).click();
    expect((await uploaded).status()).toBe(201);
    const row = table.locator('tr[data-file="capture-notes.txt"]');
    await row.getByText('incident-42').waitFor();
    await row.getByText('text', { exact: true }).waitFor();
    await chooseFile(
      page.getByRole('button', { name: 'File', exact: true }),
      'other.txt',
      'something else\n',
    );
    await page.getByRole('button', { name: 'Upload file' }).click();
    await table.locator('tr[data-file="other.txt"]').waitFor();
    await shot('26-files');

    await page.getByRole('textbox', { name: 'Tag', exact: true }).fill('incident-42');
    await expect.poll(() => table.locator('tr[data-file="other.txt"]').count()).toBe(0);
    await expect.poll(() => row.count()).toBe(1);
    await page.getByRole('textbox', { name: 'Tag', exact: true }).fill('');
    await table.locator('tr[data-file="other.txt"]').waitFor();

    const href = await page.getByRole('link', { name: 'Download capture-notes.txt' }).getAttribute('href');
    const got = await page.evaluate(async (url) => {
      const r = await fetch(url as string);
      return { status: r.status, body: await r.text(), disposition: r.headers.get('content-disposition') };
    }, href);
    expect(got).toMatchObject({ status: 200, body: 'incident 42 notes\n' });
    expect(got.disposition).toContain('attachment');

    await page.getByRole('button', { name: 'Delete other.txt' }).click();
    await page
      .getByRole('dialog', { name: /other\.txt/ })
      .getByRole('button', { name: 'Delete file' })
      .click();
    await expect.poll(() => table.locator('tr[data-file="other.txt"]').count()).toBe(0);
    const list = (await (await apiAsAdmin('/api/v1/files/')).json()) as { results: { name: string }[] };
    expect(list.results.map((f) => f.name)).toEqual(['capture-notes.txt']);
  });

  it("shows the manager's licence status and machine id, and the appliances' licences", async () => {
    await go('/licensing', 'Licensing');
    const managerLicence = async () =>
      (await (await apiAsAdmin('/api/v1/license/manager/')).json()) as { status: string; machineId: string };
    // A fresh manager has no licence: the page says what that means (polish.test.ts reads it).
    await page.getByTestId('licence-none').waitFor();
    // The first machine id voids nothing, so it is made without a question.
    await page.getByRole('button', { name: 'Generate a machine id' }).click();
    await expect
      .poll(() => page.getByTestId('machine-id').textContent(), { timeout: 10_000 })
      .toMatch(/^[0-9A-Fa-f]{16,}$/);
    const first = await page.getByTestId('machine-id').textContent();
    // A new one asks first (a licence bound to the old id stops being valid).
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Generate a new machine id' }).click();
    await expect
      .poll(() => page.getByTestId('machine-id').textContent(), { timeout: 10_000 })
      .not.toBe(first);
    await expect(page.getByTestId('machine-id').textContent()).resolves.toBe(
      (await managerLicence()).machineId,
    );
    const appliances = page.getByRole('table', { name: 'Appliance licences' });
    await appliances.locator('tr[data-appliance="w1"]').waitFor();
    await appliances.locator('tr[data-appliance="h1"]').getByText('UNLICENSED').waitFor();
    // A file that is not a licence is refused, and the reason shows under the file picker.
    await chooseFile(
      page.getByRole('button', { name: 'Manager licence file', exact: true }),
      'bogus.lic',
      'not a licence',
    );
    await page.getByRole('button', { name: 'Upload licence' }).click();
    await page
      .getByRole('form', { name: 'Manager licence file upload' })
      .locator('[class*="FileInput-error"], [class*="InputWrapper-error"]')
      .first()
      .waitFor();
    // The cloud licensing connection: a typed form, the token write-only.
    const cloud = page.getByRole('form', { name: 'license_cloud settings' });
    await expect(page.getByTestId('secret-state-Token').textContent()).resolves.toBe('not set');
    await cloud.getByRole('textbox', { name: 'User name' }).fill('u/steward');
    await cloud.getByLabel('Token', { exact: true }).fill('Cloud Token 123');
    const saved = page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url().includes('/api/v1/license/configure/cloud/'),
    );
    await cloud.getByRole('button', { name: 'Save' }).click();
    expect((await saved).status()).toBe(200);
    await expect.poll(() => page.getByTestId('secret-state-Token').textContent()).toBe('set');
    const stored = (await (await apiAsAdmin('/api/v1/license/configure/cloud/')).json()) as Record<
      string,
      unknown
    >;
    expect(stored).toMatchObject({ user: 'u/steward', token_set: true });
    expect(JSON.stringify(stored)).not.toContain('Cloud Token 123');
    await shot('27-licensing');
  });

  it('uploads a signed package and upgrades an appliance, following its live status', async () => {
    await go('/upgrades', 'Upgrades');
    await page.getByText(/No packages/).waitFor();
    // A file that is not a package is refused, the reason under the file picker.
    await chooseFile(
      page.getByRole('button', { name: 'Package file', exact: true }),
      'bogus.pkg',
      '{"not":"a package"}',
    );
    await page.getByRole('button', { name: 'Upload package' }).click();
    await page
      .getByRole('form', { name: 'Package upload' })
      .locator('[class*="FileInput-error"], [class*="InputWrapper-error"]')
      .first()
      .waitFor();
    // A package signed by a publisher the manager trusts (its key in <data dir>/package-keys/).
    const publisher = createPublisher(h.dataDir);
    const pkg = publisher.build(
      { type: 'tiscale-worker', version: '5.4.0', requires: '5.0.0' },
      '#!/bin/sh\necho "installing $STEWARD_UPGRADE_VERSION"\nsleep 1\necho done\n',
    );
    await chooseFile(
      page.getByRole('button', { name: 'Package file', exact: true }),
      'worker-5.4.0.stwpkg',
      pkg,
    );
    await page.getByRole('button', { name: 'Upload package' }).click();
    await page.getByRole('table', { name: 'Packages' }).getByText('5.4.0').waitFor();

    await page.getByRole('combobox', { name: 'Appliance' }).click();
    await page.getByRole('option', { name: /^w1 .*→ 5\.4\.0/ }).click();
    const status = page.getByTestId('upgrade-status');
    await status.getByText('idle').waitFor();
    await page.getByRole('button', { name: 'Start upgrade' }).click();
    // The page polls while the upgrade runs: a running state, then idle with the install log.
    await status.getByText(/^(pending|downloading|installing)$/).waitFor();
    await shot('28-upgrade-running');
    await status.getByText('idle').waitFor({ timeout: 60_000 });
    await expect(status.getByLabel('Upgrade log').textContent()).resolves.toContain('installing 5.4.0');
    await shot('28-upgrades');
  });

  it('shows the fleet at a glance on the dashboard: the summary counts, charts, links to what needs attention', async () => {
    // An appliance waiting for authorization: the dashboard lists it under "Needs attention".
    const created = await apiAsAdmin('/api/v1/appliances/create/', {
      method: 'POST',
      body: JSON.stringify({ name: 'w-waiting', type: 'tiscale-worker', url: 'https://127.0.0.1:9/' }),
    });
    expect(created.status).toBe(201);
    const waitingId = ((await created.json()) as { id: number }).id;
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    type Summary = {
      appliances: {
        total: number;
        by_state: Record<string, number>;
        by_configuration_status: Record<string, number>;
      };
    };
    // The fleet-wide figures may be up to 5 s old (summaryFresh): wait for the new appliance.
    let summary: Summary | undefined;
    await expect
      .poll(
        async () => {
          summary = (await (await apiAsAdmin('/api/v1/summary/')).json()) as Summary;
          return summary.appliances.total;
        },
        { timeout: 15_000 },
      )
      .toBe(3);
    if (!summary) throw new Error('no summary');
    expect(summary.appliances.by_state.unauthorized).toBe(1);
    for (const [state, n] of Object.entries(summary.appliances.by_state)) {
      await expect
        .poll(() => page.getByTestId(`stat-${state}`).locator('p').first().textContent(), { timeout: 15_000 })
        .toBe(String(n));
    }
    await expect(page.getByTestId('config-done').locator('p').first().textContent()).resolves.toBe(
      String(summary.appliances.by_configuration_status.done),
    );
    await page.getByRole('heading', { level: 2, name: /Appliances: 3/ }).waitFor();
    // The charts: fleet state over 24 hours (recharts draws an SVG) and the last upgrade.
    await page
      .getByRole('region', { name: 'Fleet state, last 24 hours' })
      .locator('svg.recharts-surface')
      .first()
      .waitFor();
    await expect(page.getByTestId('fleet-state-now').textContent()).resolves.toMatch(/Now: \d+ answering/);
    await expect(page.getByTestId('upgrade-none').textContent()).resolves.toContain('w1 to 5.4.0');
    await shot('30-dashboard');

    // No serious or critical accessibility violation (axe-core's rules, not ours).
    expect((await h.axeViolations()).join('\n')).toBe('');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByTestId('stat-online').waitFor();
    await shot('30b-dashboard-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Each item links to its page.
    await page.getByRole('link', { name: 'w-waiting waits for authorization' }).click();
    await page.waitForURL((url) => url.pathname === `/appliances/${waitingId}`);
    await page.getByRole('heading', { level: 1, name: 'w-waiting' }).waitFor();
    expect((await apiAsAdmin(`/api/v1/appliances/${waitingId}/`, { method: 'DELETE' })).status).toBeLessThan(
      300,
    );
  });

  it("shows a settings field's validation error next to it", async () => {
    await go('/settings/systemalerting', /System alerting/);
    await page.getByRole('switch', { name: 'Send syslog messages' }).click({ force: true });
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('is required when syslog_enable is true').waitFor();
    await expect(
      page.getByRole('textbox', { name: 'Collector host' }).getAttribute('aria-invalid'),
    ).resolves.toBe('true');
    await shot('29-settings-field-error');
  });

  it('labels every control on the new pages (inputs by <label> or aria-label, buttons by text)', async () => {
    const pages: [string, string | RegExp][] = [
      ['/hub-groups', 'Hub groups'],
      [`/appliances/${hubId}`, 'h1'],
      ['/upgrades', 'Upgrades'],
      ['/licensing', 'Licensing'],
      ['/files', 'Files'],
      ['/settings/directory', /Directory/],
      ['/settings/central_logging', /Central logging/],
    ];
    for (const [path, heading] of pages) {
      await go(path, heading);
      await page.waitForLoadState('networkidle').catch(() => undefined);
      const unlabelled = (await page.evaluate(UNLABELLED_CONTROLS)) as string[];
      expect(unlabelled, path).toEqual([]);
    }
  });

  it('renders the fleet and system pages (or says what this manager does not offer)', async () => {
    const pages: [string, string, RegExp][] = [
      ['/appliances', '12-appliances', /Appliances/],
      ['/config-groups', '13-config-groups', /Configuration groups/],
      ['/activities', '14-activities', /Activities/],
      ['/settings/api_tokens', '15-settings-tokens', /Settings/],
      ['/settings/smtp', '16-settings-smtp', /Settings/],
      ['/backup', '17-backup', /Backup/],
      ['/settings/directory', '16b-settings-directory', /Directory/],
    ];
    for (const [path, name, heading] of pages) {
      await go(path, heading);
      await shot(name);
    }
  });

  it('changes a setting, with the secret write-only', async () => {
    await go('/settings/smtp', /SMTP/);
    await expect(page.getByTestId('secret-state-Password').textContent()).resolves.toBe('not set');
    await page.getByRole('textbox', { name: 'Host' }).fill('smtp.example.com');
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill('Relay Secret 123');
    const saved = page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url().includes('/api/v1/config/smtp'),
    );
    await page.getByRole('button', { name: 'Save' }).click();
    expect((await saved).status()).toBe(200);
    await expect.poll(() => page.getByTestId('secret-state-Password').textContent()).toBe('set');
    await expect(page.getByRole('textbox', { name: 'Password', exact: true }).inputValue()).resolves.toBe('');
    const smtp = (await (await apiAsAdmin('/api/v1/config/smtp/')).json()) as Record<string, unknown>;
    expect(smtp.host).toBe('smtp.example.com');
    expect(smtp.password_set).toBe(true);
    expect(JSON.stringify(smtp)).not.toContain('Relay Secret 123');
    await shot('16-settings-smtp-saved');
  });

  it('runs a backup and offers the archive for download', async () => {
    await go('/backup', 'Backup');
    // Every archive is encrypted: with no backup passphrase set on the manager, this one's.
    await page.getByLabel('Passphrase for this archive (optional)').fill(BACKUP_PASSPHRASE);
    await page.getByRole('button', { name: 'Create backup' }).click();
    await page.getByRole('link', { name: 'Download the archive' }).waitFor({ timeout: 30_000 });
    const download = await page.evaluate(async () => {
      const r = await fetch('/api/v1/backup/download/');
      return {
        status: r.status,
        type: r.headers.get('content-type'),
        size: (await r.arrayBuffer()).byteLength,
      };
    });
    expect(download.status).toBe(200);
    expect(download.size).toBeGreaterThan(100);
    await shot('17-backup-done');
  });

  it('restores a backup after confirmation, which ends the session', async () => {
    const archive = await apiAsAdmin('/api/v1/backup/download/');
    expect(archive.status).toBe(200);
    const bytes = Buffer.from(await archive.arrayBuffer());
    // A change made after the backup: the restore takes it away.
    const late = await apiAsAdmin('/api/v1/tokens/', {
      method: 'POST',
      body: JSON.stringify({ name: 'after-the-backup' }),
    });
    expect(late.status).toBe(201);
    await go('/backup', 'Backup');
    await chooseFile(
      page.getByRole('button', { name: 'Backup archive', exact: true }),
      'steward-backup.tar.gz',
      bytes,
    );
    const restore = page.getByRole('button', { name: 'Restore', exact: true });
    await expect(restore.isDisabled()).resolves.toBe(true);
    await page.getByLabel('Passphrase', { exact: true }).fill(BACKUP_PASSPHRASE);
    await page.getByRole('checkbox', { name: /I understand/ }).check();
    await shot('17b-backup-restore-confirm');
    const restored = page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url().includes('/api/v1/backup/restore-upload/'),
      { timeout: 60_000 },
    );
    await restore.click();
    expect((await restored).status()).toBe(200);
    // Sessions are not part of a backup: the console goes back to sign-in.
    await page.waitForURL(/\/sign-in/, { timeout: 30_000 });
    await signInAs('admin', PASSWORD);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    const tokens = (await (await apiAsAdmin('/api/v1/tokens/?page_size=100')).json()) as {
      results: { name: string }[];
    };
    expect(tokens.results.map((t) => t.name)).toContain('siem-export');
    expect(tokens.results.map((t) => t.name)).not.toContain('after-the-backup');
  });

  it('is readable on a narrow window', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await go('/tokens', 'API tokens');
    await shot('18-tokens-narrow');
    await page.getByRole('button', { name: 'Toggle navigation' }).click();
    await shot('19-navigation-narrow');
    await go('/files', 'Files');
    await shot('19b-files-narrow');
    await go('/licensing', 'Licensing');
    await shot('19c-licensing-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('sends every console write with the CSRF header, without script errors or CSP violations', () => {
    expect(h.writesWithoutCsrfHeader).toEqual([]);
    expect(h.browserErrors).toEqual([]);
  });

  it('returns to sign-in with a message when the session ends elsewhere', async () => {
    await go('/tokens', 'API tokens');
    const list = await apiAsAdmin('/api/v1/auth/sessions/');
    const sessions = (await list.json()) as { id: number; user_agent: string | null }[];
    const browserSession = sessions.find((s) => s.user_agent?.includes('Chrome'));
    expect(browserSession).toBeDefined();
    const ended = await apiAsAdmin(`/api/v1/auth/sessions/${browserSession?.id}/`, { method: 'DELETE' });
    expect(ended.status).toBeLessThan(300);
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.waitForURL(/\/sign-in$/);
    await page.getByText(/session has expired or was ended/).waitFor();
    await shot('20-session-ended');
  });

  it('refuses an API-only account at sign-in with a clear message', async () => {
    await page.getByLabel('Username').fill('svc-siem');
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill('Service Account Passphrase 7');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This account cannot sign in here').waitFor();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/API-only/);
    await shot('21-api-only-refused');
  });

  it('signs in again, back on the page the expired session was going to, and signs out', async () => {
    await page.getByLabel('Username').fill('admin');
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/sign-in$/);
    const who = await page.evaluate(async () => (await fetch('/api/v1/auth/whoami/')).status);
    expect(who).toBe(401);
  });

  it('shows a viewer their own tokens, without admin pages or a create button', async () => {
    await page.getByLabel('Username').fill('alice');
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // A viewer lands on the dashboard too (they read the fleet), then opens their tokens.
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByTestId('stat-online').waitFor();
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByRole('heading', { level: 1, name: 'API tokens' }).waitFor();
    await page.getByTestId('tokens-admin-managed').waitFor();
    await expect(page.getByRole('button', { name: 'New token' }).count()).resolves.toBe(0);
    await expect(page.getByRole('link', { name: 'Users & groups' }).count()).resolves.toBe(0);
    await expect(page.getByTestId('whoami').textContent()).resolves.toContain('alice');
    await shot('22-tokens-viewer');
  });
});
