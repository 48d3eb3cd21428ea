// Configuration groups and individual Spectra Analyze configuration: save (every save is a
// revision), diff, apply. Apply answers at once; the rollout runs in the background and each
// appliance moves through pending -> done | error | unsupported, the truth as its agent reports it.
// Creating hub groups is in config.hub-groups.ts, individual configuration in
// config.individual.ts; this service carries their methods.

import type { ConfigContent } from '../../../contract/fleet-fields.js';
import type { DbHandle, Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { SecretBox } from '../../shared/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ApplianceWithGroup, FleetRepo, GroupRow } from '../fleet/fleet.repo.js';
import type { FleetService } from '../fleet/fleet.service.js';
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
import { createHubGroups, hubSettingsOut } from './config.hub-groups.js';
import { createIndividualConfig } from './config.individual.js';
import type { ConfigRepo } from './config.repo.js';
import { createRollout } from './config.rollout.js';

export interface ConfigServiceDeps {
  repo: FleetRepo;
  configRepo: ConfigRepo;
  tx: Transactor;
  fleet: FleetService;
  audit: AuditService;
  clock: Clock;
  secrets: SecretBox;
  rolloutConcurrency?: number;
  /** This replica's id: the claimer of the configurations it sends (ADR 0006). */
  replicaId: string;
  /** Where errors of background rollouts are told. */
  log: Logger;
  /**
   * Entries of destination lists by name, locked until the transaction ends (the destinations
   * module). Called with the transaction of the save.
   */
  destinationLists?: { snapshot(names: string[], d?: DbHandle): Promise<Record<string, string[]>> };
}

export interface SaveInput {
  appliances?: string[] | undefined;
  content?: ConfigContent | undefined;
}

export function createConfigService(deps: ConfigServiceDeps) {
  const { repo, configRepo, tx, fleet, audit, clock, secrets } = deps;
  const rollout = createRollout({
    repo,
    configRepo,
    tx,
    fleet,
    audit,
    clock,
    secrets,
    concurrency: deps.rolloutConcurrency,
    replicaId: deps.replicaId,
    log: deps.log,
  });
  const { startApply } = rollout;

  async function mustGroup(
    name: string,
    d: DbHandle = tx.direct,
    kind?: 'standard' | 'hub',
    lock = false,
  ): Promise<GroupRow> {
    const g = await configRepo.getGroup(name, d, lock);
    if (!g || (kind && g.kind !== kind)) throw notFound(kind === 'hub' ? 'hub group' : 'configuration group');
    return g;
  }

  async function groupOut(g: GroupRow, d: DbHandle = tx.direct) {
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

  async function setMembers(trx: DbHandle, g: GroupRow, names: string[], mode: 'put' | 'patch') {
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
      await configRepo.releaseMembers(
        trx,
        g.id,
        rows.map((r) => r.id),
        now,
      );
    }
    const added = rows.filter((r) => r.group_id !== g.id).map((r) => r.id);
    if (added.length > 0) await configRepo.addMembers(trx, added, g.id, g.revision, now);
  }

  async function saveRevision(
    trx: DbHandle,
    createdBy: string | null,
    where: { groupId: number } | { applianceId: number },
    revision: number,
    content: ConfigContent,
    lists: Record<string, string[]> | null = null,
  ) {
    await configRepo.insertRevision(trx, {
      group_id: 'groupId' in where ? where.groupId : null,
      appliance_id: 'applianceId' in where ? where.applianceId : null,
      revision,
      content: JSON.stringify(content),
      destination_lists: lists === null ? null : JSON.stringify(lists),
      created: clock.now(),
      created_by: createdBy,
    });
  }

  /**
   * The entries of the destination lists a content references, locked until the transaction
   * ends; `onMissing` / `onTooMany` make the error (400 on a save, 409 on a list change).
   */
  async function listSnapshot(
    d: DbHandle,
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

  async function at(g: GroupRow, rev: number | null, d: DbHandle = tx.direct): Promise<ConfigContent> {
    if (rev === null || rev === 0) return {};
    const r = await configRepo.revision({ groupId: g.id }, rev, d);
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
    return tx.transaction(async (trx) => {
      // Locked first, then (for list references) the lists: the order a list change takes too.
      const g = await mustGroup(name, trx, kind, true);
      let revision = g.revision;
      if (input.content) {
        const next = mergeContent(g.content ?? {}, input.content, mode, secrets);
        const lists = await listSnapshot(trx, next, saveError);
        revision = g.revision + 1;
        await configRepo.setGroupContent(trx, g.id, next, revision, clock.now());
        await saveRevision(trx, actor.principal?.username ?? null, { groupId: g.id }, revision, next, lists);
        await configRepo.markGroupAwaitingApply(trx, g.id, { revision });
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
      return groupOut((await configRepo.getGroupById(g.id, trx)) as GroupRow, trx);
    });
  }

  async function apply(actor: Actor, name: string, names: string[] | undefined, kind?: 'standard' | 'hub') {
    const g = await mustGroup(name, tx.direct, kind);
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

  const hubGroups = createHubGroups({ repo, configRepo, tx, audit, secrets, groupOut, setMembers });
  const individual = createIndividualConfig({
    configRepo,
    tx,
    fleet,
    audit,
    clock,
    secrets,
    startApply,
    saveRevision,
  });

  return {
    /** Waits for background rollouts (tests, shutdown). */
    settle: rollout.settle,
    /** Finishes rollouts that replicas no longer alive left `pending` (the jobs leader). */
    resumeLeftRollouts: rollout.resumeLeft,

    /** Names of the groups whose content references the destination list. */
    async groupsUsingList(name: string, d: DbHandle = tx.direct): Promise<string[]> {
      return (await configRepo.groupsUsingList(name, d)).map((g) => g.name);
    },

    /**
     * A destination list changed (inside the caller's transaction): each group that references
     * it gets a new revision with the list's new entries, and its members become
     * `changes_awaiting_apply`, so diff and apply show and send the change. 409 naming the group
     * when the entries would no longer fit a field. Returns the groups' names.
     */
    /** Locks the groups that use the list; a list change does this before it locks the list. */
    async lockGroupsUsingList(trx: DbHandle, name: string): Promise<void> {
      await configRepo.groupsUsingList(name, trx, true);
    },

    async listChanged(trx: DbHandle, name: string, by: string | null): Promise<string[]> {
      const groups = await configRepo.groupsUsingList(name, trx, true);
      for (const g of groups) {
        const content = g.content ?? {};
        const lists = await listSnapshot(trx, content, (errors) =>
          conflict(`group "${g.name}": ${errors.map((e) => e.message).join('; ')}`),
        );
        const revision = g.revision + 1;
        await configRepo.setGroupRevision(trx, g.id, revision, clock.now());
        await saveRevision(trx, by, { groupId: g.id }, revision, content, lists);
        await configRepo.markGroupAwaitingApply(trx, g.id, { revision, destination_list: name });
      }
      return groups.map((g) => g.name);
    },

    async create(actor: Actor, name: string) {
      return tx.transaction(async (trx) => {
        if (await configRepo.getGroup(name, trx)) throw conflict(`a group named "${name}" already exists`);
        const g = await configRepo.insertGroup(trx, {
          name,
          kind: 'standard',
          content: JSON.stringify({}),
          hub_settings: null,
        });
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
      const count = await configRepo.countGroups();
      const groups = await configRepo.pageGroups(limit, offset);
      const results = [];
      for (const g of groups) results.push(await groupOut(g));
      return { count, results };
    },

    async remove(actor: Actor, name: string) {
      await tx.transaction(async (trx) => {
        const g = await mustGroup(name, trx);
        await configRepo.detachMembers(trx, g.id);
        await configRepo.deleteGroup(trx, g.id);
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

    createHubGroup: hubGroups.createHubGroup,
    saveIndividual: individual.saveIndividual,
    applyIndividual: individual.applyIndividual,
  };
}

export type ConfigService = ReturnType<typeof createConfigService>;
