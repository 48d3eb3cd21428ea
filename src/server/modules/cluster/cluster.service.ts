// The manager cluster as its API shows it: the replicas sharing this database and the last run of
// each background job, the seed's cluster settings (audited), and the checks of another replica.
// Replicas share state through the PostgreSQL server; on the embedded database the writes and
// checks answer 409 with the steps to move (EMBEDDED_MESSAGE).

import { randomUUID } from 'node:crypto';
import type { DatabaseHandle } from '../../db/client.js';
import type { Transactor } from '../../db/transactor.js';
import { type Actor, actorUserId } from '../../shared/actor.js';
import { AppError, badField } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import { VERSION } from '../../version.js';
import type { AuditService } from '../audit/audit.service.js';
import { parseCidr } from '../identity/ip-allow.js';
import type { SettingsStore } from '../settings/settings.repo.js';
import { firstSlotAfter, pollingMembers, shareOf } from './cluster.ownership.js';
import type { ClusterRepo } from './cluster.repo.js';

/**
 * A replica whose last heartbeat is older than this is not alive: shown so, and its appliances go
 * to the others (ADR 0006). Three missed beats (every 5 s); with a 10 s poll interval a replica
 * killed with kill -9 has its appliances polled again within 15 + 10 s plus a round.
 */
export const ALIVE_MS = 15_000;
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

/** The 409 on the embedded database: what to do, step by step (docs/operations.md has the same). */
export const EMBEDDED_MESSAGE =
  'clustering needs a PostgreSQL server; this manager uses the embedded database. To move it: ' +
  '(1) on this manager, set the backup passphrase (POST /api/v1/config/backup/), then POST /api/v1/backup/create/ and GET /api/v1/backup/download/ ' +
  '(or stop it and run `steward backup create --out steward-backup.tar.gz`: the CLI does not open a data directory in use); ' +
  '(2) create an empty PostgreSQL database and run `STEWARD_DATABASE_URL=postgres://... steward migrate` with the same Steward version; ' +
  '(3) there, `STEWARD_DATABASE_URL=postgres://... steward backup restore steward-backup.tar.gz --yes` with the backup passphrase (STEWARD_BACKUP_PASSPHRASE or --passphrase-file); ' +
  "(4) start every manager with that STEWARD_DATABASE_URL and STEWARD_SECRET_KEY set to this manager's key (the hex in <data dir>/secret.key, unless STEWARD_SECRET_KEY is set already); " +
  '(5) send this request again. See docs/operations.md, "Moving from the embedded database to PostgreSQL", and the backup section of docs/administration.md.';

/** The seed's cluster settings, as POST /api/v1/cluster/create/ takes them. */
export interface ClusterCreate {
  local_ip: string;
  remote_ip: string;
  vpn_network: string;
  virtual_ip: string;
  failover_timeout: number;
}

/** The credentials and address of another replica, as POST /api/v1/cluster/exchange_keys/ takes them. */
export interface ReplicaLogin {
  local_ip: string;
  remote_ip: string;
  remote_url: string;
  user: string;
  pwd: string;
}

export interface ClusterServiceDeps {
  repo: ClusterRepo;
  tx: Transactor;
  settings: SettingsStore;
  audit: AuditService;
  clock: Clock;
  database: Pick<DatabaseHandle, 'kind' | 'ping'>;
  /** This replica: its id, when it started, and the URL it serves (known once it listens). */
  replicaId: string;
  startedAt: Date;
  address: () => string;
  /** Hears of a remote login that could not be ended; the cluster module passes the server's. */
  log?: Logger;
  /** The health-poll interval: poll rounds start on its multiples (the slots of ADR 0006). */
  pollIntervalMs: number;
}

/** What this replica's last poll round did (shown in GET /api/v1/cluster/, written with the heartbeat). */
export interface PollRound {
  polled: number;
  ms: number;
  at: Date;
}

export function createClusterService(deps: ClusterServiceDeps) {
  const { repo } = deps;
  const shared = deps.database.kind === 'postgres';
  let lastRound: PollRound | undefined;
  /** The first poll slot of this replica, fixed by its first heartbeat (rounds run on the wall clock). */
  let pollsFrom: Date | undefined;

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
    const settings = await deps.settings.get<ClusterSettings>(SETTINGS_KEY, NO_CLUSTER);
    const now = deps.clock.now().getTime();
    const rows = shared ? await repo.list() : [];
    const replicas = rows.map((r) => ({
      id: r.id,
      address: r.address,
      release: r.release,
      started_at: new Date(r.started_at).toISOString(),
      last_heartbeat: new Date(r.last_heartbeat).toISOString(),
      leader: r.leader,
      alive: now - new Date(r.last_heartbeat).getTime() < ALIVE_MS,
      self: r.id === deps.replicaId,
      polled_appliances: r.polled_appliances ?? 0,
      last_round_ms: r.last_round_ms,
      last_round_at: r.last_round_at ? new Date(r.last_round_at).toISOString() : null,
    }));
    if (!shared) {
      replicas.push({
        id: deps.replicaId,
        address: deps.address(),
        release: VERSION,
        started_at: deps.startedAt.toISOString(),
        last_heartbeat: new Date(now).toISOString(),
        leader: true,
        alive: true,
        self: true,
        polled_appliances: lastRound?.polled ?? 0,
        last_round_ms: lastRound?.ms ?? null,
        last_round_at: lastRound?.at.toISOString() ?? null,
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

  return {
    view,

    /**
     * Writes this replica's row in the registry (cluster-heartbeat job): alive now, leading or
     * not, its last poll round, and (in the first beat) the slot it polls from.
     */
    async heartbeat(leader: boolean) {
      // Wall clock, not deps.clock: the slots are those of the runner's real timers.
      pollsFrom ??= new Date(firstSlotAfter(Date.now(), deps.pollIntervalMs));
      await repo.heartbeat({
        id: deps.replicaId,
        address: deps.address(),
        release: VERSION,
        started_at: deps.startedAt,
        now: deps.clock.now(),
        leader,
        polls_from: pollsFrom,
        round: lastRound,
      });
    },
    /**
     * The appliances this replica polls in the round of the slot starting at `slotStart`: its
     * share of the fleet by rendezvous hashing over the polling replicas of the registry (ADR
     * 0006), and how many replicas share it. On the embedded database: all of them.
     */
    async fleetShare(
      slotStart: number,
    ): Promise<{ owns: (applianceId: number) => boolean; replicas: number }> {
      if (!shared) return { owns: () => true, replicas: 1 };
      const members = pollingMembers(await repo.list(), deps.clock.now(), slotStart, ALIVE_MS);
      return { owns: shareOf(deps.replicaId, members), replicas: members.length };
    },
    /**
     * The ids of the replicas alive now (a beat within ALIVE_MS), this one always among them; on
     * the embedded database, this one only. Work claimed by any other replica was left behind.
     */
    async liveReplicaIds(): Promise<string[]> {
      if (!shared) return [deps.replicaId];
      const now = deps.clock.now().getTime();
      const ids = (await repo.list())
        .filter((r) => now - new Date(r.last_heartbeat).getTime() < ALIVE_MS)
        .map((r) => r.id);
      return ids.includes(deps.replicaId) ? ids : [...ids, deps.replicaId];
    },
    /** Notes what this replica's last poll round did; the next heartbeat writes it. */
    noteRound(round: PollRound) {
      lastRound = round;
    },
    /** Forgets replicas silent since `before` (they stopped or died long ago). */
    async forgetSilentReplicas(before: Date) {
      await repo.prune(before);
    },
    /** Trims job_runs to what started after `before`. */
    async trimJobRuns(before: Date) {
      await repo.pruneJobRuns(before);
    },
    /** Removes this replica's row (it stops). */
    async leave() {
      await repo.remove(deps.replicaId);
    },

    /** Records the seed's cluster settings and gives the cluster an id (kept once given). */
    async create(actor: Actor, b: ClusterCreate) {
      needsServer();
      for (const f of ['local_ip', 'remote_ip', 'virtual_ip'] as const) {
        const c = parseCidr(b[f]);
        if (!c || b[f].includes('/')) throw badField(`body.${f}`, 'is not an IP address');
      }
      const net = parseCidr(b.vpn_network);
      if (!net || !b.vpn_network.includes('/') || net.prefix > 29) {
        throw badField('body.vpn_network', 'must be a CIDR range with a prefix of /29 or shorter');
      }
      const current = await deps.settings.get<ClusterSettings>(SETTINGS_KEY, NO_CLUSTER);
      const next: ClusterSettings = {
        ...b,
        cluster_id: current.cluster_id ?? randomUUID(),
        created_at: current.created_at ?? deps.clock.now().toISOString(),
      };
      await deps.tx.transaction(async (trx) => {
        await deps.settings.set(trx, SETTINGS_KEY, next, actorUserId(actor));
        await deps.audit.record(trx, actor, {
          action: 'cluster.created',
          targetType: 'cluster',
          targetId: next.cluster_id ?? '',
          status: 200,
          summary: `cluster settings saved (virtual IP ${b.virtual_ip})`,
        });
      });
      deps.settings.notifyChanged(SETTINGS_KEY, next);
      return view();
    },

    /**
     * Logs in to a live replica of this cluster and checks it reports the same cluster id; only a
     * registered replica may be named, so the password never goes elsewhere. Audited.
     */
    async exchangeKeys(actor: Actor, v: ReplicaLogin) {
      needsServer();
      const current = await view();
      if (!current.cluster_id)
        throw new AppError({
          code: 'conflict',
          message: 'create the cluster first (POST /api/v1/cluster/create/)',
        });
      const origin = new URL(v.remote_url).origin;
      const remote = current.replicas.find((x) => new URL(x.address).origin === origin && x.alive && !x.self);
      if (!remote)
        throw badField(
          'body.values.remote_url',
          'is not a live replica of this cluster (see GET /api/v1/cluster/)',
        );
      const messages: string[] = [];
      const remoteView = await callReplica(origin, v.user, v.pwd, messages, deps.log ?? silentLogger);
      const same = remoteView?.cluster_id === current.cluster_id;
      messages.push(same ? 'remote reports the same cluster id' : 'remote reports a different cluster');
      await deps.tx.transaction(async (trx) => {
        await deps.audit.record(trx, actor, {
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
        postgres_ssh_connect: await deps.database.ping(2000),
        rld_ssh_tunnel_connect: false,
        version_local: VERSION,
        version_remote: remote.release,
      };
    },

    /** Whether the replica at `remoteIp` is alive and the shared database reachable from here. */
    async verify(remoteIp: string) {
      needsServer();
      const current = await view();
      const remote = current.replicas.find(
        (x) => new URL(x.address).hostname.replace(/^\[|\]$/g, '') === remoteIp && !x.self,
      );
      const dbOk = await deps.database.ping(2000);
      const messages = [dbOk ? 'database reachable' : 'database unreachable'];
      if (remote)
        messages.push(
          `remote heartbeat ${Math.round((Date.parse(remote.last_heartbeat) > 0 ? deps.clock.now().getTime() - Date.parse(remote.last_heartbeat) : 0) / 1000)} s ago`,
        );
      const ok = Boolean(remote?.alive) && dbOk;
      return {
        return_code: ok ? 200 : remote ? 503 : 404,
        message: remote
          ? `replica at ${remoteIp} is ${remote.alive ? 'alive' : 'silent'}${dbOk ? ' and shares this database' : ''}`
          : `no replica with address ${remoteIp} in this cluster`,
        messages,
        reduser_ssh_connect: false,
        postgres_ssh_connect: dbOk,
        rld_ssh_tunnel_connect: false,
        version_local: VERSION,
        version_remote: remote?.release ?? null,
      };
    },
  };
}

export type ClusterService = ReturnType<typeof createClusterService>;

/** Logs in to a replica, reads its cluster view, and logs out again. */
async function callReplica(
  origin: string,
  user: string,
  pwd: string,
  messages: string[],
  log: Logger,
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
    }).catch((err: unknown) =>
      // The answer stays as it was; the operator learns that a session is left open there.
      log.warn(
        { err, replica: origin },
        'could not log out of the remote replica; the session stays open there until it times out',
      ),
    );
    messages.push('logged in to the remote replica');
    return res.ok ? ((await res.json()) as { cluster_id: string | null }) : undefined;
  } catch (err) {
    messages.push(`could not reach the remote replica: ${(err as Error).message}`);
    return undefined;
  }
}
