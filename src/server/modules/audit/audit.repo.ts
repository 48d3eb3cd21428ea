// SQL of the audit trail.

import { type Insertable, type Kysely, type Selectable, sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { AuditLogTable, Database } from '../../db/schema.js';
import type { DbHandle } from '../../db/transactor.js';

/** An audit record as the API shows it. */
export type AuditRecordOut = Omit<Selectable<AuditLogTable>, 'at' | 'details'> & {
  at: string;
  details: Record<string, unknown>;
};

export interface AuditFilter {
  userId?: number;
  username?: string;
  tokenId?: number;
  action?: string;
  outcome?: string;
  targetType?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
  /** Keyset: only records with id below this. */
  beforeId?: number;
}

const toOut = (r: Record<string, unknown>): AuditRecordOut => ({
  ...(r as unknown as AuditRecordOut),
  at: (r.at as Date).toISOString(),
});

export function createAuditRepo(db: Kysely<Database>) {
  function filtered(f: AuditFilter) {
    let q = db.selectFrom('audit_log');
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
    if (f.username !== undefined) q = q.where('username', '=', f.username);
    if (f.tokenId !== undefined) q = q.where('token_id', '=', f.tokenId);
    if (f.action !== undefined) {
      // `token.*` matches every token action; anything else matches exactly.
      q = f.action.endsWith('*')
        ? q.where('action', 'like', `${f.action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`)
        : q.where('action', '=', f.action);
    }
    if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
    if (f.targetType !== undefined) q = q.where('target_type', '=', f.targetType);
    if (f.targetId !== undefined) q = q.where('target_id', '=', f.targetId);
    if (f.since !== undefined) q = q.where('at', '>=', f.since);
    if (f.until !== undefined) q = q.where('at', '<', f.until);
    return q;
  }
  return {
    async insert(trx: DbHandle, row: Insertable<AuditLogTable>) {
      const r = await queryable(trx)
        .insertInto('audit_log')
        .values(row)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toOut(r as unknown as Record<string, unknown>);
    },
    /** The id of the transaction `trx` is in, or null outside one (autocommit). */
    async transactionId(trx: DbHandle): Promise<string | null> {
      const k = queryable(trx);
      if (!k.isTransaction) return null;
      const r = await sql<{ xid: string }>`select pg_current_xact_id()::text as xid`.execute(k);
      return String(r.rows[0]?.xid);
    },
    /** What PostgreSQL says of a transaction: 'committed', 'aborted', 'in progress' (or null). */
    async transactionStatus(xid: string): Promise<string | null | undefined> {
      return (await sql<{ s: string | null }>`select pg_xact_status(${xid}::xid8) as s`.execute(db)).rows[0]
        ?.s;
    },
    async list(f: AuditFilter, limit: number, offset = 0): Promise<AuditRecordOut[]> {
      let q = filtered(f).selectAll();
      if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
      const rows = await q.orderBy('id', 'desc').limit(limit).offset(offset).execute();
      return rows.map((r) => toOut(r as unknown as Record<string, unknown>));
    },
    async count(f: AuditFilter): Promise<number> {
      const r = await filtered(f)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    async deleteOlderThan(cutoff: Date): Promise<number> {
      const r = await db.deleteFrom('audit_log').where('at', '<', cutoff).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}

export type AuditRepo = ReturnType<typeof createAuditRepo>;
