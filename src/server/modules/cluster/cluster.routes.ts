// The cluster endpoints (ADR 0003 maps the seed's primary/secondary pair with a virtual IP onto
// replicas sharing a PostgreSQL server): schemas, permissions, and one service call each.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/actor.js';
import { ErrorResponses, Nullable, StrictObject } from '../../http/schemas.js';
import type { ClusterService } from './cluster.service.js';

const Ip = Type.String({ maxLength: 45, description: 'An IPv4 or IPv6 address' });
const Replica = Type.Object({
  id: Type.String(),
  address: Type.String({ description: 'URL the replica serves' }),
  release: Type.String(),
  started_at: Type.String({ format: 'date-time' }),
  last_heartbeat: Type.String({ format: 'date-time' }),
  leader: Type.Boolean({
    description: 'Runs the background jobs that must run once (retention, alerts, expiry warnings)',
  }),
  alive: Type.Boolean({
    description:
      'Heartbeat within the last 15 s. Only live replicas poll appliances; a replica silent for longer hands its share to the others at their next round.',
  }),
  self: Type.Boolean({ description: 'The replica answering this request' }),
  polled_appliances: Type.Integer({
    minimum: 0,
    description:
      "Appliances its last health round polled: its share of the fleet (rendezvous hashing over the live replicas, ADR 0006). Over the live replicas these add up to the authorized appliances (a membership change shows after the next round and heartbeat, within about 15 s). Written with the replica's heartbeat (every 5 s).",
  }),
  last_round_ms: Nullable(Type.Integer({ minimum: 0 }), {
    description: 'How long its last health round took, in milliseconds; null before its first round',
  }),
  last_round_at: Nullable(Type.String({ format: 'date-time' }), {
    description: 'When its last health round ended; null before its first round',
  }),
});
const JobRun = Type.Object({
  job: Type.String({
    description: 'retention or token_expiry (health polling runs on every replica: see `replicas`)',
  }),
  replica_id: Type.String({ description: 'The replica that ran the last tick (the leader then)' }),
  last_started_at: Type.String({ format: 'date-time' }),
  last_finished_at: Nullable(Type.String({ format: 'date-time' }), {
    description: 'Null while the tick runs (or if its replica died during it)',
  }),
  last_ok: Nullable(Type.Boolean()),
  runs_last_hour: Type.Integer({ description: 'Ticks run across the cluster in the last hour' }),
});
const ClusterView = Type.Object(
  {
    mode: Type.Union([Type.Literal('embedded'), Type.Literal('shared_database')]),
    cluster_id: Nullable(Type.String()),
    settings: Type.Record(Type.String(), Type.Unknown()),
    replicas: Type.Array(Replica),
    jobs: Type.Array(JobRun, {
      description:
        'Background jobs that run once across the cluster, on the leader: the last run of each (job_runs keeps a day). Health polling is not among them: every replica polls its share.',
    }),
  },
  {
    examples: [
      {
        mode: 'shared_database',
        cluster_id: '0b6f0c1e-5d0e-4c55-9d7b-3f2f3c1b9a10',
        settings: { virtual_ip: '192.0.2.10', failover_timeout: 3 },
        replicas: [
          {
            id: 'a1',
            address: 'https://192.0.2.11:8443',
            release: '0.1.0',
            started_at: '2026-11-24T10:00:00.000Z',
            last_heartbeat: '2026-11-24T10:05:00.000Z',
            leader: true,
            alive: true,
            self: true,
            polled_appliances: 5012,
            last_round_ms: 2140,
            last_round_at: '2026-11-24T10:04:52.140Z',
          },
          {
            id: 'b2',
            address: 'https://192.0.2.12:8443',
            release: '0.1.0',
            started_at: '2026-11-24T10:01:00.000Z',
            last_heartbeat: '2026-11-24T10:04:58.000Z',
            leader: false,
            alive: true,
            self: false,
            polled_appliances: 4988,
            last_round_ms: 2093,
            last_round_at: '2026-11-24T10:04:52.093Z',
          },
        ],
        jobs: [
          {
            job: 'retention',
            replica_id: 'a1',
            last_started_at: '2026-11-24T10:00:30.000Z',
            last_finished_at: '2026-11-24T10:00:30.420Z',
            last_ok: true,
            runs_last_hour: 1,
          },
        ],
      },
    ],
  },
);

const VerifyResponse = Type.Object(
  {
    return_code: Type.Integer(),
    message: Type.String(),
    messages: Type.Array(Type.String()),
    reduser_ssh_connect: Type.Boolean({ description: 'Always false: replicas share a database, not SSH' }),
    postgres_ssh_connect: Type.Boolean({ description: 'The shared database is reachable from this replica' }),
    rld_ssh_tunnel_connect: Type.Boolean({ description: 'Always false: no tunnel is needed' }),
    version_local: Type.String(),
    version_remote: Nullable(Type.String()),
  },
  {
    examples: [
      {
        return_code: 200,
        message: 'replica at 192.0.2.12 is alive and shares this database',
        messages: ['database reachable', 'remote heartbeat 2 s ago'],
        reduser_ssh_connect: false,
        postgres_ssh_connect: true,
        rld_ssh_tunnel_connect: false,
        version_local: '0.1.0',
        version_remote: '0.1.0',
      },
    ],
  },
);

export const clusterRoutes: FastifyPluginAsync<{ service: ClusterService }> = async (app, { service }) => {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/cluster/',
    {
      config: { permission: 'cluster:read' },
      schema: {
        tags: ['cluster'],
        summary: 'List the manager replicas',
        description:
          'Every manager process sharing this database: address, release, last heartbeat, which one leads (runs the jobs that must run once: retention, alerts, expiry warnings, recorded in `jobs`), ' +
          'and how many appliances each polls (`polled_appliances`) and how long its last round took (`last_round_ms`). ' +
          'Every live replica polls a share of the fleet, by rendezvous hashing of the appliance id over the live replicas (ADR 0006); over the live replicas the shares add up to the authorized appliances. ' +
          'On the embedded database there is exactly one replica, and it polls every appliance.',
        response: { 200: ClusterView, ...ErrorResponses(401, 403) },
      },
    },
    async () => service.view(),
  );

  r.post(
    '/api/v1/cluster/create/',
    {
      config: { permission: 'cluster:write' },
      schema: {
        tags: ['cluster'],
        summary: 'Create the manager cluster',
        description:
          'Records the cluster settings of the seed (addresses, VPN range, virtual IP, failover timeout) and gives the cluster an id. ' +
          'Replicas share state through the PostgreSQL server, so any number may join: start them with the same STEWARD_DATABASE_URL. ' +
          'The virtual IP and failover belong to the load balancer in front (docs/operations.md). Needs a PostgreSQL server (409 on the embedded database).',
        body: StrictObject(
          {
            local_ip: Ip,
            remote_ip: Ip,
            vpn_network: Type.String({ maxLength: 50, description: 'CIDR range, prefix /29 or shorter' }),
            virtual_ip: Ip,
            failover_timeout: Type.Integer({ minimum: 1, maximum: 300, description: 'Seconds' }),
          },
          {
            examples: [
              {
                local_ip: '192.0.2.11',
                remote_ip: '192.0.2.12',
                vpn_network: '10.99.0.0/29',
                virtual_ip: '192.0.2.10',
                failover_timeout: 3,
              },
            ],
          },
        ),
        response: { 200: ClusterView, ...ErrorResponses(400, 401, 403, 409) },
      },
    },
    async (request) => service.create(actorOf(request), request.body),
  );

  r.post(
    '/api/v1/cluster/exchange_keys/',
    {
      config: { permission: 'cluster:write' },
      schema: {
        tags: ['cluster'],
        summary: 'Authenticate with another replica',
        description:
          'Logs in to the replica at `remote_url` with `user`/`pwd` and checks that it reports the same cluster id, i.e. that both share this database. ' +
          'Only a replica registered in this cluster (see GET /api/v1/cluster/) may be named, so the password never goes elsewhere; it is not stored.',
        body: StrictObject(
          {
            values: StrictObject({
              local_ip: Ip,
              remote_ip: Ip,
              remote_url: Type.String({ format: 'uri', maxLength: 300 }),
              user: Type.String({ minLength: 1, maxLength: 150 }),
              pwd: Type.String({ minLength: 1, maxLength: 1024 }),
            }),
          },
          {
            examples: [
              {
                values: {
                  local_ip: '192.0.2.11',
                  remote_ip: '192.0.2.12',
                  remote_url: 'https://192.0.2.12:8443',
                  user: 'admin',
                  pwd: '…',
                },
              },
            ],
          },
        ),
        response: { 200: VerifyResponse, ...ErrorResponses(400, 401, 403, 409) },
      },
    },
    async (request) => service.exchangeKeys(actorOf(request), request.body.values),
  );

  r.post(
    '/api/v1/cluster/verify/',
    {
      config: { permission: 'cluster:read' },
      schema: {
        tags: ['cluster'],
        summary: 'Check another replica',
        description:
          'For the replica whose address has `remote_ip`: is it alive (heartbeat), is the shared database reachable from here, and which releases run where. ' +
          "The seed's SSH checks do not apply to replicas sharing a database and are answered false.",
        body: StrictObject(
          { remote_ip: Ip, section: Type.Union([Type.Literal('ssh'), Type.Literal('versions')]) },
          { examples: [{ remote_ip: '192.0.2.12', section: 'versions' }] },
        ),
        response: { 200: VerifyResponse, ...ErrorResponses(400, 401, 403, 409) },
      },
    },
    async (request) => service.verify(request.body.remote_ip),
  );
};
