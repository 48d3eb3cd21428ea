// Route tests for the package store and appliance upgrades against in-process agents: what the
// API answers, the audit records each step writes (who, status, summary), and the upgrade's
// states, one at a time across the fleet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { createPublisher, multipartFile } from '../../../../test/helpers/agent-package.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
let publisher: ReturnType<typeof createPublisher>;
const agents: TestAgent[] = [];
const ids: Record<string, number> = {};

const upload = (pkg: Buffer, headers = admin) => {
  const form = multipartFile('file', 'pkg.stwpkg', pkg);
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/package-management/upload/',
    headers: { ...headers, ...form.headers },
    payload: form.payload,
  });
};

const post = (url: string, payload: unknown, headers = admin) =>
  t.app.inject({ method: 'POST', url, headers, payload: payload as Record<string, unknown> });

const auditOf = (action: string) =>
  t.db.selectFrom('audit_log').selectAll().where('action', '=', action).orderBy('id').execute();

async function finished(name: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const res = await post('/api/upgrade/status/', { appliance_name: name });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    if (body.status === 'idle' || body.status === 'error') return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the upgrade did not finish');
}

beforeAll(async () => {
  t = await createTestContext({ jobIntervals: { fleetUpgradePoll: 50 } });
  admin = await t.adminHeaders();
  publisher = createPublisher(t.dataDir);
  for (const [name, type] of [
    ['up-hub', 'tiscale-hub'],
    ['up-worker', 'tiscale-worker'],
  ] as const) {
    const agent = await startTestAgent({ type, name, release: '5.0.0' });
    agents.push(agent);
    const created = await post('/api/v1/appliances/create/', { name, type, url: agent.url });
    expect(created.statusCode, created.body).toBe(201);
    ids[name] = created.json().id;
    const auth = await t.app.inject({
      method: 'GET',
      url: `/api/v1/appliances/${ids[name]}/authorization/`,
      headers: admin,
    });
    expect(auth.statusCode, auth.body).toBe(200);
  }
});

afterAll(async () => {
  await t.close();
  for (const a of agents) await a.cleanup();
});

describe('package store and upgrades', () => {
  it('an upload is stored and audited as the uploader, with the status it answered', async () => {
    const pkg = publisher.build(
      { type: 'tiscale-hub', version: '5.1.0', requires: '5.0.0' },
      '#!/bin/sh\necho "installing $STEWARD_UPGRADE_VERSION"\nsleep 0.3\necho done\n',
    );
    const res = await upload(pkg);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ type: 'tiscale-hub', version: '5.1.0', requires: '5.0.0' });
    const [added, ...more] = await auditOf('package.added');
    expect(more).toEqual([]);
    expect(added).toMatchObject({
      outcome: 'success',
      username: 'admin',
      method: 'POST',
      path: '/api/v1/package-management/upload/',
      status: 201,
      target_type: 'package',
      target_id: String(res.json().id),
      summary: 'added package tiscale-hub 5.1.0',
    });
    // The same package again: 409, and no second record.
    expect((await upload(pkg)).statusCode).toBe(409);
    expect(await auditOf('package.added')).toHaveLength(1);
  });

  it('an upgrade runs one at a time, is audited as its starter, and its end as the system', async () => {
    const idle = await post('/api/upgrade/status/', { appliance_name: 'up-hub' });
    expect(idle.json()).toEqual({
      appliance_name: 'up-hub',
      status: 'idle',
      version: null,
      log: 'Update log not available.',
    });
    const start = await post('/api/upgrade/start/', { appliance_name: 'up-hub' });
    expect(start.statusCode, start.body).toBe(202);
    expect(start.json()).toEqual({ appliance_name: 'up-hub', status: 'pending', version: '5.1.0', log: '' });
    // One appliance at a time across the fleet: a second start is refused while this one runs.
    const second = await post('/api/upgrade/start/', { appliance_name: 'up-worker' });
    expect(second.statusCode).toBe(409);
    expect(second.json().detail).toContain('an upgrade is already running (appliance up-hub)');

    const final = await finished('up-hub');
    expect(final.status, final.log).toBe('idle');
    expect(final.version).toBe('5.1.0');
    expect(final.log).toContain('installing 5.1.0');

    const appliance = await t.db
      .selectFrom('appliances')
      .select(['release'])
      .where('id', '=', ids['up-hub'] as number)
      .executeTakeFirstOrThrow();
    expect(appliance.release).toBe('5.1.0');
    const [started, ...moreStarts] = await auditOf('upgrade.started');
    expect(moreStarts).toEqual([]);
    expect(started).toMatchObject({
      username: 'admin',
      method: 'POST',
      path: '/api/upgrade/start/',
      status: 202,
      target_type: 'appliance',
      target_id: String(ids['up-hub']),
      summary: 'started upgrade of up-hub from 5.0.0 to 5.1.0',
    });
    const [done] = await auditOf('upgrade.finished');
    expect(done).toMatchObject({
      outcome: 'success',
      username: 'fleet-upgrade',
      auth_method: 'system',
      target_id: String(ids['up-hub']),
      summary: 'upgrade of up-hub to 5.1.0 finished',
    });
    const events = await t.db
      .selectFrom('fleet_events')
      .select(['kind', 'severity', 'message'])
      .where('appliance_id', '=', ids['up-hub'] as number)
      .where('kind', 'like', 'upgrade.%')
      .execute();
    expect(events).toEqual([
      { kind: 'upgrade.finished', severity: 'info', message: 'up-hub upgraded to 5.1.0' },
    ]);
    // Nothing newer in the store: a start now has nothing to install.
    const again = await post('/api/upgrade/start/', { appliance_name: 'up-hub' });
    expect(again.statusCode).toBe(409);
    expect(again.json().detail).toContain('no package in the store upgrades tiscale-hub 5.1.0');
  });

  it('a failed install is recorded as failed, and frees the fleet for the next upgrade', async () => {
    const pkg = publisher.build(
      { type: 'tiscale-worker', version: '5.2.0', requires: '5.0.0' },
      '#!/bin/sh\necho "broken"\nexit 3\n',
    );
    expect((await upload(pkg)).statusCode).toBe(201);
    const start = await post('/api/upgrade/start/', { appliance_name: 'up-worker' });
    expect(start.statusCode, start.body).toBe(202);
    const final = await finished('up-worker');
    expect(final.status).toBe('error');
    const [failed] = await auditOf('upgrade.failed');
    expect(failed).toMatchObject({
      outcome: 'failure',
      username: 'fleet-upgrade',
      target_id: String(ids['up-worker']),
      summary: 'upgrade of up-worker to 5.2.0 failed',
    });
    const appliance = await t.db
      .selectFrom('appliances')
      .select(['release'])
      .where('id', '=', ids['up-worker'] as number)
      .executeTakeFirstOrThrow();
    expect(appliance.release).toBe('5.0.0');
    expect(
      await t.db.selectFrom('fleet_upgrades').select('id').where('finished', 'is', null).execute(),
    ).toEqual([]);
  });

  it('an unknown appliance is a 404; a reader may see the status but not start one', async () => {
    expect((await post('/api/upgrade/start/', { appliance_name: 'nope' })).statusCode).toBe(404);
    expect((await post('/api/upgrade/status/', { appliance_name: 'nope' })).statusCode).toBe(404);
    const reader = await t.headersFor('viewer');
    expect((await post('/api/upgrade/status/', { appliance_name: 'up-hub' }, reader)).statusCode).toBe(200);
    expect((await post('/api/upgrade/start/', { appliance_name: 'up-hub' }, reader)).statusCode).toBe(403);
    expect(await auditOf('upgrade.started')).toHaveLength(2);
  });
});
