// Connectors run on hubs; their configuration lives on the hub's agent, and the manager is a
// pass-through that checks the appliance, audits the change, and hides secret-looking values
// (contract/connector-secrets.ts).

import type { ConnectorState } from '../../../contract/agent-protocol.js';
import { MASK, maskLeftovers, maskSecrets, redirectedSecrets } from '../../../contract/connector-secrets.js';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, conflict } from '../../shared/app-error.js';
import type { AuditService } from '../audit/audit.service.js';
import { AgentUnreachable, agentErrorText } from './agent-client.js';
import type { FleetService } from './fleet.service.js';

export function createConnectorsService(deps: { fleet: FleetService; audit: AuditService; tx: Transactor }) {
  const { fleet, audit, tx } = deps;

  async function hubOf(idText: string) {
    const row = await fleet.mustGet(Number(idText));
    if (row.type !== 'tiscale-hub') {
      throw new AppError({
        code: 'validation_failed',
        message: 'connectors are supported on hubs (tiscale-hub) only',
        errors: [{ field: 'path.id', message: `is a ${row.type}, not a hub` }],
      });
    }
    if (!row.authorized) throw conflict(`appliance ${row.name} is not authorized`);
    return row;
  }

  async function call(
    row: Awaited<ReturnType<typeof hubOf>>,
    path: string,
    method: 'GET' | 'POST' | 'PUT',
    body?: unknown,
  ) {
    try {
      const res = await fleet.agentCall<ConnectorState>(row, path, { method, body, timeoutMs: 10_000 });
      if (res.status !== 200)
        throw new AppError({ code: 'unavailable', message: `the hub refused: ${agentErrorText(res)}` });
      return res.body;
    } catch (err) {
      if (err instanceof AgentUnreachable) {
        throw new AppError({ code: 'unavailable', message: `cannot reach hub ${row.name}: ${err.message}` });
      }
      throw err;
    }
  }

  const view = (name: string, s: ConnectorState) => ({
    connector: name,
    enabled: s.enabled,
    config: maskSecrets(s.config) as Record<string, unknown>,
    updated: s.updated,
  });

  return {
    async enable(actor: Actor, id: string, name: string) {
      const row = await hubOf(id);
      const state = await call(row, `agent/v1/connectors/${name}/enable`, 'POST', {});
      await tx.transaction(async (trx) => {
        await fleet.event(trx, row, 'connector.enabled', `connector ${name} enabled on ${row.name}`);
        await audit.record(trx, actor, {
          action: 'connector.enabled',
          targetType: 'appliance',
          targetId: row.id,
          summary: `enabled connector ${name} on ${row.name}`,
          status: 200,
        });
      });
      return view(name, state);
    },
    async getConfig(id: string, name: string) {
      const row = await hubOf(id);
      return view(name, await call(row, `agent/v1/connectors/${name}`, 'GET'));
    },
    async setConfig(actor: Actor, id: string, name: string, config: Record<string, unknown>) {
      const row = await hubOf(id);
      // The hub keeps stored secrets the body leaves out, and restores a value sent back exactly as
      // a read masked it (keepStoredSecrets, on the agent). A masked value the client changed would
      // store the placeholder, or keep a password under a host the client rewrote: refused here.
      const stored = await call(row, `agent/v1/connectors/${name}`, 'GET');
      const leftovers = maskLeftovers(config, stored.config);
      if (leftovers.length > 0) {
        throw new AppError({
          code: 'validation_failed',
          message: `${MASK} stands for a stored secret only in a value sent back unchanged; send the whole value again`,
          errors: leftovers.map((field) => ({
            field,
            message: `contains ${MASK} but differs from the stored value: type the secret again`,
          })),
        });
      }
      // A stored secret never follows a destination the client changed (a new host beside the
      // old password would hand the password to whoever runs that host).
      const redirected = redirectedSecrets(config, stored.config);
      if (redirected.length > 0) {
        throw new AppError({
          code: 'validation_failed',
          message: 'the destination of a stored secret changed: send the secret again with it',
          errors: redirected.map((field) => ({
            field,
            message:
              'kept from the stored configuration while its host, URL or account changed: type it again',
          })),
        });
      }
      const state = await call(row, `agent/v1/connectors/${name}/config`, 'PUT', config);
      await tx.transaction(async (trx) => {
        await fleet.event(trx, row, 'connector.configured', `connector ${name} configured on ${row.name}`);
        await audit.record(trx, actor, {
          action: 'connector.configured',
          targetType: 'appliance',
          targetId: row.id,
          summary: `configured connector ${name} on ${row.name}`,
          status: 200,
          details: { fields: Object.keys(config) },
        });
      });
      return view(name, state);
    },
  };
}

export type ConnectorsService = ReturnType<typeof createConnectorsService>;
