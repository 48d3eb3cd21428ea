// Authorizing an appliance: pairing with the agent of a hub or worker (the agent pins this
// manager's key), or taking the API token a Spectra Analyze agent printed. Either way the
// appliance's identity, credential and certificate are recorded, audited, in one transaction.
// Part of the fleet service (fleet.service.ts), which hands over what it shares.

import { normalizeApplianceType } from '../../../contract/fleet-fields.js';
import { parseSecret } from '../../../contract/token-codec.js';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import type { AddressPolicy } from '../../shared/address-policy.js';
import { AppError, badField, conflict } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import { type AgentCallOptions, type AgentResponse, AgentUnreachable, callAgent } from './agent-client.js';
import { pairingFailure } from './appliance-address.js';
import type { ApplianceWithGroup, FleetRepo } from './fleet.repo.js';
import type { toApplianceOut } from './fleet.views.js';
import type { ManagerKeyStore } from './manager-key.js';

export interface PairingDeps {
  repo: FleetRepo;
  tx: Transactor;
  audit: AuditService;
  clock: Clock;
  secrets: SecretBox;
  managerKey: ManagerKeyStore;
  policyNow: () => AddressPolicy;
  /** From the fleet service: the appliance or 404, an activity, the wire form. */
  mustGet: (id: number) => Promise<ApplianceWithGroup>;
  event: (
    d: Parameters<FleetRepo['insertEvent']>[0],
    row: { id: number; name: string } | null,
    kind: string,
    message: string,
  ) => Promise<void>;
  present: (rows: ApplianceWithGroup[]) => Promise<ReturnType<typeof toApplianceOut>[]>;
}

/** The agent refused a signed pairing request: it is paired with, or told to trust, another manager. */
const refusedToPair = () =>
  conflict(
    'the appliance refused to pair: it is paired with or told to trust another manager (an agent started ' +
      'with --manager <url> pairs only when the network settings give this manager that base_url)',
  );

export function createPairing(deps: PairingDeps) {
  const { repo, tx, audit, clock, secrets, policyNow, mustGet, event, present } = deps;

  /** A call made while authorizing: its failure answers by class only (appliance-address.ts). */
  async function contact<T>(url: string, path: string, opts: AgentCallOptions): Promise<AgentResponse<T>> {
    try {
      return await callAgent<T>(url, path, { ...opts, policy: policyNow() });
    } catch (err) {
      if (err instanceof AgentUnreachable) throw pairingFailure(err.reason);
      throw err;
    }
  }

  /** A type an agent reported, for messages: a known one, never the remote text itself. */
  const typeText = (t: unknown) => normalizeApplianceType(String(t)) ?? 'different type';

  async function markAuthorized(
    actor: Actor,
    row: ApplianceWithGroup,
    info: {
      uuid: string;
      hostname: string | null;
      release: string | null;
      token: string;
      cert: string | undefined;
      how: string;
    },
  ) {
    const now = clock.now();
    await tx.transaction(async (trx) => {
      await repo.markAuthorized(trx, row.id, {
        uuid: info.uuid,
        hostname: info.hostname,
        release: info.release,
        agentTokenSealed: secrets.seal(info.token),
        tlsCertPem: info.cert ?? null,
        configurationStatus:
          row.group_id !== null || row.individual_content !== null
            ? 'changes_awaiting_apply'
            : 'no_configuration_group',
        now,
      });
      await event(trx, row, 'appliance.authorized', `appliance ${row.name} authorized (${info.how})`);
      await audit.record(trx, actor, {
        action: 'appliance.authorized',
        targetType: 'appliance',
        targetId: row.id,
        summary: `authorized appliance ${row.name} (${info.how})`,
        status: 200,
        details: { uuid: info.uuid },
      });
    });
    return (await present([await mustGet(row.id)]))[0] as ReturnType<typeof toApplianceOut>;
  }

  return {
    /** Hubs and workers: contact the agent, pair with it, pin its identity. */
    async authorizeByPairing(actor: Actor, id: number, managerUrl: string | null) {
      const row = await mustGet(id);
      if (row.type === 'a1000') {
        throw new AppError({
          code: 'validation_failed',
          message: 'Spectra Analyze (a1000) is authorized with PUT and the API token its agent printed',
          errors: [{ field: 'path.id', message: 'is an a1000; use PUT with {"token": ...}' }],
        });
      }
      const hello = await contact<{ uuid?: string; type?: string; release?: string }>(
        row.url,
        'agent/v1/hello',
        { timeoutMs: 5000 },
      );
      if (hello.status !== 200 || typeof hello.body?.uuid !== 'string') {
        throw pairingFailure('not_a_steward_agent');
      }
      if (hello.body.type !== row.type) {
        throw conflict(
          `the agent at ${row.url} is a ${typeText(hello.body.type)}, but this appliance was added as ${row.type}`,
        );
      }
      if (row.uuid && row.authorized && row.uuid !== hello.body.uuid) {
        throw conflict(
          `the agent at ${row.url} is not the one this appliance was paired with (uuid changed)`,
        );
      }
      const pairBody = await deps.managerKey.pairingRequest(hello.body.uuid, managerUrl);
      const paired = await contact<{
        token?: string;
        identity?: { uuid: string; hostname: string; release: string };
      }>(row.url, 'agent/v1/pair', {
        method: 'POST',
        body: pairBody,
        // Same certificate as the hello: a different machine cannot slip in between the two calls.
        pinnedCert: hello.peerCert,
      });
      if (paired.status === 403) throw refusedToPair();
      if (paired.status !== 200 || !paired.body?.token || !paired.body.identity) {
        throw pairingFailure('not_a_steward_agent');
      }
      return markAuthorized(actor, row, {
        uuid: paired.body.identity.uuid,
        hostname: paired.body.identity.hostname ?? null,
        release: paired.body.identity.release ?? null,
        token: paired.body.token,
        cert: hello.peerCert,
        how: 'paired',
      });
    },

    /** Spectra Analyze: the admin hands over the token the agent printed. */
    async authorizeByToken(actor: Actor, id: number, token: string, managerUrl: string | null) {
      const row = await mustGet(id);
      if (row.type !== 'a1000') {
        throw new AppError({
          code: 'validation_failed',
          message: 'hubs and workers are authorized with GET (pairing), not with a token',
          errors: [{ field: 'path.id', message: `is a ${row.type}; use GET` }],
        });
      }
      const parsed = parseSecret(token);
      if (!parsed.ok || parsed.kind !== 'appliance') {
        throw badField(
          'body.token',
          parsed.ok ? 'is not an appliance token (it starts with stwa)' : parsed.reason,
        );
      }
      const res = await contact<{ uuid?: string; type?: string; hostname?: string; release?: string }>(
        row.url,
        'agent/v1/identity',
        { token, timeoutMs: 5000 },
      );
      if (res.status !== 200 || typeof res.body?.uuid !== 'string') {
        // A 401 from something that is not an agent would otherwise tell it apart from other answers.
        if (res.status === 401 && (res.body as { code?: unknown } | null)?.code === 'invalid_token')
          throw badField('body.token', 'was refused by the appliance');
        throw pairingFailure('not_a_steward_agent');
      }
      if (res.body.type !== row.type) {
        throw conflict(
          `the agent at ${row.url} is a ${typeText(res.body.type)}, but this appliance was added as ${row.type}`,
        );
      }
      // Pair too, with the token as credential: the agent pins this manager's key, which it
      // needs to verify upgrade packages the manager countersigns.
      const paired = await contact(row.url, 'agent/v1/pair', {
        method: 'POST',
        token,
        body: await deps.managerKey.pairingRequest(res.body.uuid, managerUrl),
        pinnedCert: res.peerCert,
      });
      if (paired.status !== 200) throw refusedToPair();
      return markAuthorized(actor, row, {
        uuid: res.body.uuid,
        hostname: res.body.hostname ?? null,
        release: res.body.release ?? null,
        token,
        cert: res.peerCert,
        how: 'API token',
      });
    },
  };
}
