// Several managers on one PostgreSQL server (active/active replicas behind a load balancer).
// Each replica registers itself and sends a heartbeat; one of them holds the jobs lease and
// runs the background jobs. The seed's cluster endpoints (a primary/secondary pair with a
// virtual IP) are mapped onto this design in ADR 0003.

import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { LeaderLease } from '../../db/leases.js';
import { actorOf } from '../../http/actor.js';
import { ErrorResponses, Nullable, StrictObject } from '../../http/schemas.js';
import { AppError, badField } from '../../shared/app-error.js';
import { VERSION } from '../../version.js';
import { parseCidr } from '../identity/ip-allow.js';
import type { ModuleContext, StewardModule } from '../module.js';
import { createClusterRepo } from './cluster.repo.js';

const HEARTBEAT_MS = 5000;
const ALIVE_MS = 15_000;
const SETTINGS_KEY = 'cluster';

interface ClusterSettings {
  cluster_id: string | null;
  local_ip: string | null;
  remote_ip: string | null;
  vpn_network: string | null;
  virtual_ip: string | null;
  failover_timeout: number | null;
  created_at: string | null;
}
const NO_CLUSTER: ClusterSettings = {
  cluster_id: null,
  local_ip: null,
  remote_ip: null,
  vpn_network: null,
  virtual_ip: null,
  failover_timeout: null,
  created_at: null,
};

const Ip = Type.String({ maxLength: 45, description: 'An IPv4 or IPv6 address' });
const Replica = Type.Object({
  id: Type.String(),
  address: Type.String({ description: 'URL the replica serves' }),
  release: Type.String(),
  started_at: Type.String({ format: 'date-time' }),
  last_heartbeat: Type.String({ format: 'date-time' }),
  leader: Type.Boolean({ description: 'Runs the background jobs' }),
  alive: Type.Boolean({ description: 'Heartbeat within the last 15 s' }),
  self: Type.Boolean({ description: 'The replica answering this request' }),
});
const JobRun = Type.Object({
  job: Type.String({ description: 'fleet_health (health polling) or retention' }),
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
        'Background jobs that run once across the cluster, on the leader: the last run of each (job_runs keeps a day)',
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
          },
        ],
        jobs: [
          {
            job: 'fleet_health',
            replica_id: 'a1',
            last_started_at: '2026-11-24T10:04:58.000Z',
            last_finished_at: '2026-11-24T10:04:58.120Z',
            last_ok: true,
            runs_last_hour: 360,
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

/** The 409 on the embedded database: what to do, step by step (docs/operations.md has the same). */
export const EMBEDDED_MESSAGE =
  'clustering needs a PostgreSQL server; this manager uses the embedded database. To move it: ' +
  '(1) on this manager, set the backup passphrase (POST /api/v1/config/backup/), then POST /api/v1/backup/create/ and GET /api/v1/backup/download/ ' +
  '(or stop it and run `steward backup create --out steward-backup.tar.gz`: the CLI does not open a data directory in use); ' +
  '(2) create an empty PostgreSQL database and run `STEWARD_DATABASE_URL=postgres://... steward migrate` with the same Steward version; ' +
  '(3) there, `STEWARD_DATABASE_URL=postgres://... steward backup restore steward-backup.tar.gz --yes` with the backup passphrase (STEWARD_BACKUP_PASSPHRASE or --passphrase-file); ' +
  "(4) start every manager with that STEWARD_DATABASE_URL and STEWARD_SECRET_KEY set to this manager's key (the hex in <data dir>/secret.key, unless STEWARD_SECRET_KEY is set already); " +
  '(5) send this request again. See docs/operations.md, "Moving from the embedded database to PostgreSQL", and the backup section of docs/administration.md.';

export function createClusterModule(
  ctx: ModuleContext & { lease: LeaderLease; replicaId?: string },
): StewardModule {
  const repo = createClusterRepo(ctx.db);
  const replicaId = ctx.replicaId ?? randomUUID();
  const startedAt = ctx.clock.now();
  let address = 'unknown';
  let timer: NodeJS.Timeout | undefined;
  const shared = ctx.database.kind === 'postgres';

  const needsServer = () => {
    if (!shared) {
      throw new AppError({
        code: 'conflict',
        message: EMBEDDED_MESSAGE,
        details: { docs: 'docs/operations.md#moving-from-the-embedded-database-to-postgresql' },
      });
    }
  };

  async function view() {
    const settings = await ctx.settings.get<ClusterSettings>(SETTINGS_KEY, NO_CLUSTER);
    const now = ctx.clock.now().getTime();
    const rows = shared ? await repo.list() : [];
    const replicas = rows.map((r) => ({
      id: r.id,
      address: r.address,
      release: r.release,
      started_at: new Date(r.started_at).toISOString(),
      last_heartbeat: new Date(r.last_heartbeat).toISOString(),
      leader: r.leader,
      alive: now - new Date(r.last_heartbeat).getTime() < ALIVE_MS,
      self: r.id === replicaId,
    }));
    if (!shared) {
      replicas.push({
        id: replicaId,
        address,
        release: VERSION,
        started_at: startedAt.toISOString(),
        last_heartbeat: new Date(now).toISOString(),
        leader: true,
        alive: true,
        self: true,
      });
    }
    const { cluster_id, ...rest } = settings;
    const jobs = (await repo.jobs(new Date(now - 3600_000))).map((j) => ({
      job: j.job,
      replica_id: j.replica_id,
      last_started_at: new Date(j.started_at).toISOString(),
      last_finished_at: j.finished_at ? new Date(j.finished_at).toISOString() : null,
      last_ok: j.ok,
      runs_last_hour: j.runs,
    }));
    return {
      mode: shared ? ('shared_database' as const) : ('embedded' as const),
      cluster_id,
      settings: rest,
      replicas,
      jobs,
    };
  }

  async function beat() {
    await repo
      .heartbeat({
        id: replicaId,
        address,
        release: VERSION,
        started_at: startedAt,
        now: ctx.clock.now(),
        leader: ctx.lease.isLeader(),
      })
      .catch(() => {});
  }

  return {
    async start(app: FastifyInstance) {
      const a = app.server.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      const host =
        typeof a === 'object' && a && a.address !== '0.0.0.0' && a.address !== '::' ? a.address : '127.0.0.1';
      address = `${app.initialConfig.https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
      if (shared) {
        await beat();
        ctx.lease.onChange(() => void beat());
      }
      timer = setInterval(() => {
        const dayAgo = new Date(ctx.clock.now().getTime() - 24 * 3600_000);
        if (shared) {
          void beat();
          void repo.prune(dayAgo).catch(() => {});
        }
        // job_runs keeps a day (a row every health-poll interval: about 8,640 a day at 10 s).
        if (ctx.lease.isLeader()) void repo.pruneJobRuns(dayAgo).catch(() => {});
      }, HEARTBEAT_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      if (shared) await repo.remove(replicaId).catch(() => {});
    },
    routes: async (app) => {
      const r = app.withTypeProvider<TypeBoxTypeProvider>();
      r.get(
        '/api/v1/cluster/',
        {
          config: { permission: 'cluster:read' },
          schema: {
            tags: ['cluster'],
            summary: 'List the manager replicas',
            description:
              'Every manager process sharing this database: address, release, last heartbeat, and which one leads (runs the background jobs). On the embedded database there is exactly one.',
            response: { 200: ClusterView, ...ErrorResponses(401, 403) },
          },
        },
        async () => view(),
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
        async (request) => {
          needsServer();
          const b = request.body;
          for (const f of ['local_ip', 'remote_ip', 'virtual_ip'] as const) {
            const c = parseCidr(b[f]);
            if (!c || b[f].includes('/')) throw badField(`body.${f}`, 'is not an IP address');
          }
          const net = parseCidr(b.vpn_network);
          if (!net || !b.vpn_network.includes('/') || net.prefix > 29) {
            throw badField('body.vpn_network', 'must be a CIDR range with a prefix of /29 or shorter');
          }
          const current = await ctx.settings.get<ClusterSettings>(SETTINGS_KEY, NO_CLUSTER);
          const next: ClusterSettings = {
            ...b,
            cluster_id: current.cluster_id ?? randomUUID(),
            created_at: current.created_at ?? ctx.clock.now().toISOString(),
          };
          await ctx.db.transaction().execute(async (trx) => {
            await ctx.settings.set(trx, SETTINGS_KEY, next, request.principal?.userId ?? null);
            await ctx.audit.record(trx, actorOf(request), {
              action: 'cluster.created',
              targetType: 'cluster',
              targetId: next.cluster_id ?? '',
              status: 200,
              summary: `cluster settings saved (virtual IP ${b.virtual_ip})`,
            });
          });
          ctx.settings.notifyChanged(SETTINGS_KEY, next);
          return view();
        },
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
        async (request) => {
          needsServer();
          const v = request.body.values;
          const current = await view();
          if (!current.cluster_id)
            throw new AppError({
              code: 'conflict',
              message: 'create the cluster first (POST /api/v1/cluster/create/)',
            });
          const origin = new URL(v.remote_url).origin;
          const remote = current.replicas.find(
            (x) => new URL(x.address).origin === origin && x.alive && !x.self,
          );
          if (!remote)
            throw badField(
              'body.values.remote_url',
              'is not a live replica of this cluster (see GET /api/v1/cluster/)',
            );
          const messages: string[] = [];
          const remoteView = await callReplica(origin, v.user, v.pwd, messages);
          const same = remoteView?.cluster_id === current.cluster_id;
          messages.push(same ? 'remote reports the same cluster id' : 'remote reports a different cluster');
          await ctx.db.transaction().execute(async (trx) => {
            await ctx.audit.record(trx, actorOf(request), {
              action: 'cluster.keys_exchanged',
              outcome: same ? 'success' : 'failure',
              targetType: 'replica',
              targetId: remote.id,
              status: 200,
              summary: `authenticated with replica ${origin}: ${same ? 'same cluster' : 'failed'}`,
            });
          });
          return {
            return_code: same ? 200 : 409,
            message: same
              ? `replica ${origin} is part of this cluster`
              : `replica ${origin} could not be verified`,
            messages,
            reduser_ssh_connect: false,
            postgres_ssh_connect: await ctx.database.ping(2000),
            rld_ssh_tunnel_connect: false,
            version_local: VERSION,
            version_remote: remote.release,
          };
        },
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
        async (request) => {
          needsServer();
          const current = await view();
          const remote = current.replicas.find(
            (x) => new URL(x.address).hostname.replace(/^\[|\]$/g, '') === request.body.remote_ip && !x.self,
          );
          const dbOk = await ctx.database.ping(2000);
          const messages = [dbOk ? 'database reachable' : 'database unreachable'];
          if (remote)
            messages.push(
              `remote heartbeat ${Math.round((Date.parse(remote.last_heartbeat) > 0 ? ctx.clock.now().getTime() - Date.parse(remote.last_heartbeat) : 0) / 1000)} s ago`,
            );
          const ok = Boolean(remote?.alive) && dbOk;
          return {
            return_code: ok ? 200 : remote ? 503 : 404,
            message: remote
              ? `replica at ${request.body.remote_ip} is ${remote.alive ? 'alive' : 'silent'}${dbOk ? ' and shares this database' : ''}`
              : `no replica with address ${request.body.remote_ip} in this cluster`,
            messages,
            reduser_ssh_connect: false,
            postgres_ssh_connect: dbOk,
            rld_ssh_tunnel_connect: false,
            version_local: VERSION,
            version_remote: remote?.release ?? null,
          };
        },
      );
    },
  };
}

/** Logs in to a replica, reads its cluster view, and logs out again. */
async function callReplica(
  origin: string,
  user: string,
  pwd: string,
  messages: string[],
): Promise<{ cluster_id: string | null } | undefined> {
  const signal = AbortSignal.timeout(5000);
  try {
    const login = await fetch(`${origin}/api/v1/auth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user, password: pwd }),
      signal,
    });
    if (!login.ok) {
      messages.push(`login to the remote replica failed with ${login.status}`);
      return undefined;
    }
    const { token } = (await login.json()) as { token: string };
    const res = await fetch(`${origin}/api/v1/cluster/`, {
      headers: { authorization: `Token ${token}` },
      signal,
    });
    await fetch(`${origin}/api/v1/auth/logout/`, {
      method: 'POST',
      headers: { authorization: `Token ${token}` },
      signal,
    }).catch(() => {});
    messages.push('logged in to the remote replica');
    return res.ok ? ((await res.json()) as { cluster_id: string | null }) : undefined;
  } catch (err) {
    messages.push(`could not reach the remote replica: ${(err as Error).message}`);
    return undefined;
  }
}
