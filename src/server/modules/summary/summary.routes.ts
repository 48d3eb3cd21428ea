// GET /api/v1/summary/: the fleet at a glance (the console's dashboard). Schema, permission and
// one service call.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { ErrorResponses, Nullable, StringEnum } from '../../http/schemas.js';
import { CONFIG_STATUSES } from '../fleet/fleet.schemas.js';
import type { SummaryService } from './summary.service.js';

const Count = (description: string) => Type.Integer({ minimum: 0, description });
const Time = (description: string) => Type.String({ format: 'date-time', description });

const ByState = Type.Object(
  {
    online: Count('Authorized, not in maintenance, answering with health ok'),
    degraded: Count('Authorized, not in maintenance, answering but reporting a health problem'),
    offline: Count('Authorized, not in maintenance, not answering'),
    maintenance: Count('Authorized and in maintenance (polled, sent no configuration, raising no alarm)'),
    unauthorized: Count('Added but not authorized yet (never polled)'),
  },
  { description: 'Each appliance in exactly one state; the five add up to `total`' },
);

const ByConfigurationStatus = Type.Object(
  Object.fromEntries(
    CONFIG_STATUSES.map((s) => [
      s,
      Count(
        {
          changes_awaiting_apply: 'Saved changes not applied yet (or held back by maintenance)',
          pending: 'An apply is on its way to the appliance',
          error: 'The appliance refused the configuration, or could not be reached to apply it',
          done: 'Runs the configuration applied',
          mismatch: 'Out of sync: runs another configuration than the one applied (drift)',
          unsupported: 'Took the configuration but cannot use some fields',
          no_configuration_group: 'In no group and without a configuration of its own',
        }[s],
      ),
    ]),
  ) as Record<(typeof CONFIG_STATUSES)[number], ReturnType<typeof Count>>,
  { description: 'Each appliance counted under its `configuration_status`; every status is listed' },
);

const AttentionItem = Type.Object({
  kind: Type.String({
    description:
      'appliance.offline, configuration.error, appliance.degraded, configuration.out_of_sync, appliance.unauthorized, upgrade.failed or token.expiring',
  }),
  severity: StringEnum(['error', 'warning', 'info']),
  target_type: StringEnum(['appliance', 'upgrade', 'token'], {
    description: 'What to open: the appliance, the upgrades of the appliance `target_id`, or the token',
  }),
  target_id: Type.Integer({ description: 'The appliance id (for upgrades too) or the token id' }),
  target_name: Type.String(),
  message: Type.String({ description: 'For a person to read' }),
  since: Nullable(Time('Offline: last seen online; a failed upgrade: when it ended')),
});

const SeriesPoint = Type.Object({
  at: Time('A whole hour, or (the last point) the time of the answer'),
  online: Count('Authorized appliances answering then (maintenance included)'),
  offline: Count('Authorized appliances not answering then'),
});

const Alert = Type.Object({
  id: Type.Integer({ description: 'Activity id (GET /api/v1/activities/)' }),
  at: Time('When'),
  appliance_id: Nullable(Type.Integer()),
  appliance_name: Nullable(Type.String()),
  kind: Type.String({
    description: 'e.g. appliance.offline, config.failed, config.mismatch, upgrade.failed',
  }),
  severity: StringEnum(['warning', 'error']),
  message: Type.String(),
});

const Rollout = Type.Object({
  group_id: Type.Integer(),
  group_name: Type.String(),
  revision: Type.Integer({ description: 'The group revision' }),
  total: Count('Members of the group'),
  by_status: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
    description:
      'Members by configuration status (only statuses that occur): pending ones are still on their way',
  }),
});

const Upgrade = Type.Object({
  id: Type.Integer(),
  appliance_id: Type.Integer(),
  appliance_name: Type.String(),
  version: Type.String({ description: 'The version being installed' }),
  status: Type.String({ description: 'pending, downloading, installing, idle (done) or error' }),
  started: Time('Started'),
  finished: Nullable(Time('Finished; null while it runs')),
});

const ExpiringToken = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  owner: Type.String({ description: 'Username of the owner' }),
  expires_at: Time('Expiry'),
});

export const Summary = Type.Object(
  {
    generated_at: Time(
      'When the fleet-wide figures were counted (at most 5 s before the answer while watched)',
    ),
    appliances: Type.Object({
      total: Count('Every appliance the manager knows'),
      by_state: ByState,
      by_configuration_status: ByConfigurationStatus,
    }),
    attention: Type.Array(AttentionItem, {
      description:
        'What needs someone, errors first: appliances offline, with a refused configuration, degraded, out of sync, or waiting for authorization (at most 20, worst first, then by name); the latest upgrade of an appliance when it failed in the last 24 h; tokens expiring within the warning window',
    }),
    fleet_state: Type.Array(SeriesPoint, {
      description:
        'Authorized appliances answering and not, at each whole hour of (at least) the last 24 hours and now, oldest first: reconstructed from the online, offline and authorization events of the activities, walking back from now. Appliances removed within the window are not counted before their removal.',
    }),
    alerts: Type.Object({
      last_24h: Count('Warnings and errors among the activities of the last 24 hours'),
      recent: Type.Array(Alert, { description: 'The newest ten of them' }),
    }),
    rollouts: Nullable(
      Type.Array(Rollout, {
        description: 'Configuration groups with an apply under way (a member still pending)',
      }),
      { description: 'Null without `configuration:read`' },
    ),
    upgrades: Nullable(
      Type.Object({
        in_flight: Count('Upgrades under way (one at a time across the fleet)'),
        current: Nullable(Upgrade, { description: 'The upgrade under way, if any' }),
        recent: Type.Array(Upgrade, {
          description:
            'The upgrade under way and those finished in the last 24 hours, newest first (at most 5)',
        }),
      }),
      { description: 'Null without `upgrades:read`' },
    ),
    tokens: Nullable(
      Type.Object({
        warning_days: Count(
          'The warning window: `token_expiry_warning_days` of /api/v1/config/systemalerting/ (0: no warnings)',
        ),
        expiring: Count(
          'Enabled tokens and API keys that expire within the window (every user’s for admins, else your own)',
        ),
        soonest: Type.Array(ExpiringToken, { description: 'The first five to expire' }),
      }),
      { description: 'Null without `tokens:read`' },
    ),
  },
  {
    examples: [
      {
        generated_at: '2026-12-06T18:30:00.000Z',
        appliances: {
          total: 42,
          by_state: { online: 36, degraded: 1, offline: 2, maintenance: 1, unauthorized: 2 },
          by_configuration_status: {
            changes_awaiting_apply: 1,
            pending: 3,
            error: 1,
            done: 30,
            mismatch: 1,
            unsupported: 0,
            no_configuration_group: 6,
          },
        },
        attention: [
          {
            kind: 'appliance.offline',
            severity: 'error',
            target_type: 'appliance',
            target_id: 7,
            target_name: 'worker-7',
            message: 'worker-7 does not answer',
            since: '2026-12-06T17:58:10.000Z',
          },
          {
            kind: 'token.expiring',
            severity: 'warning',
            target_type: 'token',
            target_id: 12,
            target_name: 'siem-export',
            message: 'API token "siem-export" of alice expires on 2026-12-09T08:00:00.000Z',
            since: null,
          },
        ],
        fleet_state: [
          { at: '2026-12-05T18:00:00.000Z', online: 38, offline: 0 },
          { at: '2026-12-06T18:00:00.000Z', online: 38, offline: 2 },
          { at: '2026-12-06T18:30:00.000Z', online: 38, offline: 2 },
        ],
        alerts: {
          last_24h: 3,
          recent: [
            {
              id: 981,
              at: '2026-12-06T17:58:10.000Z',
              appliance_id: 7,
              appliance_name: 'worker-7',
              kind: 'appliance.offline',
              severity: 'warning',
              message: 'appliance worker-7 is offline: connect ECONNREFUSED',
            },
          ],
        },
        rollouts: [
          {
            group_id: 2,
            group_name: 'workers',
            revision: 5,
            total: 12,
            by_status: { done: 9, pending: 3 },
          },
        ],
        upgrades: {
          in_flight: 1,
          current: {
            id: 4,
            appliance_id: 3,
            appliance_name: 'hub-1',
            version: '5.2.1',
            status: 'installing',
            started: '2026-12-06T18:27:00.000Z',
            finished: null,
          },
          recent: [],
        },
        tokens: {
          warning_days: 7,
          expiring: 1,
          soonest: [{ id: 12, name: 'siem-export', owner: 'alice', expires_at: '2026-12-09T08:00:00.000Z' }],
        },
      },
    ],
  },
);

export const summaryRoutes: FastifyPluginAsync<{ service: SummaryService }> = async (app, { service }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/summary/',
    {
      config: { permission: 'appliances:read' },
      schema: {
        tags: ['summary'],
        summary: 'The fleet at a glance',
        description:
          'What the console’s dashboard shows, in one answer: appliances by state and by configuration status, what needs attention (each item names what to open), the fleet’s state over the last 24 hours, warnings and errors of the last 24 hours, configuration rollouts and upgrades under way, and tokens about to expire. ' +
          'Every figure is counted by the database, so the answer stays fast with a large fleet (docs/benchmarks.md: 10,000 appliances). ' +
          'The fleet-wide figures are those of the last count, at most 5 seconds old while someone watches (`generated_at` says when they were taken): each replica recounts in the background every 5 s while the summary was asked for in the last minute, so no request waits for a count; the tokens section is read for every request. ' +
          'Needs `appliances:read`; the rollouts, upgrades and tokens sections are null for a credential without `configuration:read`, `upgrades:read` or `tokens:read`.',
        response: { 200: Summary, ...ErrorResponses(401, 403) },
      },
    },
    async (request) => service.get(actorOf(request)),
  );
};
