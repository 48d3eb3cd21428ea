// The appliance registry: adding and removing appliances, authorizing them (pairing with the
// agent or taking Spectra Analyze's API token), and the activities list. Health polling lives
// in health.job.ts, configuration in config.service.ts.

import {
  type ApplianceType,
  compareReleases,
  normalizeApplianceType,
} from '../../../contract/fleet-fields.js';
import type { DbHandle } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { type AddressPolicy, DEFAULT_APPLIANCE_POLICY } from '../../shared/address-policy.js';
import { AppError, badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { SecretBox } from '../../shared/secret-box.js';
import { parseSecret } from '../../shared/token-codec.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ModuleContext } from '../module.js';
import { type AgentCallOptions, type AgentResponse, AgentUnreachable, callAgent } from './agent-client.js';
import { checkApplianceAddress, pairingFailure } from './appliance-address.js';
import { type ApplianceRow, type ApplianceWithGroup, createFleetRepo, type FleetRepo } from './fleet.repo.js';
import { compactState, type Redundancy, toApplianceOut, toCompactOut } from './fleet.views.js';
import { createManagerKeyStore, type ManagerKeyStore } from './manager-key.js';

export interface FleetServiceDeps {
  repo: FleetRepo;
  audit: AuditService;
  clock: Clock;
  secrets: SecretBox;
  managerKey: ManagerKeyStore;
  /** The networks appliances may be called in, as the settings say now (default: built in). */
  appliancePolicy?: () => AddressPolicy;
}

export interface CreateApplianceInput {
  name: string;
  type: string;
  url: string;
  snmp_community?: string | undefined;
  haproxy_password?: string | undefined;
}

/** The agent refused a signed pairing request: it is paired with, or told to trust, another manager. */
const refusedToPair = () =>
  conflict(
    'the appliance refused to pair: it is paired with or told to trust another manager (an agent started ' +
      'with --manager <url> pairs only when the network settings give this manager that base_url)',
  );

function checkUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw badField('body.url', 'must be an absolute http:// or https:// URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badField('body.url', 'must use http or https');
  if (u.username || u.password) throw badField('body.url', 'must not carry a user name or password');
  if (u.search || u.hash) throw badField('body.url', 'must not carry a query or fragment');
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

export function createFleetService(deps: FleetServiceDeps) {
  const { repo, audit, clock, secrets } = deps;
  const db = repo.db;
  const policyNow = deps.appliancePolicy ?? (() => DEFAULT_APPLIANCE_POLICY);

  async function mustGet(id: number, d: DbHandle = db): Promise<ApplianceWithGroup> {
    const row = await repo.getAppliance(id, d);
    if (!row) throw notFound('appliance');
    return row;
  }

  // Polling decrypts every appliance's token every round; keep the plaintext of the sealed
  // values seen recently (bounded) instead of paying AES-GCM for each call.
  const tokenCache = new Map<string, string>();
  function openToken(sealed: string): string {
    let plain = tokenCache.get(sealed);
    if (plain === undefined) {
      plain = secrets.open(sealed);
      if (tokenCache.size >= 50_000) tokenCache.clear();
      tokenCache.set(sealed, plain);
    }
    return plain;
  }

  /** Calls the agent of an authorized appliance with its stored credential and pinned certificate. */
  function agentCall<T>(
    row: Pick<ApplianceRow, 'url' | 'agent_token_sealed' | 'tls_cert_pem'>,
    path: string,
    opts: {
      method?: 'GET' | 'POST' | 'PUT';
      body?: unknown;
      timeoutMs?: number;
      lane?: 'poll' | 'work';
    } = {},
  ): Promise<AgentResponse<T>> {
    const token = row.agent_token_sealed ? openToken(row.agent_token_sealed) : undefined;
    return callAgent<T>(row.url, path, {
      ...opts,
      token,
      pinnedCert: row.tls_cert_pem,
      policy: policyNow(),
    });
  }

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

  async function event(
    d: DbHandle,
    row: { id: number; name: string } | null,
    kind: string,
    message: string,
    severity = 'info',
    details: Record<string, unknown> = {},
  ) {
    await repo.insertEvent(d, {
      at: clock.now(),
      applianceId: row?.id ?? null,
      applianceName: row?.name ?? null,
      kind,
      severity,
      message,
      details,
    });
  }

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
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('appliances')
        .set({
          authorized: true,
          uuid: info.uuid,
          hostname: info.hostname,
          release: info.release,
          agent_token_sealed: secrets.seal(info.token),
          tls_cert_pem: info.cert ?? null,
          online: true,
          status: 'online',
          last_seen_online: now,
          configuration_status:
            row.group_id !== null || row.individual_content !== null
              ? 'changes_awaiting_apply'
              : 'no_configuration_group',
          configuration_status_details: JSON.stringify({}),
          updated: now,
        })
        .where('id', '=', row.id)
        .execute();
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

  /** Redundancy and connected workers of the hubs among `rows`, from their hub groups. */
  async function redundancyOf(rows: ApplianceWithGroup[]): Promise<Map<number, Redundancy>> {
    const out = new Map<number, Redundancy>();
    const hubGroups = [
      ...new Set(
        rows.filter((r) => r.group_kind === 'hub' && r.group_id !== null).map((r) => r.group_id as number),
      ),
    ];
    if (hubGroups.length === 0) return out;
    const members = await repo.membersOf(hubGroups);
    for (const r of rows) {
      if (r.group_kind !== 'hub' || r.type !== 'tiscale-hub') continue;
      const group = members.filter((m) => m.group_id === r.group_id);
      const peers = group.filter((m) => m.type === 'tiscale-hub' && m.id !== r.id);
      const up = (m: { online: boolean; authorized: boolean }) => m.online && m.authorized;
      const peerUp = peers.find(up);
      out.set(r.id, {
        redundancy_status: peers.length === 0 ? 'standalone' : peerUp && up(r) ? 'redundant' : 'degraded',
        configured_redundancy_status: peers.length === 0 ? 'standalone' : 'redundant',
        redundant_with: (peerUp ?? peers[0])?.name ?? null,
        connected_workers: group.filter((m) => m.type === 'tiscale-worker' && up(m)).map((m) => m.name),
      });
    }
    return out;
  }

  /** The wire form, with hub redundancy and the newest package in the store each appliance may take. */
  async function present(rows: ApplianceWithGroup[]) {
    const [packages, redundancy] = await Promise.all([repo.packageVersions(), redundancyOf(rows)]);
    return rows.map((r) => {
      const release = r.release ?? '0';
      let best: string | null = null;
      for (const p of packages) {
        if (
          p.type !== r.type ||
          compareReleases(p.version, release) <= 0 ||
          compareReleases(release, p.requires) < 0
        )
          continue;
        if (best === null || compareReleases(p.version, best) > 0) best = p.version;
      }
      return { ...toApplianceOut(r, redundancy.get(r.id)), available_update_version: best };
    });
  }

  return {
    agentCall,
    event,
    mustGet,

    async create(actor: Actor, input: CreateApplianceInput) {
      const type = normalizeApplianceType(input.type);
      if (!type)
        throw badField('body.type', 'must be a1000, tiscale-worker or tiscale-hub (or analyze, worker, hub)');
      const url = checkUrl(input.url);
      await checkApplianceAddress(url, policyNow());
      if (input.haproxy_password && type !== 'tiscale-hub') {
        throw badField('body.haproxy_password', 'is a hub setting; only tiscale-hub appliances take it');
      }
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        if (await repo.getApplianceByName(input.name, trx))
          throw conflict(`an appliance named "${input.name}" already exists`);
        const sameUrl = await trx
          .selectFrom('appliances')
          .select('name')
          .where('url', '=', url)
          .executeTakeFirst();
        if (sameUrl) throw conflict(`appliance "${sameUrl.name}" already has the URL ${url}`);
        const inserted = await trx
          .insertInto('appliances')
          .values({
            name: input.name,
            type,
            url,
            snmp_community: input.snmp_community ?? '',
            haproxy_password_sealed: input.haproxy_password ? secrets.seal(input.haproxy_password) : null,
            system_data: JSON.stringify({}),
            configuration_status_details: JSON.stringify({}),
            created: now,
            updated: now,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        const row = { id: inserted.id, name: input.name };
        await event(trx, row, 'appliance.created', `appliance ${input.name} (${type}) added`);
        await audit.record(trx, actor, {
          action: 'appliance.created',
          targetType: 'appliance',
          targetId: inserted.id,
          summary: `added appliance ${input.name} (${type}) at ${url}`,
          status: 201,
        });
        return toApplianceOut((await repo.getAppliance(inserted.id, trx)) as ApplianceWithGroup);
      });
    },

    async list(
      filter: {
        type?: string;
        search?: string;
        authorized?: boolean;
        online?: boolean;
        configuration_status?: string;
        group_name?: string;
      },
      limit: number,
      offset: number,
    ) {
      const type = filter.type ? normalizeApplianceType(filter.type) : undefined;
      if (filter.type && !type) throw badField('query.type', 'must be a1000, tiscale-worker or tiscale-hub');
      const { rows, count } = await repo.listAppliances(
        {
          authorized: filter.authorized,
          online: filter.online,
          configurationStatus: filter.configuration_status,
          groupName: filter.group_name,
          type,
          search: filter.search ? `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined,
        },
        limit,
        offset,
      );
      return { count, rows };
    },

    present,

    toApplianceOut,

    /** The compact list of the seed, with each hub's place in its hub group. */
    async presentCompact(rows: ApplianceWithGroup[]) {
      const ids = [...new Set(rows.filter((r) => r.group_kind === 'hub').map((r) => r.group_id as number))];
      const settings = new Map<number, Record<string, unknown> | null>();
      for (const id of ids) settings.set(id, (await repo.getGroupById(id))?.hub_settings ?? null);
      return rows.map((r) => toCompactOut(r, compactState(r, settings.get(r.group_id as number))));
    },

    async get(id: number) {
      return (await present([await mustGet(id)]))[0] as ReturnType<typeof toApplianceOut>;
    },

    /** Maintenance: still polled, but no configuration is sent and going offline alarms nobody. */
    async setMaintenance(actor: Actor, id: number, on: boolean) {
      await db.transaction().execute(async (trx) => {
        const row = await mustGet(id, trx);
        if (row.maintenance === on) return;
        await trx
          .updateTable('appliances')
          .set({ maintenance: on, updated: clock.now() })
          .where('id', '=', id)
          .execute();
        await event(
          trx,
          row,
          on ? 'appliance.maintenance_started' : 'appliance.maintenance_ended',
          on
            ? `appliance ${row.name} is in maintenance: no configuration is sent to it and going offline raises no alarm`
            : `appliance ${row.name} is out of maintenance`,
        );
        await audit.record(trx, actor, {
          action: on ? 'appliance.maintenance_started' : 'appliance.maintenance_ended',
          targetType: 'appliance',
          targetId: id,
          summary: `${on ? 'put' : 'took'} appliance ${row.name} ${on ? 'in' : 'out of'} maintenance`,
          status: 200,
          details: { maintenance: on },
        });
      });
      return (await present([await mustGet(id)]))[0] as ReturnType<typeof toApplianceOut>;
    },

    async remove(actor: Actor, id: number) {
      await db.transaction().execute(async (trx) => {
        const row = await mustGet(id, trx);
        await trx.deleteFrom('appliances').where('id', '=', id).execute();
        await event(trx, null, 'appliance.deleted', `appliance ${row.name} removed`, 'info', {
          appliance_id: id,
        });
        await audit.record(trx, actor, {
          action: 'appliance.deleted',
          targetType: 'appliance',
          targetId: id,
          summary: `removed appliance ${row.name}`,
          status: 204,
        });
      });
    },

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

    async activities(
      filter: {
        appliance?: number;
        appliance_name?: string;
        kind?: string;
        severity?: string;
        since?: string;
        until?: string;
      },
      limit: number,
      offset: number,
    ) {
      const { rows, count } = await repo.listEvents(
        {
          applianceId: filter.appliance,
          applianceName: filter.appliance_name,
          kind: filter.kind,
          severity: filter.severity,
          since: filter.since,
          until: filter.until,
        },
        limit,
        offset,
      );
      return {
        count,
        rows: rows.map((e) => ({
          id: Number(e.id),
          at: new Date(e.at).toISOString(),
          appliance_id: e.appliance_id,
          appliance_name: e.appliance_name,
          kind: e.kind,
          severity: e.severity,
          source: e.source,
          message: e.message,
          details: e.details ?? {},
        })),
      };
    },
  };
}

export type FleetService = ReturnType<typeof createFleetService>;

/** The repository, the manager's key store and the fleet service, wired the one way they go together. */
export function createFleetCore(
  ctx: Pick<ModuleContext, 'db' | 'audit' | 'clock' | 'secrets'>,
  appliancePolicy: () => AddressPolicy = () => DEFAULT_APPLIANCE_POLICY,
) {
  const repo = createFleetRepo(ctx.db);
  const managerKey = createManagerKeyStore(ctx.db, ctx.secrets);
  const fleet = createFleetService({
    repo,
    audit: ctx.audit,
    clock: ctx.clock,
    secrets: ctx.secrets,
    managerKey,
    appliancePolicy,
  });
  return { repo, managerKey, fleet };
}
export type { ApplianceType };
