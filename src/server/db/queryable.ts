// The one way from a `Tx` back to a query builder. Only repositories (`*.repo.ts`) and db/ may
// import this file (the dependency rule `only-repositories-query`), so a service holding a `Tx`
// cannot write SQL with it.

import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { DbHandle } from './transactor.js';

/** The query builder behind a handle (a `Transaction` is a `Kysely`). */
export function queryable(handle: DbHandle): Kysely<Database> {
  return handle as unknown as Kysely<Database>;
}
