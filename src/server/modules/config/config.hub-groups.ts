// Hub groups: two tiscale-hub appliances (primary and fallback, optionally with VRRP) and the
// settings they share. Creating one is here; saving, applying and listing go through the
// configuration groups (config.service.ts), which carries this file's method.

import { isIp } from '../../../contract/fleet-fields.js';
import type { DbHandle, Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, conflict } from '../../shared/app-error.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ApplianceWithGroup, FleetRepo, GroupRow } from '../fleet/fleet.repo.js';
import type { ConfigRepo } from './config.repo.js';

export interface HubGroupInput {
  name: string;
  primary_router_id: string;
  primary_host: string;
  fallback_router_id?: string | undefined;
  fallback_host?: string | undefined;
  vrrp_enabled?: boolean | undefined;
  virtual_router_id?: number | undefined;
  auth_pass?: string | undefined;
  different_networks?: boolean | undefined;
  virtual_ipaddress?: string | undefined;
  api_worker_token?: string | undefined;
  srv_available_worker_token?: string | undefined;
  srv_worker_token?: string | undefined;
}

export const HUB_ONLY_SETTINGS = [
  'primary_router_id',
  'primary_host',
  'fallback_router_id',
  'fallback_host',
  'vrrp_enabled',
  'virtual_router_id',
  'auth_pass',
  'different_networks',
  'virtual_ipaddress',
  'api_worker_token',
  'srv_available_worker_token',
  'srv_worker_token',
] as const;
const OPTIONAL_HUB_STRINGS = [
  'fallback_router_id',
  'fallback_host',
  'auth_pass',
  'virtual_ipaddress',
  'api_worker_token',
  'srv_available_worker_token',
  'srv_worker_token',
] as const;
const HUB_SECRETS = new Set([
  'auth_pass',
  'api_worker_token',
  'srv_available_worker_token',
  'srv_worker_token',
]);

/** Hub settings as the API shows them: secrets as `<name>_set`, never their value. */
export function hubSettingsOut(s: Record<string, unknown> | null) {
  if (!s) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (HUB_SECRETS.has(k)) out[`${k}_set`] = v !== null && v !== '';
    else out[k] = v;
  }
  return out;
}

export interface HubGroupsDeps<Out> {
  repo: FleetRepo;
  configRepo: ConfigRepo;
  tx: Transactor;
  audit: AuditService;
  secrets: SecretBox;
  /** From the configuration groups: the wire form of a group, and the membership change. */
  groupOut: (g: GroupRow, d: DbHandle) => Promise<Out>;
  setMembers: (trx: DbHandle, g: GroupRow, names: string[], mode: 'put' | 'patch') => Promise<void>;
}

export function createHubGroups<Out>(deps: HubGroupsDeps<Out>) {
  const { repo, configRepo, tx, audit, secrets, groupOut, setMembers } = deps;
  return {
    async createHubGroup(actor: Actor, body: HubGroupInput) {
      // The seed's body carries every field: an empty string in an optional one means "none"
      // (no fallback hub, no VRRP password, no virtual address, no worker token).
      const input: HubGroupInput = { ...body };
      for (const k of OPTIONAL_HUB_STRINGS) if (input[k] === '') delete input[k];
      const errors: { field: string; message: string }[] = [];
      const hubs: ApplianceWithGroup[] = [];
      const checkHost = async (field: 'primary_host' | 'fallback_host', value: string | undefined) => {
        if (value === undefined || value === '') return;
        if (/[:/]/.test(value)) {
          errors.push({ field: `body.${field}`, message: 'must be the name of a hub appliance, not a URL' });
          return;
        }
        const row = await repo.getApplianceByName(value);
        if (!row) errors.push({ field: `body.${field}`, message: `no appliance named "${value}"` });
        else if (row.type !== 'tiscale-hub')
          errors.push({ field: `body.${field}`, message: `"${value}" is a ${row.type}, not a hub` });
        else if (row.group_id !== null)
          errors.push({
            field: `body.${field}`,
            message: `"${value}" is already in group "${row.group_name}"`,
          });
        else hubs.push(row);
      };
      await checkHost('primary_host', input.primary_host);
      await checkHost('fallback_host', input.fallback_host);
      if (input.fallback_host && input.fallback_host === input.primary_host) {
        errors.push({ field: 'body.fallback_host', message: 'must differ from primary_host' });
      }
      if (input.fallback_host && !input.fallback_router_id) {
        errors.push({ field: 'body.fallback_router_id', message: 'is required with a fallback_host' });
      }
      if (input.fallback_router_id && input.fallback_router_id === input.primary_router_id) {
        errors.push({ field: 'body.fallback_router_id', message: 'must differ from primary_router_id' });
      }
      if (input.vrrp_enabled) {
        if (input.virtual_router_id === undefined)
          errors.push({ field: 'body.virtual_router_id', message: 'is required when vrrp_enabled' });
        if (!input.virtual_ipaddress)
          errors.push({ field: 'body.virtual_ipaddress', message: 'is required when vrrp_enabled' });
        if (!input.auth_pass)
          errors.push({ field: 'body.auth_pass', message: 'is required when vrrp_enabled' });
        if (!input.fallback_host)
          errors.push({ field: 'body.fallback_host', message: 'VRRP needs a fallback hub' });
      }
      if (input.virtual_ipaddress && !isIp(input.virtual_ipaddress)) {
        errors.push({ field: 'body.virtual_ipaddress', message: 'must be an IP address' });
      }
      if (errors.length > 0) {
        throw new AppError({
          code: 'validation_failed',
          message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
          errors,
        });
      }
      const settings: Record<string, unknown> = {};
      for (const k of HUB_ONLY_SETTINGS) {
        const v = input[k];
        if (v === undefined) continue;
        settings[k] =
          HUB_SECRETS.has(k) && typeof v === 'string' && v !== '' ? { $sealed: secrets.seal(v) } : v;
      }
      return tx.transaction(async (trx) => {
        if (await configRepo.getGroup(input.name, trx))
          throw conflict(`a group named "${input.name}" already exists`);
        const g = await configRepo.insertGroup(trx, {
          name: input.name,
          kind: 'hub',
          content: JSON.stringify({}),
          hub_settings: JSON.stringify(settings),
        });
        await setMembers(
          trx,
          g,
          hubs.map((h) => h.name),
          'patch',
        );
        await audit.record(trx, actor, {
          action: 'hub_group.created',
          targetType: 'config_group',
          targetId: g.id,
          summary: `created hub group ${input.name} (${hubs.map((h) => h.name).join(', ')})`,
          status: 201,
        });
        return groupOut(g, trx);
      });
    },
  };
}
