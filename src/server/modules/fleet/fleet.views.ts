// How appliance rows look on the wire: the seed's full object and its compact list form.
// Passwords are write-only: the object says whether one is set, never what it is.
import { createHash, X509Certificate } from 'node:crypto';
import type { ApplianceWithGroup } from './fleet.repo.js';
import type { CONFIG_STATUSES } from './fleet.schemas.js';
import { stateOf } from './fleet.states.js';

type ConfigStatus = (typeof CONFIG_STATUSES)[number];

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

// Fingerprints of pinned certificates by PEM: a list page shows up to 100, each polled view again.
const fingerprints = new Map<string, string | null>();

/**
 * `sha256:<hex>` of the DER certificate, the form the agent prints at start ("TLS certificate:"),
 * so an admin can compare the two; null without a pinned certificate (or one that does not parse).
 */
export function certificateFingerprint(pem: string | null): string | null {
  if (!pem) return null;
  let fp = fingerprints.get(pem);
  if (fp === undefined) {
    try {
      fp = `sha256:${createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')}`;
    } catch {
      fp = null;
    }
    if (fingerprints.size >= 20_000) fingerprints.clear();
    fingerprints.set(pem, fp);
  }
  return fp;
}

/**
 * Redundancy of a hub, from its hub group: the other hubs of the group are its peers. `redundant`
 * when it and a peer are online, `degraded` when the group has a peer but one side is offline (or
 * not authorized), `standalone` without a peer. Workers and hubs outside hub groups are
 * `standalone`. `connected_workers` are the group's workers the manager sees online: Steward sees
 * appliances through their agents, not the hub's own connections.
 */
export interface Redundancy {
  redundancy_status: 'redundant' | 'degraded' | 'standalone';
  configured_redundancy_status: 'redundant' | 'standalone';
  redundant_with: string | null;
  connected_workers: string[];
}

export const STANDALONE: Redundancy = {
  redundancy_status: 'standalone',
  configured_redundancy_status: 'standalone',
  redundant_with: null,
  connected_workers: [],
};

export function toApplianceOut(r: ApplianceWithGroup, redundancy: Redundancy = STANDALONE) {
  return {
    id: r.id,
    uuid: r.uuid,
    name: r.name,
    type: r.type,
    url: r.url,
    ip: hostOf(r.url),
    hostname: r.hostname,
    release: r.release,
    status: r.status,
    state: stateOf(r),
    authorized: r.authorized,
    online: r.online,
    // A latency is only a fact while the appliance answers: an offline one shows none, not the last.
    latency: r.online ? r.latency : null,
    maintenance: r.maintenance,
    last_seen_online: iso(r.last_seen_online),
    system_data: r.system_data ?? {},
    snmp_community_set: r.snmp_community !== '',
    haproxy_password_set: r.haproxy_password_sealed !== null,
    tls_fingerprint: certificateFingerprint(r.tls_cert_pem),
    created: iso(r.created) as string,
    updated: iso(r.updated) as string,
    group_name: r.group_name,
    redundancy_status: redundancy.redundancy_status as string,
    configured_redundancy_status: redundancy.configured_redundancy_status as string,
    redundant_with: redundancy.redundant_with,
    connected_workers: redundancy.connected_workers,
    application_url: r.url,
    available_update_version: null as string | null,
    has_update_log_endpoint: true,
    last_applied_config_timestamp: iso(r.last_applied_config_timestamp),
    applied_revision: r.applied_revision,
    configuration_status: r.configuration_status as ConfigStatus,
    configuration_status_details: r.configuration_status_details ?? {},
  };
}

export type ApplianceOut = ReturnType<typeof toApplianceOut>;

/** `state` of the compact list: the hub group's primary or fallback hub, else standalone. */
export function compactState(r: ApplianceWithGroup, hubSettings: Record<string, unknown> | null | undefined) {
  if (r.group_kind !== 'hub' || !hubSettings) return 'standalone';
  if (hubSettings.primary_host === r.name) return 'primary';
  if (hubSettings.fallback_host === r.name) return 'secondary';
  return 'standalone';
}

export function toCompactOut(r: ApplianceWithGroup, state = 'standalone') {
  return {
    id: r.id,
    appliance_name: r.name,
    type: r.type,
    release: r.release ?? '',
    cluster: r.group_name ?? 'standalone',
    state,
    appliance_hostname: r.hostname ?? hostOf(r.url),
  };
}
