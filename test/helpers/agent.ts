// In-process agents for fleet tests: each on 127.0.0.1, port 0, with a throwaway data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { type RunningAgent, type StartAgentOptions, startAgent } from '../../src/agent/agent.js';
import type { Database } from '../../src/server/db/schema.js';
import type { SecretBox } from '../../src/server/shared/secret-box.js';

export interface TestAgent extends RunningAgent {
  dataDir: string;
  /** The API token printed on first start. */
  token: string;
  /** Starts the agent again on the same port and data directory (after close()). */
  restart(): Promise<TestAgent>;
  cleanup(): Promise<void>;
}

export async function startTestAgent(
  opts: Partial<StartAgentOptions> & Pick<StartAgentOptions, 'type'>,
  existing?: { dataDir: string; token: string; port: number },
): Promise<TestAgent> {
  const dataDir = existing?.dataDir ?? mkdtempSync(join(tmpdir(), 'steward-agent-'));
  const running = await startAgent({
    host: '127.0.0.1',
    port: existing?.port ?? 0,
    tls: false,
    ...opts,
    dataDir,
  });
  const token = existing?.token ?? running.newToken;
  if (!token) throw new Error('agent did not issue a token on first start');
  const agent: TestAgent = {
    ...running,
    dataDir,
    token,
    restart: () => startTestAgent(opts, { dataDir, token, port: running.port }),
    async cleanup() {
      await running.close().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return agent;
}

/**
 * Writes `agent` into the appliance registry as authorized (its token sealed with `secrets`), as
 * pairing would leave it, without calling it; the new appliance's id.
 */
export async function insertAuthorizedAgent(
  db: Kysely<Database>,
  agent: TestAgent,
  secrets: SecretBox,
  type: string,
): Promise<number> {
  const row = await db
    .insertInto('appliances')
    .values({
      name: agent.state.identity.name,
      type,
      url: agent.url,
      uuid: agent.state.identity.uuid,
      authorized: true,
      agent_token_sealed: secrets.seal(agent.token),
      system_data: '{}',
      configuration_status_details: '{}',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
