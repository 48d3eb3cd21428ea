// Exports of the appliance list and the activities: every row the list shows with the same
// filters, in the list's order, read in keyset batches (see http/export.ts for the file). Each
// export is recorded (`appliance.exported`, `activity.exported`) before its first row is read.

import type { Actor } from '../../shared/actor.js';
import { keysetBatches, pageBatches } from '../../shared/batches.js';
import type { AuditService } from '../audit/audit.service.js';
import type { EventKey, FleetRepo } from './fleet.repo.js';
import {
  type ActivityListQuery,
  activityOut,
  applianceFilterOf,
  eventFilterOf,
  type FleetService,
} from './fleet.service.js';
import { type ApplianceFilter, applianceOrder } from './fleet.states.js';

export interface FleetExportDeps {
  repo: FleetRepo;
  fleet: Pick<FleetService, 'present'>;
  audit: Pick<AuditService, 'recordExport'>;
}

export function createFleetExportService(deps: FleetExportDeps) {
  const { repo, fleet, audit } = deps;
  return {
    /**
     * The appliances (wire form, as the list shows them) in the list's order: `order` as the
     * list parsed it. By id (the default), keyset batches; in another order, pages of that order
     * (ties by id, so pages never overlap).
     */
    async appliances(
      actor: Actor,
      filter: ApplianceFilter,
      ordering: readonly { field: string; direction: 'asc' | 'desc' }[],
      format: string,
    ) {
      const f = applianceFilterOf(filter); // a bad filter is a 400 before anything is recorded
      const order = applianceOrder(ordering);
      await audit.recordExport(actor, {
        action: 'appliance.exported',
        what: 'the appliance list',
        format,
        filters: { ...filter },
      });
      const rows =
        order.length === 0
          ? keysetBatches(
              (after: number | undefined, size) => repo.appliancesAfter(f, after, size),
              (r) => r.id,
            )
          : pageBatches(
              async (offset, size) => (await repo.listAppliances({ ...f, order }, size, offset)).rows,
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
