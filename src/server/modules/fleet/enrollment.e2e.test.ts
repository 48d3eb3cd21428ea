// The enrollment command works as printed: a real agent process started with exactly the
// arguments GET /api/v1/appliances/enrollment/ answers pairs with this manager and refuses
// another one, and the certificate fingerprint the console shows is the one the agent printed.
// Only where it listens and keeps its state come from its environment (STEWARD_AGENT_LISTEN,
// STEWARD_AGENT_DATA), as they would on an appliance whose defaults suit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, spawnAgent } from '../../../../test/helpers/agent-spawn.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

let ours: TestContext;
let other: TestContext;
let agent: AgentProcess;
const dataDir = mkdtempSync(join(tmpdir(), 'steward-enroll-'));
let enrollment: { argv: string[]; command: string; fingerprint: string };

async function add(t: TestContext, name: string, url: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/appliances/create/',
    headers: await t.adminHeaders(),
    payload: { name, type: 'worker', url },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as number;
}

async function authorize(t: TestContext, id: number) {
  return t.app.inject({
    method: 'GET',
    url: `/api/v1/appliances/${id}/authorization/`,
    headers: await t.adminHeaders(),
  });
}

beforeAll(async () => {
  [ours, other] = await Promise.all([createTestContext(), createTestContext()]);
  const res = await ours.app.inject({
    method: 'GET',
    url: '/api/v1/appliances/enrollment/?type=worker&name=enrolled-1',
    headers: await ours.adminHeaders(),
  });
  expect(res.statusCode, res.body).toBe(200);
  enrollment = res.json();
  expect(enrollment.argv[0]).toBe('agent');
  // spawnAgent runs `steward agent <args>`: the endpoint's argv after `agent`, unchanged.
  agent = await spawnAgent(enrollment.argv.slice(1), 20_000, {
    STEWARD_AGENT_LISTEN: '127.0.0.1:0',
    STEWARD_AGENT_DATA: dataDir,
  });
});

afterAll(async () => {
  await agent?.kill('SIGKILL');
  await Promise.all([ours?.close(), other?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the enrollment command', () => {
  it('starts an agent that prints the manager it pins and its certificate', () => {
    expect(enrollment.command).toBe(`steward ${enrollment.argv.join(' ')}`);
    expect(agent.output).toContain(`Pairs only with manager: ${enrollment.fingerprint}`);
    expect(agent.output).toMatch(/TLS certificate: sha256:[0-9a-f]{64}/);
    expect(agent.output).toContain('"enrolled-1"');
  });

  it('refuses another manager, pairs with this one, and shows the certificate the agent printed', async () => {
    const foreign = await authorize(other, await add(other, 'enrolled-1', agent.url));
    expect(foreign.statusCode, foreign.body).toBe(409);

    const id = await add(ours, 'enrolled-1', agent.url);
    const res = await authorize(ours, id);
    expect(res.statusCode, res.body).toBe(200);
    const printed = /TLS certificate: (sha256:[0-9a-f]{64})/.exec(agent.output)?.[1];
    expect(res.json()).toMatchObject({ authorized: true, state: 'online', tls_fingerprint: printed });
  });
});
