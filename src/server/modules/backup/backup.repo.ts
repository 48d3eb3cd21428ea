// Database half of backup and restore: the repository of the backup service. It is database-level
// code (it reads the catalog, every table, indexes and sequences), so unlike the other
// repositories it owns no table of its own: it dumps and loads all of them. The dump discovers
// every table from the catalog (so a table added by any module is included without anyone
// remembering to list it), reads all of them in one REPEATABLE READ transaction (one consistent
// snapshot) through a cursor, and writes each row as one JSON line. Restore loads the rows back in
// foreign-key order inside the caller's transaction and resets sequences.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Kysely, sql, type Transaction } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { Database } from '../../db/schema.js';
import type { DbHandle } from '../../db/transactor.js';
import { writeChunk } from './tar.js';

/** Kysely's own bookkeeping: the target database keeps its own migration state. */
const SKIP = new Set(['kysely_migration', 'kysely_migration_lock']);
/**
 * Runtime coordination between replicas (who is alive, shared rate-limit windows, job leases):
 * meaningless on another machine or at another time, so neither backed up nor touched by a
 * restore. A table added later opts in with `COMMENT ON TABLE t IS 'steward:runtime ...'`.
 */
const RUNTIME = new Set(['cluster_replicas', 'rate_limit_counters']);
/**
 * Login sessions are credentials of the moment: a restore ends every session (the table is
 * emptied) instead of bringing back sessions that were logged out after the backup.
 */
const CLEARED = new Set(['sessions']);
const PAGES_PER_CHUNK = 1024;
const INSERT_BATCH = 5000;

export interface TableDump {
  name: string;
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
}

type Db = Kysely<Database> | Transaction<Database>;

/** Tables a restore replaces (all but bookkeeping and runtime state). */
async function listTables(db: Db): Promise<string[]> {
  const r = await sql<{ table_name: string; note: string | null }>`
    select t.table_name, obj_description(quote_ident(t.table_name)::regclass, 'pg_class') as note
    from information_schema.tables t
    where t.table_schema = current_schema() and t.table_type = 'BASE TABLE'
    order by t.table_name`.execute(db);
  return r.rows
    .filter(
      (x) =>
        !SKIP.has(x.table_name) &&
        !RUNTIME.has(x.table_name) &&
        !(x.note ?? '').startsWith('steward:runtime'),
    )
    .map((x) => x.table_name);
}

/** Tables whose rows go into a backup. */
async function listDumpedTables(db: Db): Promise<string[]> {
  return (await listTables(db)).filter((t) => !CLEARED.has(t));
}

async function listMigrations(db: Db): Promise<string[]> {
  try {
    const r = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    return r.rows.map((x) => x.name);
  } catch {
    return [];
  }
}

/** Dumps every table to `<dir>/<table>.jsonl` from one snapshot. */
async function dumpDatabase(
  db: Kysely<Database>,
  dir: string,
  onProgress: (table: string, rows: number) => void = () => {},
): Promise<{ tables: TableDump[]; migrations: string[] }> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      // Read-only: the dump must never change what it reads.
      await sql`set transaction read only`.execute(trx);
      // The server's short statement timeout guards API requests, not a whole-database dump.
      await sql`set local statement_timeout = 0`.execute(trx);
      const migrations = await listMigrations(trx);
      const tables: TableDump[] = [];
      for (const name of await listDumpedTables(trx)) {
        const file = join(dir, `${name}.jsonl`);
        const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
        const hash = createHash('sha256');
        let rows = 0;
        let bytes = 0;
        const done = new Promise<void>((res, rej) => {
          out.on('finish', res);
          out.on('error', rej);
        });
        // Page ranges by ctid (a TID range scan): each query returns one chunk of lines as a
        // single string, which is far cheaper than one driver row per table row. The snapshot
        // keeps the ranges consistent; rows never move between pages within it.
        const size = await sql<{ pages: number }>`
          select (pg_relation_size(quote_ident(${name})::regclass) / current_setting('block_size')::int)::int as pages`.execute(
          trx,
        );
        const pages = Number(size.rows[0]?.pages ?? 0);
        for (let from = 0; from < pages; from += PAGES_PER_CHUNK) {
          const lo = `(${from},0)`;
          const hi = `(${from + PAGES_PER_CHUNK},0)`;
          const r = await sql<{ n: number; body: string | null }>`
            select count(*)::int as n, string_agg(row_to_json(t)::text, E'\n') as body
            from ${sql.id(name)} t where ctid >= ${lo}::tid and ctid < ${hi}::tid`.execute(trx);
          const n = Number(r.rows[0]?.n ?? 0);
          if (n === 0) continue;
          const chunk = Buffer.from(`${r.rows[0]?.body ?? ''}\n`, 'utf8');
          hash.update(chunk);
          bytes += chunk.length;
          rows += n;
          await writeChunk(out, chunk);
          onProgress(name, rows);
        }
        out.end();
        await done;
        tables.push({ name, file: `db/${name}.jsonl`, rows, bytes, sha256: hash.digest('hex') });
      }
      return { tables, migrations };
    });
}

/** Tables ordered so that every table comes after the tables it references. */
async function foreignKeyOrder(trx: Db, tables: string[]): Promise<string[]> {
  const r = await sql<{ child: string; parent: string }>`
    select c.relname as child, p.relname as parent
    from pg_constraint k
    join pg_class c on c.oid = k.conrelid
    join pg_class p on p.oid = k.confrelid
    join pg_namespace n on n.oid = c.relnamespace
    where k.contype = 'f' and n.nspname = current_schema()`.execute(trx);
  const deps = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const { child, parent } of r.rows)
    if (child !== parent && deps.has(parent)) deps.get(child)?.add(parent);
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (t: string, path: Set<string>) => {
    if (seen.has(t) || path.has(t)) return;
    path.add(t);
    for (const p of deps.get(t) ?? []) visit(p, path);
    path.delete(t);
    seen.add(t);
    out.push(t);
  };
  for (const t of tables) visit(t, new Set());
  return out;
}

async function insertableColumns(trx: Db, table: string): Promise<string[]> {
  const r = await sql<{ column_name: string }>`
    select column_name from information_schema.columns
    where table_schema = current_schema() and table_name = ${table} and is_generated = 'NEVER'
    order by ordinal_position`.execute(trx);
  return r.rows.map((x) => x.column_name);
}

async function insertBatch(trx: Db, table: string, columns: string[], lines: string[]) {
  const cols = sql.join(columns.map((c) => sql.id(c)));
  await sql`insert into ${sql.id(table)} (${cols}) overriding system value
    select ${cols} from json_populate_recordset(null::${sql.id(table)}, ${`[${lines.join(',')}]`}::json)`.execute(
    trx,
  );
}

/** Replaces the content of every table with the dumped rows; runs inside the caller's transaction. */
async function loadDatabase(
  trx: Transaction<Database>,
  dir: string,
  tables: string[],
  onProgress: (table: string, rows: number) => void = () => {},
) {
  await sql`set local statement_timeout = 0`.execute(trx);
  const all = await listTables(trx);
  if (all.length > 0) {
    await sql`truncate ${sql.join(all.map((t) => sql.id(t)))} restart identity cascade`.execute(trx);
  }
  // Secondary indexes are dropped during the load and built again after it (inside this
  // transaction): one build per index is much faster than maintaining them row by row.
  const indexes = await sql<{ name: string; def: string }>`
    select quote_ident(ci.relname) as name, pg_get_indexdef(i.indexrelid) as def
    from pg_index i
    join pg_class ci on ci.oid = i.indexrelid
    join pg_class c on c.oid = i.indrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema()
      and c.relname::text = any(${all}::text[])
      and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)`.execute(trx);
  for (const ix of indexes.rows) await sql.raw(`drop index ${ix.name}`).execute(trx);
  for (const table of await foreignKeyOrder(trx, tables)) {
    const columns = await insertableColumns(trx, table);
    const rl = createInterface({
      input: createReadStream(join(dir, `${table}.jsonl`), 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let batch: string[] = [];
    let rows = 0;
    for await (const line of rl) {
      if (line === '') continue;
      batch.push(line);
      if (batch.length >= INSERT_BATCH) {
        await insertBatch(trx, table, columns, batch);
        rows += batch.length;
        batch = [];
        onProgress(table, rows);
      }
    }
    if (batch.length) {
      await insertBatch(trx, table, columns, batch);
      rows += batch.length;
      onProgress(table, rows);
    }
  }
  for (const ix of indexes.rows) await sql.raw(ix.def).execute(trx);
  // Sequences continue after the restored ids.
  const seqs = await sql<{ table_name: string; column_name: string; seq: string }>`
    select c.table_name, c.column_name, pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) as seq
    from information_schema.columns c
    where c.table_schema = current_schema()
      and pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) is not null`.execute(trx);
  for (const s of seqs.rows) {
    if (!tables.includes(s.table_name)) continue;
    await sql`select setval(${s.seq}, coalesce((select max(${sql.id(s.column_name)}) from ${sql.id(s.table_name)}), 1),
      (select max(${sql.id(s.column_name)}) is not null from ${sql.id(s.table_name)}))`.execute(trx);
  }
  // As the seed says: restored configuration must be applied again before it takes effect.
  const status = await sql<{ table_name: string }>`
    select table_name from information_schema.columns
    where table_schema = current_schema() and column_name = 'configuration_status' and data_type = 'text'`.execute(
    trx,
  );
  for (const t of status.rows) {
    await sql`update ${sql.id(t.table_name)} set configuration_status = 'changes_awaiting_apply'
      where configuration_status not in ('no_configuration_group', 'unsupported')`.execute(trx);
  }
}

export function createBackupRepo(db: Kysely<Database>) {
  return {
    /** Tables a restore replaces (all but bookkeeping and runtime state), by name. */
    listTables: () => listTables(db),
    /** Names of the applied migrations, in order; none when the database was never migrated. */
    listMigrations: () => listMigrations(db),
    /** Dumps every backed-up table to `<dir>/<table>.jsonl` from one read-only snapshot. */
    dump: (dir: string, onProgress?: (table: string, rows: number) => void) =>
      dumpDatabase(db, dir, onProgress),
    /**
     * Replaces every table's rows with the dumped ones of `tables` (in `dir`), inside `trx`: the
     * truncate and the load commit together or not at all, so it refuses to run outside one.
     */
    async load(
      trx: DbHandle,
      dir: string,
      tables: string[],
      onProgress?: (table: string, rows: number) => void,
    ): Promise<void> {
      const k = queryable(trx);
      if (!k.isTransaction) throw new Error('a restore loads the tables inside a transaction');
      await loadDatabase(k as Transaction<Database>, dir, tables, onProgress);
    },
    /** Every settings document, as a restore left them (for the modules' caches). */
    settings: () => db.selectFrom('settings').select(['key', 'value']).execute(),
  };
}

export type BackupRepo = ReturnType<typeof createBackupRepo>;
