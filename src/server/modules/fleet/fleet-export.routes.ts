// Exports of the appliance list and the fleet activities (CSV or JSON, streamed): the lists'
// own filters, permission and fields. The file is written by http/export.ts.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { actorOf } from '../../http/actor.js';
import { ExportQuery, ExportResponse, sendExport } from '../../http/export.js';
import { parseOrdering } from '../../http/pagination.js';
import { ErrorResponses } from '../../http/schemas.js';
import { ApplianceListQuery } from './fleet.list-query.js';
import { ActivityListQuery } from './fleet.routes.js';
import { Activity, Appliance } from './fleet.schemas.js';
import { APPLIANCE_ORDERING } from './fleet.states.js';
import type { FleetExportService } from './fleet-export.service.js';

const STREAMED =
  'Streamed: the manager reads it in batches, so a large export takes no more memory than a page. ' +
  'Objects are JSON cells in CSV. A bad filter is a 400 before any byte is sent; a failure part-way ' +
  'aborts the connection, so a download is never silently cut short.';

export function fleetExportRoutes(exports: FleetExportService): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();

    r.get(
      '/api/v1/appliances/export/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: 'Export appliances (CSV or JSON)',
          description:
            'Every appliance the list (`GET /api/v1/appliances/`) would show with the same filters, ordered ' +
            'as the list, with the same fields, as one file (`steward-appliances-<date>.csv` or `.json`). ' +
            'Recorded in the audit log (`appliance.exported`, with the format and filters). ' +
            STREAMED,
          querystring: ExportQuery(ApplianceListQuery),
          response: { 200: ExportResponse(Appliance), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const { format, ordering, ...filters } = request.query;
        const order = parseOrdering(ordering, APPLIANCE_ORDERING, []);
        const batches = await exports.appliances(actorOf(request), filters, order, format);
        return sendExport(reply, { name: 'appliances', format, item: Appliance, batches });
      },
    );

    r.get(
      '/api/v1/activities/export/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: 'Export fleet activities (CSV or JSON)',
          description:
            'Every activity the list (`GET /api/v1/activities/`) would show with the same filters, newest ' +
            'first, with the same fields, as one file (`steward-activities-<date>.csv` or `.json`). ' +
            'Recorded in the audit log (`activity.exported`, with the format and filters). ' +
            STREAMED,
          querystring: ExportQuery(ActivityListQuery),
          response: { 200: ExportResponse(Activity), ...ErrorResponses(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const { format, ...filters } = request.query;
        const batches = await exports.activities(actorOf(request), filters, format);
        return sendExport(reply, { name: 'activities', format, item: Activity, batches });
      },
    );
  };
}
