// `steward agent`: runs the appliance agent; `steward agent rotate-token` replaces its API token.
// Flags fall back to STEWARD_AGENT_* environment variables (read here: the agent has no config/).

import type { Command } from 'commander';
import { DEFAULT_AGENT_RELEASE, startAgent } from '../agent/agent.js';
import { rotateAgentToken } from '../agent/state.js';
import { normalizeApplianceType } from '../contract/fleet-fields.js';

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`--listen must be host:port, got "${value}"`);
  return { host: (m[1] ?? m[2]) as string, port };
}

export function registerAgentCommand(program: Command): void {
  const env = process.env;
  const agent = program
    .command('agent')
    .description('Run the Steward agent on an appliance (the manager calls its token-secured API)')
    .option(
      '--type <type>',
      'a1000 | tiscale-worker | tiscale-hub (or analyze | worker | hub)',
      env.STEWARD_AGENT_TYPE,
    )
    .option('--listen <host:port>', 'address to listen on', env.STEWARD_AGENT_LISTEN ?? '0.0.0.0:8443')
    .option(
      '--data <dir>',
      'state directory (identity, token digest, configuration)',
      env.STEWARD_AGENT_DATA ?? './agent-data',
    )
    .option('--name <name>', 'appliance name (default: the host name)', env.STEWARD_AGENT_NAME)
    .option('--tls <on|off>', 'serve HTTPS with a self-signed certificate', env.STEWARD_AGENT_TLS ?? 'on')
    .option(
      '--manager <url|fingerprint>',
      'the only manager this agent pairs with (default: trust on first use)',
      env.STEWARD_AGENT_MANAGER,
    )
    .option(
      '--reload-hook <path>',
      'executable run after each applied configuration',
      env.STEWARD_AGENT_RELOAD_HOOK,
    )
    .option(
      '--release <version>',
      'release the appliance reports',
      env.STEWARD_AGENT_RELEASE ?? DEFAULT_AGENT_RELEASE,
    )
    .action(async (o: Record<string, string | undefined>) => {
      const type = o.type ? normalizeApplianceType(o.type) : undefined;
      if (!type)
        throw new Error('--type is required: a1000, tiscale-worker or tiscale-hub (or analyze, worker, hub)');
      if (o.tls !== 'on' && o.tls !== 'off') throw new Error('--tls must be on or off');
      const { host, port } = parseListen(o.listen ?? '0.0.0.0:8443');
      const running = await startAgent({
        type,
        dataDir: o.data ?? './agent-data',
        host,
        port,
        name: o.name,
        tls: o.tls === 'on',
        trustManager: o.manager,
        reloadHook: o.reloadHook,
        release: o.release,
        logger: false,
      });
      const id = running.state.identity;
      process.stdout.write(
        `steward agent ${id.type} "${id.name}" (${id.uuid}) listening on ${running.url}\n`,
      );
      if (running.certFingerprint) process.stdout.write(`TLS certificate: ${running.certFingerprint}\n`);
      if (running.newToken) process.stdout.write(`API token: ${running.newToken}\n`);
      const stop = () => {
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  agent
    .command('rotate-token')
    .description('Make a new API token for this agent; the old one stops working at once')
    .option('--data <dir>', 'state directory of the agent', env.STEWARD_AGENT_DATA ?? './agent-data')
    .action((_o: unknown, cmd: Command) => {
      // `--data` is also an option of `agent` itself, so it may have landed on the parent.
      const { data } = cmd.optsWithGlobals() as { data: string };
      const token = rotateAgentToken(data);
      process.stdout.write(`API token: ${token}\n`);
    });
}
