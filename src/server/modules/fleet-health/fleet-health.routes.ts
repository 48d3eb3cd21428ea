// Appliance health over time (the console's detail charts): the samples the health round keeps
// (health-history.service.ts). Under the appliance's path, served by the module that polls.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { ErrorResponses, Id, StrictObject } from '../../http/schemas.js';
import type { HealthHistoryService } from './health-history.service.js';
import { SAMPLE_RETENTION_HOURS } from './health-history.service.js';

const Sample = Type.Object({
  at: Type.String({ format: 'date-time', description: 'When the appliance answered (UTC)' }),
  load1: Type.Number({ description: 'CPU load average over 1 minute (runnable processes)' }),
  memory_used_percent: Type.Number({ description: 'Memory in use, % of total' }),
  disk_used_percent: Type.Number({ description: 'Data filesystem in use, %' }),
  uptime_seconds: Type.Number({ description: 'Seconds since the agent started' }),
});

const HealthHistory = Type.Object(
  {
    appliance_id: Type.Integer(),
    hours: Type.Integer({ description: 'The period asked for' }),
    interval_seconds: Type.Integer({ description: 'One sample per appliance per this many seconds' }),
    retention_hours: Type.Integer({ description: 'Samples older than this are deleted' }),
    samples: Type.Array(Sample, { description: 'Oldest first; none while the appliance did not answer' }),
  },
  {
    examples: [
      {
        appliance_id: 1,
        hours: 6,
        interval_seconds: 300,
        retention_hours: 24,
        samples: [
          {
            at: '2026-12-06T09:00:04.000Z',
            load1: 0.42,
            memory_used_percent: 61.3,
            disk_used_percent: 40.2,
            uptime_seconds: 86_400,
          },
          {
            at: '2026-12-06T09:05:03.000Z',
            load1: 0.57,
            memory_used_percent: 61.9,
            disk_used_percent: 40.2,
            uptime_seconds: 86_699,
          },
        ],
      },
    ],
  },
);

export function fleetHealthRoutes(history: HealthHistoryService): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    r.get(
      '/api/v1/appliances/:id/health/',
      {
        config: { permission: 'appliances:read' },
        schema: {
          tags: ['appliances'],
          summary: "An appliance's health over time",
          description: `What the appliance reported when polled (CPU load, memory, disk, uptime), one sample every 5 minutes while it answers, for the last \`hours\` (1 to ${SAMPLE_RETENTION_HOURS}, default 6). Samples are kept ${SAMPLE_RETENTION_HOURS} hours. An appliance that did not answer has no samples for that time (a gap, not zeros). The latest figures are in the appliance's \`system_data\`.`,
          params: StrictObject({ id: Id({ description: 'Appliance id' }) }),
          querystring: StrictObject({
            hours: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: SAMPLE_RETENTION_HOURS,
                default: 6,
                description: 'How many hours back',
              }),
            ),
          }),
          response: { 200: HealthHistory, ...ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => history.history(request.params.id, request.query.hours ?? 6),
    );
  };
}
