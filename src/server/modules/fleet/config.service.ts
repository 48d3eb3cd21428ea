// Configuration groups and individual Spectra Analyze configuration: save (every save is a
// revision), diff, apply. Apply answers at once; the rollout runs in the background and each
// appliance moves through pending -> done | error | unsupported, the truth as its agent reports it.

import { type ConfigContent, isIp } from '../../../contract/fleet-fields.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import {
  assertValidContent,
  DESTINATION_LISTS_FIELD,
  diffContent,
  listReferences,
  mergeContent,
  publicContent,
  resolveContent,
  resolvedErrors,
} from './config.content.js';
import { createRollout } from './config.rollout.js';
import type { ApplianceWithGroup, Db, FleetRepo, GroupRow } from './fleet.repo.js';
import type { FleetService } from './fleet.service.js';

export interface ConfigServiceDeps {
  repo: FleetRepo;
  fleet: FleetService;
  audit: AuditService;
  clock: Clock;
  secrets: SecretBox;
  rolloutConcurrency?: number;
  /** Entries of destination lists by name, locked until the transaction ends (the destinations module). */
  destinationLists?: { snapshot(names: string[], d: Db): Promise<Record<string, string[]>> };
}

export interface SaveInput {
  appliances?: string[] | undefined;
  content?: ConfigContent | undefined;
}

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

export function createConfigService(deps: ConfigServiceDeps) {
  const { repo, fleet, audit, clock, secrets } = deps;
  const db = repo.db;
  const rollout = createRollout({ repo, fleet, audit, clock, secrets, concurrency: deps.rolloutConcurrency });
  const { startApply } = rollout;

  async function mustGroup(
    name: string,
    d: Db = db,
    kind?: 'standard' | 'hub',
    lock = false,
  ): Promise<GroupRow> {
    const g = await repo.getGroup(name, d, lock);
    if (!g || (kind && g.kind !== kind)) throw notFound(kind === 'hub' ? 'hub group' : 'configuration group');
    return g;
  }

  function hubSettingsOut(s: Record<string, unknown> | null) {
    if (!s) return null;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) {
      if (HUB_SECRETS.has(k)) out[`${k}_set`] = v !== null && v !== '';
      else out[k] = v;
    }
    return out;
  }

  async function groupOut(g: GroupRow, d: Db = db) {
    const members = await repo.groupMembers(g.id, d);
    return {
      id: g.id,
      name: g.name,
      kind: g.kind,
      revision: g.revision,
      appliances: members.map((m) => m.name),
      content: publicContent(g.content ?? {}),
      ...(g.kind === 'hub' ? { hub_settings: hubSettingsOut(g.hub_settings) } : {}),
      statuses: members.map((m) => ({
        name: m.name,
        configuration_status: m.configuration_status,
        applied_revision: m.applied_revision,
        last_applied_config_timestamp: m.last_applied_config_timestamp
          ? new Date(m.last_applied_config_timestamp).toISOString()
          : null,
      })),
      created: new Date(g.created).toISOString(),
      updated: new Date(g.updated).toISOString(),
    };
  }

  async function setMembers(trx: Db, g: GroupRow, names: string[], mode: 'put' | 'patch') {
    const rows: ApplianceWithGroup[] = [];
    const errors: { field: string; message: string }[] = [];
    for (const [i, name] of names.entries()) {
      const row = await repo.getApplianceByName(name, trx);
      if (!row) errors.push({ field: `body.appliances[${i}]`, message: `no appliance named "${name}"` });
      else if (g.kind === 'standard' && row.type === 'tiscale-hub') {
        errors.push({
          field: `body.appliances[${i}]`,
          message: `"${name}" is a hub; hubs belong in hub groups`,
        });
      } else rows.push(row);
    }
    if (errors.length > 0) {
      throw new AppError({
        code: 'validation_failed',
        message: errors.map((e) => e.message).join('; '),
        errors,
      });
    }
    for (const row of rows) {
      if (row.group_id !== null && row.group_id !== g.id) {
        throw conflict(
          `appliance "${row.name}" is already in group "${row.group_name}"; an appliance is in at most one group`,
        );
      }
    }
    const now = clock.now();
    if (mode === 'put') {
      const keep = rows.map((r) => r.id);
      let q = trx
        .updateTable('appliances')
        .set({
          group_id: null,
          configuration_status: 'no_configuration_group',
          configuration_status_details: JSON.stringify({}),
          applied_revision: null,
          updated: now,
        })
        .where('group_id', '=', g.id);
      if (keep.length > 0) q = q.where('id', 'not in', keep);
      await q.execute();
    }
    const added = rows.filter((r) => r.group_id !== g.id).map((r) => r.id);
    if (added.length > 0) {
      await trx
        .updateTable('appliances')
        .set({
          group_id: g.id,
          configuration_status: 'changes_awaiting_apply',
          configuration_status_details: JSON.stringify({ revision: g.revision }),
          applied_revision: null,
          updated: now,
        })
        .where('id', 'in', added)
        .execute();
    }
  }

  async function saveRevision(
    trx: Db,
    createdBy: string | null,
    where: { groupId: number } | { applianceId: number },
    revision: number,
    content: ConfigContent,
    lists: Record<string, string[]> | null = null,
  ) {
    await trx
      .insertInto('config_revisions')
      .values({
        group_id: 'groupId' in where ? where.groupId : null,
        appliance_id: 'applianceId' in where ? where.applianceId : null,
        revision,
        content: JSON.stringify(content),
        destination_lists: lists === null ? null : JSON.stringify(lists),
        created: clock.now(),
        created_by: createdBy,
      })
      .execute();
  }

  /**
   * The entries of the destination lists a content references, locked until the transaction
   * ends; `onMissing` / `onTooMany` make the error (400 on a save, 409 on a list change).
   */
  async function listSnapshot(
    d: Db,
    content: ConfigContent,
    errorFor: (errors: { field: string; message: string }[]) => AppError,
  ): Promise<Record<string, string[]> | null> {
    const names = listReferences(content);
    if (names.length === 0) return null;
    const snap = (await deps.destinationLists?.snapshot(names, d)) ?? {};
    const missing = names.flatMap((n, i) =>
      n in snap
        ? []
        : [{ field: `${DESTINATION_LISTS_FIELD}[${i}]`, message: `no destination list named "${n}"` }],
    );
    if (missing.length > 0) throw errorFor(missing);
    const tooMany = resolvedErrors(resolveContent(content, snap)).map((e) => ({
      field: DESTINATION_LISTS_FIELD,
      message: `with the lists' entries, ${e.field} ${e.message}`,
    }));
    if (tooMany.length > 0) throw errorFor(tooMany);
    return snap;
  }

  const saveError = (errors: { field: string; message: string }[]) =>
    new AppError({
      code: 'validation_failed',
      message: errors.map((e) => e.message).join('; '),
      errors: errors.map((e) => ({ field: `body.content.${e.field}`, message: e.message })),
    });

  async function at(g: GroupRow, rev: number | null, d: Db = db): Promise<ConfigContent> {
    if (rev === null || rev === 0) return {};
    const r = await repo.revision({ groupId: g.id }, rev, d);
    return r ? resolveContent(r.content, r.destination_lists) : {};
  }

  async function save(
    actor: Actor,
    name: string,
    input: SaveInput,
    mode: 'put' | 'patch',
    kind?: 'standard' | 'hub',
  ) {
    if (input.content) assertValidContent(input.content);
    return db.transaction().execute(async (trx) => {
      // Locked first, then (for list references) the lists: the order a list change takes too.
      const g = await mustGroup(name, trx, kind, true);
      let revision = g.revision;
      if (input.content) {
        const next = mergeContent(g.content ?? {}, input.content, mode, secrets);
        const lists = await listSnapshot(trx, next, saveError);
        revision = g.revision + 1;
        await trx
          .updateTable('config_groups')
          .set({ content: JSON.stringify(next), revision, updated: clock.now() })
          .where('id', '=', g.id)
          .execute();
        await saveRevision(trx, actor.principal?.username ?? null, { groupId: g.id }, revision, next, lists);
        await trx
          .updateTable('appliances')
          .set({
            configuration_status: 'changes_awaiting_apply',
            configuration_status_details: JSON.stringify({ revision }),
          })
          .where('group_id', '=', g.id)
          .where('configuration_status', '!=', 'pending')
          .execute();
      }
      if (input.appliances) await setMembers(trx, { ...g, revision }, input.appliances, mode);
      await audit.record(trx, actor, {
        action: 'config_group.saved',
        targetType: 'config_group',
        targetId: g.id,
        summary: `saved ${g.kind === 'hub' ? 'hub group' : 'configuration group'} ${name}${input.content ? ` (revision ${revision})` : ''}`,
        status: 200,
        details: {
          fields: input.content ? Object.keys(input.content) : [],
          appliances: input.appliances ?? null,
          mode,
        },
      });
      return groupOut((await repo.getGroupById(g.id, trx)) as GroupRow, trx);
    });
  }

  async function apply(actor: Actor, name: string, names: string[] | undefined, kind?: 'standard' | 'hub') {
    const g = await mustGroup(name, db, kind);
    const members = await repo.groupMembers(g.id);
    let targets = members;
    if (names && names.length > 0) {
      const errors: { field: string; message: string }[] = [];
      targets = [];
      for (const [i, n] of names.entries()) {
        const m = members.find((x) => x.name === n);
        if (!m)
          errors.push({ field: `body.applyconfiguration[${i}]`, message: `"${n}" is not in group ${name}` });
        else targets.push(m);
      }
      if (errors.length > 0) {
        throw new AppError({
          code: 'validation_failed',
          message: errors.map((e) => e.message).join('; '),
          errors,
        });
      }
    }
    if (targets.length === 0) throw conflict(`group ${name} has no appliances to apply to`);
    if (g.revision === 0) throw conflict(`group ${name} has no saved configuration to apply`);
    return startApply(actor, targets, { groupId: g.id, revision: g.revision }, `group ${name}`);
  }

  return {
    /** Waits for background rollouts (tests, shutdown). */
    settle: rollout.settle,

    /** Names of the groups whose content references the destination list. */
    async groupsUsingList(name: string, d: Db = db): Promise<string[]> {
      return (await repo.groupsUsingList(name, d)).map((g) => g.name);
    },

    /**
     * A destination list changed (inside the caller's transaction): each group that references
     * it gets a new revision with the list's new entries, and its members become
     * `changes_awaiting_apply`, so diff and apply show and send the change. 409 naming the group
     * when the entries would no longer fit a field. Returns the groups' names.
     */
    /** Locks the groups that use the list; a list change does this before it locks the list. */
    async lockGroupsUsingList(trx: Db, name: string): Promise<void> {
      await repo.groupsUsingList(name, trx, true);
    },

    async listChanged(trx: Db, name: string, by: string | null): Promise<string[]> {
      const groups = await repo.groupsUsingList(name, trx, true);
      for (const g of groups) {
        const content = g.content ?? {};
        const lists = await listSnapshot(trx, content, (errors) =>
          conflict(`group "${g.name}": ${errors.map((e) => e.message).join('; ')}`),
        );
        const revision = g.revision + 1;
        await trx
          .updateTable('config_groups')
          .set({ revision, updated: clock.now() })
          .where('id', '=', g.id)
          .execute();
        await saveRevision(trx, by, { groupId: g.id }, revision, content, lists);
        await trx
          .updateTable('appliances')
          .set({
            configuration_status: 'changes_awaiting_apply',
            configuration_status_details: JSON.stringify({ revision, destination_list: name }),
          })
          .where('group_id', '=', g.id)
          .where('configuration_status', '!=', 'pending')
          .execute();
      }
      return groups.map((g) => g.name);
    },

    async create(actor: Actor, name: string) {
      return db.transaction().execute(async (trx) => {
        if (await repo.getGroup(name, trx)) throw conflict(`a group named "${name}" already exists`);
        const g = await trx
          .insertInto('config_groups')
          .values({ name, kind: 'standard', content: JSON.stringify({}), hub_settings: null })
          .returningAll()
          .executeTakeFirstOrThrow();
        await audit.record(trx, actor, {
          action: 'config_group.created',
          targetType: 'config_group',
          targetId: g.id,
          summary: `created configuration group ${name}`,
          status: 201,
        });
        return groupOut(g, trx);
      });
    },

    save,
    apply,

    async retrieve(name: string) {
      return groupOut(await mustGroup(name));
    },

    async list(limit: number, offset: number) {
      const count = await db
        .selectFrom('config_groups')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const groups = await db
        .selectFrom('config_groups')
        .selectAll()
        .orderBy('name')
        .limit(limit)
        .offset(offset)
        .execute();
      const results = [];
      for (const g of groups) results.push(await groupOut(g));
      return { count: Number(count.n), results };
    },

    async remove(actor: Actor, name: string) {
      await db.transaction().execute(async (trx) => {
        const g = await mustGroup(name, trx);
        await trx
          .updateTable('appliances')
          .set({
            group_id: null,
            configuration_status: 'no_configuration_group',
            configuration_status_details: JSON.stringify({}),
            applied_revision: null,
          })
          .where('group_id', '=', g.id)
          .execute();
        await trx.deleteFrom('config_groups').where('id', '=', g.id).execute();
        await audit.record(trx, actor, {
          action: 'config_group.deleted',
          targetType: 'config_group',
          targetId: g.id,
          summary: `deleted group ${name}`,
          status: 204,
        });
      });
    },

    async diff(name: string, from?: number) {
      const g = await mustGroup(name);
      if (from !== undefined && (from < 0 || from > g.revision))
        throw badField('query.from', `must be between 0 and ${g.revision}`);
      const members = await repo.groupMembers(g.id);
      // What the appliances would receive: list references resolved as saved with each revision
      // (a list change makes a new revision, so the latest one has the lists' current entries).
      const content = await at(g, g.revision);
      const base = from ?? members.reduce((m, a) => Math.max(m, a.applied_revision ?? 0), 0);
      const appliances = [];
      for (const m of members) {
        appliances.push({
          name: m.name,
          configuration_status: m.configuration_status,
          applied_revision: m.applied_revision,
          changes: diffContent(await at(g, m.applied_revision), content, secrets),
        });
      }
      return {
        name,
        revision: g.revision,
        base_revision: base,
        changes: diffContent(await at(g, base), content, secrets),
        appliances,
      };
    },

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
      return db.transaction().execute(async (trx) => {
        if (await repo.getGroup(input.name, trx))
          throw conflict(`a group named "${input.name}" already exists`);
        const g = await trx
          .insertInto('config_groups')
          .values({
            name: input.name,
            kind: 'hub',
            content: JSON.stringify({}),
            hub_settings: JSON.stringify(settings),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
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

    async saveIndividual(actor: Actor, id: number, content: ConfigContent, mode: 'put' | 'patch') {
      if (DESTINATION_LISTS_FIELD in content) {
        // Spectra Analyze takes no destinations fields; lists are for worker and hub groups.
        throw badField(
          `body.content.${DESTINATION_LISTS_FIELD}`,
          'destination lists apply to worker and hub groups only',
        );
      }
      assertValidContent(content);
      return db.transaction().execute(async (trx) => {
        const row = await fleet.mustGet(id, trx);
        if (row.type !== 'a1000') {
          throw new AppError({
            code: 'validation_failed',
            message: 'individual configuration is for Spectra Analyze (a1000) appliances only',
            errors: [
              { field: 'path.appliance_id', message: `is a ${row.type}; configure it through a group` },
            ],
          });
        }
        if (row.group_id !== null)
          throw conflict(`appliance ${row.name} is in group ${row.group_name}; its group configures it`);
        const next = mergeContent(row.individual_content ?? {}, content, mode, secrets);
        const revision = row.individual_revision + 1;
        await trx
          .updateTable('appliances')
          .set({
            individual_content: JSON.stringify(next),
            individual_revision: revision,
            configuration_status: 'changes_awaiting_apply',
            configuration_status_details: JSON.stringify({ revision }),
            updated: clock.now(),
          })
          .where('id', '=', id)
          .execute();
        await saveRevision(trx, actor.principal?.username ?? null, { applianceId: id }, revision, next);
        await audit.record(trx, actor, {
          action: 'appliance.configuration_saved',
          targetType: 'appliance',
          targetId: id,
          summary: `saved configuration revision ${revision} for ${row.name}`,
          status: 200,
          details: { fields: Object.keys(content), mode },
        });
        return {
          id,
          name: row.name,
          revision,
          content: publicContent(next),
          configuration_status: 'changes_awaiting_apply',
        };
      });
    },

    async applyIndividual(actor: Actor, id: number) {
      const row = await fleet.mustGet(id);
      if (row.type !== 'a1000')
        throw badField('path.appliance_id', `is a ${row.type}; apply through its group`);
      if (row.group_id !== null)
        throw conflict(`appliance ${row.name} is in group ${row.group_name}; apply the group`);
      if (row.individual_content === null)
        throw conflict(`appliance ${row.name} has no saved configuration to apply`);
      if (!row.authorized) throw conflict(`appliance ${row.name} is not authorized`);
      return startApply(
        actor,
        [row],
        { applianceId: id, revision: row.individual_revision },
        `configuration of ${row.name}`,
      );
    },
  };
}

export type ConfigService = ReturnType<typeof createConfigService>;
