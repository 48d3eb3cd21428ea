// Starting and stopping one agent: used by `steward agent` and by tests (which run agents
// in-process on 127.0.0.1, port 0).

import { createHash, X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ApplianceType } from '../contract/fleet-fields.js';
import { buildAgentServer } from './server.js';
import { type AgentState, openAgentState } from './state.js';
import { loadOrCreateTls } from './tls.js';

/** The release an agent reports unless told otherwise (the appliance software it fronts). */
export const DEFAULT_AGENT_RELEASE = '5.3.0';

export interface StartAgentOptions {
  type: ApplianceType;
  dataDir: string;
  host?: string;
  port?: number;
  name?: string | undefined;
  tls?: boolean;
  trustManager?: string | undefined;
  reloadHook?: string | undefined;
  release?: string | undefined;
  logger?: boolean;
}

export interface RunningAgent {
  app: FastifyInstance;
  state: AgentState;
  url: string;
  port: number;
  /** Only on first start: the API token, to be shown once. */
  newToken: string | undefined;
  /** SHA-256 fingerprint of the TLS certificate (when TLS is on). */
  certFingerprint: string | undefined;
  close(): Promise<void>;
}

export async function startAgent(opts: StartAgentOptions): Promise<RunningAgent> {
  const { state, newToken } = openAgentState({
    dataDir: opts.dataDir,
    type: opts.type,
    name: opts.name,
    release: opts.release,
    defaultRelease: DEFAULT_AGENT_RELEASE,
  });
  const tls = opts.tls ? await loadOrCreateTls(opts.dataDir, state.identity.hostname) : undefined;
  const app = await buildAgentServer({
    state,
    trustManager: opts.trustManager,
    reloadHook: opts.reloadHook,
    https: tls,
    logger: opts.logger ?? false,
  });
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const certFingerprint = tls
    ? `sha256:${createHash('sha256').update(new X509Certificate(tls.cert).raw).digest('hex')}`
    : undefined;
  state.addEvent({
    kind: 'agent.started',
    severity: 'info',
    message: `agent started (release ${state.identity.release})`,
  });
  return {
    app,
    state,
    url: `${tls ? 'https' : 'http'}://${urlHost}:${port}`,
    port,
    newToken,
    certFingerprint,
    close: async () => {
      await app.close();
      await state.flush();
    },
  };
}
