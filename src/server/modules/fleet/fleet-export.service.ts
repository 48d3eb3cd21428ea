// Exports of the appliance list and the activities: every row the list shows with the same
// filters, in the list's order, read in keyset batches (see http/export.ts for the file). Each
// export is recorded (`appliance.exported`, `activity.exported`) before its first row is read.

import type { Actor } from '../../shared/actor.js';
import { keysetBatches } from '../../shared/batches.js';
import type { AuditService } from '../audit/audit.service.js';
import type { EventKey, FleetRepo } from './fleet.repo.js';
import {
  type ActivityListQuery,
  type ApplianceListQuery,
  activityOut,
  applianceFilterOf,
  eventFilterOf,
  type FleetService,
} from './fleet.service.js';

export interface FleetExportDeps {
  repo: FleetRepo;
  fleet: Pick<FleetService, 'present'>;
  audit: Pick<AuditService, 'recordExport'>;
}

export function createFleetExportService(deps: FleetExportDeps) {
  const { repo, fleet, audit } = deps;
  return {
    /** The appliances (wire form, as the list shows them), by id. */
    async appliances(actor: Actor, filter: ApplianceListQuery, format: string) {
      const f = applianceFilterOf(filter); // a bad filter is a 400 before anything is recorded
      await audit.recordExport(actor, {
        action: 'appliance.exported',
        what: 'the appliance list',
        format,
        filters: { ...filter },
      });
      const rows = keysetBatches(
        (after: number | undefined, size) => repo.appliancesAfter(f, after, size),
        (r) => r.id,
      );
      return (async function* () {
        for await (const batch of rows) yield await fleet.present(batch);
      })();
    },

    /** The activities, newest first. */
    async activities(actor: Actor, filter: ActivityListQuery, format: string) {
      const f = eventFilterOf(filter);
      await audit.recordExport(actor, {
        action: 'activity.exported',
        what: 'the fleet activities',
        format,
        filters: { ...filter },
      });
      const rows = keysetBatches(
        (after: EventKey | undefined, size) => repo.eventsBefore(f, after, size),
        (r): EventKey => ({ at: r.key_at, id: r.id }),
      );
      return (async function* () {
        for await (const batch of rows) yield batch.map(activityOut);
      })();
    },
  };
}

export type FleetExportService = ReturnType<typeof createFleetExportService>;
