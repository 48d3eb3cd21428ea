// How services use the database without touching it. A service holds a Transactor and passes the
// `Tx` it gets to repository methods; only repositories (and db/) turn a `Tx` back into a query
// builder, with `queryable` (db/queryable.ts, which only repositories may import). `Tx` is opaque on purpose: a service that tried to write SQL with it
// would not compile, so SQL stays in repositories (docs/architecture.md).

import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

declare const txBrand: unique symbol;

/** A database handle (a transaction, or the pool outside any) that only repositories can query. */
export type Tx = { readonly [txBrand]: 'steward-database-handle' };

export interface Transactor {
  /** Runs `fn` in one transaction: what repositories write through `tx` commits together or not at all. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The pool outside any transaction: each statement commits on its own. */
  readonly direct: Tx;
}

export function createTransactor(db: Kysely<Database>): Transactor {
  return {
    transaction: (fn) => db.transaction().execute((trx) => fn(trx as unknown as Tx)),
    direct: db as unknown as Tx,
  };
}

/** What a repository method accepts: a service's `Tx`, or its own query builder. */
export type DbHandle = Tx | Kysely<Database>;
