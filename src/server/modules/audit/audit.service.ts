// The audit trail. Services call `record()` inside the transaction of the change they make, so a
// change and its audit record commit together or not at all. If the record cannot be written
// the transaction fails and the client gets 503: no change without its record. Listeners (syslog
// forwarding) hear of a record only once it committed: a rolled-back change is never forwarded.

import type { DbHandle, Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError } from '../../shared/app-error.js';
import { keysetBatches } from '../../shared/batches.js';
import type { Clock } from '../../shared/clock.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { AuditFilter, AuditRecordOut, AuditRepo } from './audit.repo.js';

export type { AuditFilter, AuditRecordOut };

/** The audit columns that say who acted and from where (see `auditContextOf`). */
export interface AuditContext {
  userId: number | null;
  username: string | null;
  tokenId: number | null;
  authMethod: string | null;
  ip: string | null;
  userAgent: string | null;
  method: string | null;
  path: string | null;
  requestId: string | null;
}

export interface AuditEvent {
  action: string;
  outcome?: 'success' | 'failure' | 'denied';
  status?: number;
  targetType?: string;
  targetId?: string | number;
  summary?: string;
  details?: Record<string, unknown>;
}

export type AuditListener = (record: AuditRecordOut) => void;

/** The audit columns of an actor. */
export function auditContextOf(actor: Actor): AuditContext {
  const p = actor.principal;
  return {
    userId: p?.userId ?? null,
    username: p?.username ?? actor.name,
    tokenId: p?.tokenId ?? null,
    authMethod: p?.method ?? (actor.kind === 'request' ? null : actor.kind),
    ip: actor.ip,
    userAgent: actor.userAgent,
    method: actor.method,
    path: actor.path,
    requestId: actor.requestId,
  };
}

export interface AuditServiceDeps {
  repo: AuditRepo;
  clock: Clock;
  /** Hears of a committed record a listener could not forward; the server passes its logger. */
  log?: Logger;
  /** Where the record of an export (a read, outside any change) is written. */
  tx?: Transactor;
}

/** What an export records: `<thing>.exported`, with the format and the filters as given. */
export interface ExportEvent {
  action: string;
  what: string;
  format: string;
  filters: Record<string, unknown>;
}

export function createAuditService(deps: AuditServiceDeps) {
  const repo = deps.repo;
  const log = deps.log ?? silentLogger;
  // Each listener with whether it wants records now (syslog forwarding may be switched off).
  const listeners = new Map<AuditListener, () => boolean>();
  const anyActive = () => {
    for (const active of listeners.values()) if (active()) return true;
    return false;
  };

  function notify(row: AuditRecordOut) {
    for (const [l, active] of listeners) {
      if (!active()) continue;
      try {
        l(row);
      } catch (err) {
        // A listener (syslog forwarding) must never break the audited change; the loss is logged.
        log.warn({ err, auditId: row.id, action: row.action }, 'an audit record was not forwarded (syslog)');
      }
    }
  }

  /**
   * Kysely has no commit hook, so a record written in a transaction is announced once PostgreSQL
   * says that transaction committed (pg_xact_status, asked outside it); an aborted one is dropped.
   */
  async function notifyAfterCommit(row: AuditRecordOut, xid: string) {
    let wait = 2;
    const deadline = Date.now() + 10 * 60 * 1000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, wait));
      let status: string | null | undefined;
      try {
        status = await repo.transactionStatus(xid);
      } catch (err) {
        // Usually the database closing at shutdown; either way the record is not forwarded.
        log.warn(
          { err, auditId: row.id, action: row.action },
          'an audit record was not forwarded: its commit could not be confirmed',
        );
        return;
      }
      if (status === 'committed') return notify(row);
      if (status !== 'in progress') return;
      wait = Math.min(wait * 2, 1000);
    }
  }

  /**
   * Writes the record of what `actor` did, in `trx`. `as` overrides columns of the actor's
   * context (a login names the account tried before anyone is authenticated).
   */
  async function record(
    trx: DbHandle,
    actor: Actor,
    event: AuditEvent,
    as?: Partial<AuditContext>,
  ): Promise<void> {
    const ctx = as ? { ...auditContextOf(actor), ...as } : auditContextOf(actor);
    try {
      const row = await repo.insert(trx, {
        at: deps.clock.now(),
        action: event.action,
        outcome: event.outcome ?? 'success',
        user_id: ctx.userId,
        username: ctx.username,
        token_id: ctx.tokenId,
        auth_method: ctx.authMethod,
        ip: ctx.ip,
        user_agent: ctx.userAgent,
        method: ctx.method,
        path: ctx.path,
        status: event.status ?? null,
        target_type: event.targetType ?? null,
        target_id: event.targetId === undefined ? null : String(event.targetId),
        summary: event.summary ?? '',
        details: JSON.stringify(event.details ?? {}),
        request_id: ctx.requestId,
      });
      actor.audited = true;
      // Nothing to announce, nothing to ask: no extra statement while forwarding is off.
      if (listeners.size > 0 && anyActive()) {
        const xid = await repo.transactionId(trx);
        if (xid !== null) {
          void notifyAfterCommit(row, xid);
        } else {
          notify(row); // autocommit: the insert has committed
        }
      }
    } catch (err) {
      throw new AppError({
        code: 'unavailable',
        message: 'the audit log could not be written, so the change was not made; try again',
        cause: err,
      });
    }
  }

  /**
   * Records an export before its first row is read, in a statement of its own: an export is a
   * read of possibly the whole table, so who took it, when and with which filters is kept even
   * if the download then fails. No record, no export (503).
   */
  async function recordExport(actor: Actor, e: ExportEvent) {
    // A HEAD asks for the file's headers only: no row leaves the manager, so nothing is recorded
    // (a browser or a link checker probing the URL would otherwise fill the log with exports).
    if (actor.method === 'HEAD') return;
    if (!deps.tx) throw new AppError({ code: 'internal', message: 'exports need the transactor' });
    const given = Object.entries(e.filters).filter(([, v]) => v !== undefined);
    const filters = Object.fromEntries(given);
    await record(deps.tx.direct, actor, {
      action: e.action,
      status: 200,
      summary:
        `exported ${e.what} as ${e.format.toUpperCase()}` +
        (given.length > 0 ? ` (${given.map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : ''),
      details: { format: e.format, filters },
    });
  }

  return {
    record,
    recordExport,
    /** Every record matching `f`, newest first, in keyset batches; the export itself is recorded first. */
    async exportRecords(actor: Actor, f: AuditFilter, e: Omit<ExportEvent, 'action' | 'what'>) {
      await recordExport(actor, { ...e, action: 'audit.exported', what: 'the audit log' });
      return keysetBatches<AuditRecordOut, number>(
        (before, size) => repo.list({ ...f, beforeId: before }, size),
        (r) => r.id,
      );
    },
    list: (f: AuditFilter, limit: number, offset = 0) => repo.list(f, limit, offset),
    count: (f: AuditFilter) => repo.count(f),
    deleteOlderThan: (cutoff: Date) => repo.deleteOlderThan(cutoff),
    /** Hears committed records while `active()` says so (checked per record). */
    onRecord(listener: AuditListener, active: () => boolean = () => true) {
      listeners.set(listener, active);
      return () => listeners.delete(listener);
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
