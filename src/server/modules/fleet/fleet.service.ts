// The appliance registry: adding and removing appliances, maintenance, the wire form, and the
// activities list; authorizing them (pairing) is in fleet.pairing.ts, whose methods this service
// carries. Health polling lives in fleet-health/health.service.ts, configuration in config.service.ts.

import {
  type ApplianceType,
  compareReleases,
  normalizeApplianceType,
} from '../../../contract/fleet-fields.js';
import type { DbHandle, Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { type AddressPolicy, DEFAULT_APPLIANCE_POLICY } from '../../shared/address-policy.js';
import { badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ConfigRepo } from '../config/config.repo.js';
import { type AgentResponse, callAgent } from './agent-client.js';
import { checkApplianceAddress } from './appliance-address.js';
import { enrollmentFor } from './fleet.enrollment.js';
import { createPairing } from './fleet.pairing.js';
import type {
  ApplianceListFilter,
  ApplianceRow,
  ApplianceWithGroup,
  EventFilter,
  EventRow,
  FleetRepo,
} from './fleet.repo.js';
import {
  APPLIANCE_STATES,
  type ApplianceFilter,
  type ApplianceState,
  applianceOrder,
} from './fleet.states.js';
import { compactState, type Redundancy, toApplianceOut, toCompactOut } from './fleet.views.js';
import type { ManagerKeyStore } from './manager-key.js';

export interface FleetServiceDeps {
  repo: FleetRepo;
  /** For the hub settings of the compact list. */
  groups: Pick<ConfigRepo, 'getGroupById'>;
  tx: Transactor;
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

/** The activities list's filters, as the API takes them. */
export interface ActivityListQuery {
  appliance?: number;
  appliance_name?: string;
  kind?: string;
  severity?: string;
  since?: string;
  until?: string;
}

/**
 * The repository's filter of an appliance list (or export) from the list's query. A type or
 * state that does not exist is a 400 naming its query field.
 */
export function applianceFilterOf(filter: ApplianceFilter): ApplianceListFilter {
  const type = filter.type ? normalizeApplianceType(filter.type) : undefined;
  if (filter.type && !type) throw badField('query.type', 'must be a1000, tiscale-worker or tiscale-hub');
  const states = filter.state?.split(',').map((s) => s.trim().toLowerCase());
  const unknown = states?.filter((s) => !(APPLIANCE_STATES as readonly string[]).includes(s)) ?? [];
  if (unknown.length > 0) {
    throw badField(
      'query.state',
      `unknown state ${unknown.map((s) => `"${s}"`).join(', ')}; give one or more of ${APPLIANCE_STATES.join(', ')}, comma-separated`,
    );
  }
  return {
    authorized: filter.authorized,
    online: filter.online,
    states: states as ApplianceState[] | undefined,
    configurationStatus: filter.configuration_status,
    groupName: filter.group_name,
    type,
    search: filter.search ? `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined,
  };
}

/** The repository's filter of the activities list (or export). */
export function eventFilterOf(filter: ActivityListQuery): EventFilter {
  return {
    applianceId: filter.appliance,
    applianceName: filter.appliance_name,
    kind: filter.kind,
    severity: filter.severity,
    since: filter.since,
    until: filter.until,
  };
}

/** An activity as the API shows it. */
export function activityOut(e: EventRow) {
  return {
    id: Number(e.id),
    at: new Date(e.at).toISOString(),
    appliance_id: e.appliance_id,
    appliance_name: e.appliance_name,
    kind: e.kind,
    severity: e.severity,
    source: e.source,
    message: e.message,
    details: e.details ?? {},
  };
}

export function createFleetService(deps: FleetServiceDeps) {
  const { repo, tx, audit, clock, secrets } = deps;
  const policyNow = deps.appliancePolicy ?? (() => DEFAULT_APPLIANCE_POLICY);

  async function mustGet(id: number, d: DbHandle = tx.direct): Promise<ApplianceWithGroup> {
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
      ifNoneMatch?: string | undefined;
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

  const pairing = createPairing({
    repo,
    tx,
    audit,
    clock,
    secrets,
    managerKey: deps.managerKey,
    policyNow,
    mustGet,
    event,
    present,
  });

  return {
    agentCall,
    event,
    mustGet,
    authorizeByPairing: pairing.authorizeByPairing,
    authorizeByToken: pairing.authorizeByToken,

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
      return tx.transaction(async (trx) => {
        if (await repo.getApplianceByName(input.name, trx))
          throw conflict(`an appliance named "${input.name}" already exists`);
        const sameUrl = await repo.applianceWithUrl(url, trx);
        if (sameUrl) throw conflict(`appliance "${sameUrl.name}" already has the URL ${url}`);
        const inserted = await repo.insertAppliance(trx, {
          name: input.name,
          type,
          url,
          snmp_community: input.snmp_community ?? '',
          haproxy_password_sealed: input.haproxy_password ? secrets.seal(input.haproxy_password) : null,
          system_data: JSON.stringify({}),
          configuration_status_details: JSON.stringify({}),
          created: now,
          updated: now,
        });
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

    /**
     * The appliance list with the filters of `ApplianceFilterQuery` (fleet.list-query.ts) and an
     * order already checked against `APPLIANCE_ORDERING`.
     */
    async list(
      filter: ApplianceFilter,
      limit: number,
      offset: number,
      order: readonly { field: string; direction: 'asc' | 'desc' }[] = [],
    ) {
      const { rows, count } = await repo.listAppliances(
        { ...applianceFilterOf(filter), order: applianceOrder(order) },
        limit,
        offset,
      );
      return { count, rows };
    },

    present,

    toApplianceOut,

    /**
     * How to enroll an appliance with this manager: its pairing-key fingerprint (the key is made
     * now if this manager never paired), its URL as agents are told it, and the `steward agent`
     * command line. Changes nothing else.
     */
    async enrollment(type: string | undefined, name: string | undefined, managerUrl: string | null) {
      const t = normalizeApplianceType(type ?? 'tiscale-worker');
      if (!t)
        throw badField(
          'query.type',
          'must be a1000, tiscale-worker or tiscale-hub (or analyze, worker, hub)',
        );
      const key = await deps.managerKey.get();
      return enrollmentFor({ fingerprint: key.fingerprint, managerUrl, type: t, name });
    },

    /** The compact list of the seed, with each hub's place in its hub group. */
    async presentCompact(rows: ApplianceWithGroup[]) {
      const ids = [...new Set(rows.filter((r) => r.group_kind === 'hub').map((r) => r.group_id as number))];
      const settings = new Map<number, Record<string, unknown> | null>();
      for (const id of ids) settings.set(id, (await deps.groups.getGroupById(id))?.hub_settings ?? null);
      return rows.map((r) => toCompactOut(r, compactState(r, settings.get(r.group_id as number))));
    },

    async get(id: number) {
      return (await present([await mustGet(id)]))[0] as ReturnType<typeof toApplianceOut>;
    },

    /** Maintenance: still polled, but no configuration is sent and going offline alarms nobody. */
    async setMaintenance(actor: Actor, id: number, on: boolean) {
      await tx.transaction(async (trx) => {
        const row = await mustGet(id, trx);
        if (row.maintenance === on) return;
        await repo.setMaintenance(trx, id, on, clock.now());
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
      await tx.transaction(async (trx) => {
        const row = await mustGet(id, trx);
        await repo.deleteAppliance(trx, id);
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

    async activities(filter: ActivityListQuery, limit: number, offset: number) {
      const { rows, count } = await repo.listEvents(eventFilterOf(filter), limit, offset);
      return { count, rows: rows.map(activityOut) };
    },
  };
}

export type FleetService = ReturnType<typeof createFleetService>;

export type { ApplianceType };
