// Factories for rows that repository tests need as a setting (DESIGN: test data comes from
// factories, never from shared seed rows). Each call makes a row of its own: a unique name and
// address unless the test names them.

import type { Insertable, Kysely } from 'kysely';
import type { Database } from '../../src/server/db/schema.js';
import type { AppliancesTable } from '../../src/server/db/tables/fleet.js';

let seq = 0;

/** Inserts an appliance (a tiscale-worker at a unique address by default); returns its id. */
export async function insertAppliance(
  db: Kysely<Database>,
  values: Partial<Insertable<AppliancesTable>> = {},
): Promise<number> {
  seq += 1;
  const name = values.name ?? `appliance-${seq}`;
  const row = await db
    .insertInto('appliances')
    .values({
      type: 'tiscale-worker',
      url: `https://10.9.${Math.floor(seq / 250)}.${seq % 250}:8443`,
      system_data: '{}',
      configuration_status_details: '{}',
      ...values,
      name,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The appliance's row as stored. */
export function readAppliance(db: Kysely<Database>, id: number) {
  return db.selectFrom('appliances').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
