// Destination lists (seed 001, Cloudlock: "manage lists of destinations (IP addresses)"): named
// lists of IP addresses and CIDR networks. Configuration groups reference them by name
// (`"destinations__lists": ["office-egress"]` in their content); a change to a list's entries
// makes a new revision of every group that uses it (configuration module), in the same
// transaction as the change and its audit record. A list in use cannot be renamed or deleted.

import type { Transactor, Tx } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import { kindOf, normalizeDestination } from './destinations.address.js';
import type { DestinationsRepo, EntryRow, ListRow } from './destinations.repo.js';

/** The agent takes at most 1000 addresses and 1000 networks per field. */
export const MAX_ENTRIES_PER_LIST = 1000;

export interface DestinationsDeps {
  tx: Transactor;
  repo: DestinationsRepo;
  audit: AuditService;
  clock: Clock;
  /** The configuration groups' side (config service), in the transaction of the list change. */
  groups: {
    groupsUsingList(name: string, d: Tx): Promise<string[]>;
    lockGroupsUsingList(trx: Tx, name: string): Promise<void>;
    listChanged(trx: Tx, name: string, by: string | null): Promise<string[]>;
  };
}

export interface ListInput {
  name: string;
  description?: string | undefined;
  entries?: string[] | undefined;
}

type FieldError = { field: string; message: string };

function invalid(errors: FieldError[]): AppError {
  return new AppError({
    code: 'validation_failed',
    message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });
}

/** Normalises every entry; 400 naming each bad one and each duplicate (after normalisation). */
export function normalizeEntries(values: string[], field = 'body.entries'): string[] {
  const errors: FieldError[] = [];
  const out: string[] = [];
  const seen = new Map<string, number>();
  for (const [i, raw] of values.entries()) {
    const n = normalizeDestination(raw);
    if ('error' in n) {
      errors.push({ field: `${field}[${i}]`, message: `"${raw.slice(0, 64)}" ${n.error}` });
      continue;
    }
    const first = seen.get(n.value);
    if (first !== undefined) {
      errors.push({
        field: `${field}[${i}]`,
        message: `"${raw}" is the same as ${field}[${first}] (${n.value})`,
      });
      continue;
    }
    seen.set(n.value, i);
    out.push(n.value);
  }
  if (errors.length > 0) throw invalid(errors);
  return out;
}

export function createDestinationsService(deps: DestinationsDeps) {
  const { repo, audit, clock, groups } = deps;
  const direct = deps.tx.direct;
  const by = (actor: Actor) => actor.principal?.username ?? null;

  async function out(l: ListRow, d: Tx = direct) {
    return {
      id: l.id,
      name: l.name,
      description: l.description,
      entry_count: await repo.entryCount(l.id, d),
      used_by: await groups.groupsUsingList(l.name, d),
      created: new Date(l.created).toISOString(),
      updated: new Date(l.updated).toISOString(),
    };
  }

  const entryOut = (e: EntryRow) => ({
    id: e.id,
    value: e.value,
    kind: kindOf(e.value),
    comment: e.comment,
    created: new Date(e.created).toISOString(),
  });

  async function mustList(id: number, d: Tx = direct, lock = false): Promise<ListRow> {
    const l = await repo.get(id, d, lock);
    if (!l) throw notFound(`destination list ${id}`);
    return l;
  }

  /**
   * Locks for a change to a list's entries: the groups that use it first, then the list, the
   * same order a group save takes (group, then the lists it names), so the two cannot deadlock
   * and a save never computes its revision from a group a list change is bumping.
   */
  async function lockForEntries(id: number, trx: Tx): Promise<ListRow> {
    const before = await mustList(id, trx);
    await groups.lockGroupsUsingList(trx, before.name);
    return mustList(id, trx, true);
  }

  /**
   * After entries were added or removed: the list's time, a new revision of every group that
   * uses it (out of sync), and the audit record, in the caller's transaction. Returns the groups.
   */
  async function entriesChanged(
    trx: Tx,
    actor: Actor,
    l: ListRow,
    change: { action: string; summary: string; entries: string[]; status: number },
  ): Promise<string[]> {
    await repo.update(l.id, { updated: clock.now() }, trx);
    const marked = await groups.listChanged(trx, l.name, by(actor));
    await audit.record(trx, actor, {
      action: change.action,
      targetType: 'destination_list',
      targetId: l.id,
      summary: `${change.summary}${marked.length ? `; groups out of sync: ${marked.join(', ')}` : ''}`,
      details: { entries: change.entries, groups: marked },
      status: change.status,
    });
    return marked;
  }

  async function nameFree(name: string, d: Tx, except?: number) {
    const other = await repo.byName(name, d);
    if (other && other.id !== except)
      throw conflict(`a destination list named "${other.name}" already exists`);
  }

  return {
    async list(limit: number, offset: number, search?: string) {
      const count = await repo.count(search);
      const rows = await repo.page(limit, offset, search);
      const results = [];
      for (const r of rows) results.push({ ...(await out(r)), entry_count: Number(r.entry_count) });
      return { count, results };
    },

    async retrieve(id: number) {
      return out(await mustList(id));
    },

    async create(actor: Actor, input: ListInput) {
      const entries = normalizeEntries(input.entries ?? []);
      if (entries.length > MAX_ENTRIES_PER_LIST)
        throw invalid([
          { field: 'body.entries', message: `a list holds at most ${MAX_ENTRIES_PER_LIST} entries` },
        ]);
      return deps.tx.transaction(async (trx) => {
        await nameFree(input.name, trx);
        const l = await repo.insert(input.name, input.description ?? '', trx);
        await repo.insertEntries(l.id, entries, '', trx);
        await audit.record(trx, actor, {
          action: 'destination_list.created',
          targetType: 'destination_list',
          targetId: l.id,
          summary: `created destination list ${l.name} (${entries.length} entries)`,
          details: { entries },
          status: 201,
        });
        return out(l, trx);
      });
    },

    async update(
      actor: Actor,
      id: number,
      input: { name?: string | undefined; description?: string | undefined },
    ) {
      return deps.tx.transaction(async (trx) => {
        const l = await mustList(id, trx, true);
        if (input.name !== undefined && input.name !== l.name) {
          await nameFree(input.name, trx, l.id);
          // Groups reference lists by name: a rename would silently break them.
          const using = await groups.groupsUsingList(l.name, trx);
          if (using.length > 0)
            throw conflict(
              `destination list ${l.name} is used by group(s) ${using.join(', ')}; remove it from their content before renaming it`,
            );
        }
        const row = await repo.update(
          id,
          {
            ...(input.name !== undefined ? { name: input.name } : {}),
            ...(input.description !== undefined ? { description: input.description } : {}),
            updated: clock.now(),
          },
          trx,
        );
        await audit.record(trx, actor, {
          action: 'destination_list.updated',
          targetType: 'destination_list',
          targetId: id,
          summary: `updated destination list ${l.name}${row.name !== l.name ? ` (renamed to ${row.name})` : ''}`,
          details: { fields: Object.keys(input).filter((k) => input[k as keyof typeof input] !== undefined) },
          status: 200,
        });
        return out(row, trx);
      });
    },

    async remove(actor: Actor, id: number) {
      await deps.tx.transaction(async (trx) => {
        const l = await mustList(id, trx, true);
        const using = await groups.groupsUsingList(l.name, trx);
        if (using.length > 0)
          throw new AppError({
            code: 'conflict',
            message: `destination list ${l.name} is used by group(s) ${using.join(', ')}; remove it from their content first`,
            details: { groups: using },
          });
        await repo.remove(id, trx);
        await audit.record(trx, actor, {
          action: 'destination_list.deleted',
          targetType: 'destination_list',
          targetId: id,
          summary: `deleted destination list ${l.name}`,
          status: 204,
        });
      });
    },

    async entries(id: number, limit: number, offset: number) {
      const l = await mustList(id);
      return {
        count: await repo.entryCount(l.id),
        results: (await repo.entries(l.id, limit, offset)).map(entryOut),
      };
    },

    async addEntries(actor: Actor, id: number, input: { entries: string[]; comment?: string | undefined }) {
      const values = normalizeEntries(input.entries);
      return deps.tx.transaction(async (trx) => {
        const l = await lockForEntries(id, trx);
        const present = new Set((await repo.entriesByValue(l.id, values, trx)).map((e) => e.value));
        const dup = values.flatMap((v) =>
          present.has(v)
            ? [{ field: `body.entries[${values.indexOf(v)}]`, message: `${v} is already in the list` }]
            : [],
        );
        if (dup.length > 0)
          throw new AppError({
            code: 'conflict',
            message: dup.map((e) => e.message).join('; '),
            errors: dup,
          });
        const total = (await repo.entryCount(l.id, trx)) + values.length;
        if (total > MAX_ENTRIES_PER_LIST)
          throw invalid([
            {
              field: 'body.entries',
              message: `a list holds at most ${MAX_ENTRIES_PER_LIST} entries (it would have ${total})`,
            },
          ]);
        const rows = await repo.insertEntries(l.id, values, input.comment ?? '', trx);
        const marked = await entriesChanged(trx, actor, l, {
          action: 'destination_list.entries_added',
          summary: `added ${values.length} entries to destination list ${l.name}`,
          entries: values,
          status: 201,
        });
        return { added: rows.map(entryOut), groups_out_of_sync: marked };
      });
    },

    /** Removes entries by value (or one by id); 404 naming each value that is not in the list. */
    async removeEntries(actor: Actor, id: number, input: { entries?: string[]; entryId?: number }) {
      return deps.tx.transaction(async (trx) => {
        const l = await lockForEntries(id, trx);
        let rows: EntryRow[];
        if (input.entryId !== undefined) {
          const row = await repo.entry(l.id, input.entryId, trx);
          if (!row) throw notFound(`entry ${input.entryId} of destination list ${l.name}`);
          rows = [row];
        } else {
          const values = normalizeEntries(input.entries ?? []);
          rows = await repo.entriesByValue(l.id, values, trx);
          const have = new Set(rows.map((r) => r.value));
          const missing = values.flatMap((v, i) =>
            have.has(v) ? [] : [{ field: `body.entries[${i}]`, message: `${v} is not in the list` }],
          );
          if (missing.length > 0)
            throw new AppError({
              code: 'not_found',
              message: missing.map((e) => e.message).join('; '),
              errors: missing,
            });
        }
        await repo.removeEntries(
          rows.map((r) => r.id),
          trx,
        );
        const marked = await entriesChanged(trx, actor, l, {
          action: 'destination_list.entries_removed',
          summary: `removed ${rows.length} entries from destination list ${l.name}`,
          entries: rows.map((r) => r.value),
          status: input.entryId !== undefined ? 204 : 200,
        });
        return { removed: rows.map(entryOut), groups_out_of_sync: marked };
      });
    },
  };
}

export type DestinationsService = ReturnType<typeof createDestinationsService>;
