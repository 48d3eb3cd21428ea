// `steward agent`: runs the appliance agent; `steward agent rotate-token` replaces its API token.
// Every flag falls back to its STEWARD_AGENT_* environment variable (commander's Option.env, so
// --help shows each one); the agent has no config/ of its own.

import { type Command, Option } from 'commander';
import { DEFAULT_AGENT_RELEASE, startAgent } from '../agent/agent.js';
import { rotateAgentToken } from '../agent/state.js';
import { normalizeApplianceType } from '../contract/fleet-fields.js';

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`--listen must be host:port, got "${value}"`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** An agent flag that falls back to its STEWARD_AGENT_* variable (shown in --help). */
function flag(flags: string, description: string, env: string, fallback?: string): Option {
  const o = new Option(flags, description).env(env);
  return fallback === undefined ? o : o.default(fallback);
}

const ENV_HELP = `
Every flag can also be set by its environment variable (shown as "env:" above); a flag on the
command line wins over the variable. The API token is printed once, on the first start, on a
line of its own: "API token: <token>".
`;

export function registerAgentCommand(program: Command): void {
  const agent = program
    .command('agent')
    .description('Run the Steward agent on an appliance (the manager calls its token-secured API)')
    .addOption(
      flag(
        '--type <type>',
        'a1000 | tiscale-worker | tiscale-hub (or analyze | worker | hub); required',
        'STEWARD_AGENT_TYPE',
      ),
    )
    .addOption(flag('--listen <host:port>', 'address to listen on', 'STEWARD_AGENT_LISTEN', '0.0.0.0:8443'))
    .addOption(
      flag(
        '--data <dir>',
        'state directory (identity, token digest, configuration)',
        'STEWARD_AGENT_DATA',
        './agent-data',
      ),
    )
    .addOption(flag('--name <name>', 'appliance name (default: the host name)', 'STEWARD_AGENT_NAME'))
    .addOption(
      flag('--tls <on|off>', 'serve HTTPS with a self-signed certificate', 'STEWARD_AGENT_TLS', 'on'),
    )
    .addOption(
      flag(
        '--manager <url|fingerprint>',
        'the only manager this agent pairs with (default: trust on first use)',
        'STEWARD_AGENT_MANAGER',
      ),
    )
    .addOption(
      flag(
        '--reload-hook <path>',
        'executable run after each applied configuration',
        'STEWARD_AGENT_RELOAD_HOOK',
      ),
    )
    .addOption(
      flag(
        '--release <version>',
        `release the appliance reports (first start: ${DEFAULT_AGENT_RELEASE}; then the stored one)`,
        'STEWARD_AGENT_RELEASE',
      ),
    )
    .addHelpText('after', ENV_HELP)
    .action(async (o: Record<string, string | undefined>) => {
      const type = o.type ? normalizeApplianceType(o.type) : undefined;
      if (!type)
        throw new Error(
          '--type (or STEWARD_AGENT_TYPE) is required: a1000, tiscale-worker or tiscale-hub (or analyze, worker, hub)',
        );
      if (o.tls !== 'on' && o.tls !== 'off') throw new Error('--tls (STEWARD_AGENT_TLS) must be on or off');
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
      // What the admin compares in the console: the certificate above with the appliance's pinned
      // fingerprint, and this line with the manager's fingerprint on its enrollment page.
      process.stdout.write(
        o.manager
          ? `Pairs only with manager: ${o.manager}\n`
          : 'Pairs with: the first manager that asks (trust on first use; --manager pins one)\n',
      );
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
    .addOption(flag('--data <dir>', 'state directory of the agent', 'STEWARD_AGENT_DATA', './agent-data'))
    .addHelpText('after', ENV_HELP)
    .action((o: { data: string }, cmd: Command) => {
      // `--data` is also an option of `agent` itself: `steward agent --data d rotate-token` sets
      // the parent's. Whichever was given explicitly (flag or variable) wins.
      const given = (c: Command | null) => {
        const source = c?.getOptionValueSource('data');
        return source === 'cli' || source === 'env' ? (c?.opts().data as string) : undefined;
      };
      const data = given(cmd) ?? given(cmd.parent) ?? o.data;
      const token = rotateAgentToken(data);
      process.stdout.write(`API token: ${token}\n`);
    });
}
