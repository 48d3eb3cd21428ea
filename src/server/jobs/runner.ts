// The one job runner. A job is a name, an interval, a scope and a `run`: `leader` jobs run once
// across replicas, each tick through `leader.runJob` (only on the replica holding the jobs lease,
// always on the embedded database; recorded in job_runs, which GET /api/v1/cluster/ lists);
// `replica` jobs run on every replica (its own heartbeat, its own host, its share of the fleet).
// Ticks are measured start to start and never overlap: a tick that overruns the interval delays
// the next one instead of piling up. An `align`ed job ticks on the multiples of its interval on
// the wall clock instead, so the replicas' ticks line up (the poll slots of ADR 0006); one that
// overruns its slot skips to the next boundary. A failed tick is logged with the job's name and the next one runs as
// planned. buildApp starts the runner after listen (app.startJobs) and stops it on close:
// timers cleared, the ticks in flight awaited (told to stop through their AbortSignal), then
// each job's own `stop`.

import type { LeaderLease } from '../db/leases.js';
import type { Logger } from '../shared/logger.js';

export interface Job {
  /** The job's name in job_runs and in the logs (`fleet_health`, `retention`, ...). */
  name: string;
  /** Milliseconds from the start of one tick to the start of the next. */
  every: number;
  /** Milliseconds before the first tick (default: `every`). */
  first?: number;
  scope: 'leader' | 'replica';
  /**
   * Tick on the multiples of `every` on the wall clock (every replica at the same moments),
   * not `every` after the last start; `first` is ignored.
   */
  align?: boolean;
  /** One tick. `signal` is aborted when the runner stops. */
  run(signal: AbortSignal): Promise<unknown>;
  /** Before the first tick (the heartbeat's first beat); a failure stops the start. */
  start?(): Promise<void>;
  /** After the last tick, when the runner stops (the heartbeat's goodbye). */
  stop?(): Promise<void>;
}

export interface JobRunnerDeps {
  leader: Pick<LeaderLease, 'runJob'>;
  log: Logger;
}

export interface JobRunner {
  start(jobs: readonly Job[]): Promise<void>;
  stop(): Promise<void>;
}

interface Scheduled {
  job: Job;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
}

export function createJobRunner(deps: JobRunnerDeps): JobRunner {
  const abort = new AbortController();
  const scheduled: Scheduled[] = [];
  let started = false;
  let stopped = false;

  function tick(s: Scheduled) {
    s.timer = undefined;
    const begun = performance.now();
    const run = () => s.job.run(abort.signal);
    s.running = Promise.resolve()
      .then(() => (s.job.scope === 'leader' ? deps.leader.runJob(s.job.name, run) : run()))
      .then(
        () => undefined,
        (err: unknown) => {
          deps.log.error({ err, job: s.job.name }, `job ${s.job.name} failed`);
        },
      )
      .finally(() => {
        s.running = undefined;
        schedule(
          s,
          s.job.align ? untilBoundary(s.job.every) : Math.max(0, s.job.every - (performance.now() - begun)),
        );
      });
  }

  /** Milliseconds to the next multiple of `every` on the wall clock. */
  function untilBoundary(every: number) {
    return every - (Date.now() % every);
  }

  function schedule(s: Scheduled, delayMs: number) {
    if (stopped) return;
    s.timer = setTimeout(() => tick(s), delayMs);
    s.timer.unref();
  }

  return {
    async start(jobs) {
      if (started) throw new Error('the job runner has started already');
      started = true;
      for (const job of jobs) {
        if (stopped) return;
        await job.start?.();
        const s: Scheduled = { job, timer: undefined, running: undefined };
        scheduled.push(s);
        schedule(s, job.align ? untilBoundary(job.every) : (job.first ?? job.every));
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      for (const s of scheduled) if (s.timer) clearTimeout(s.timer);
      await Promise.all(scheduled.map((s) => s.running));
      for (const s of scheduled) {
        await s.job.stop?.().catch((err: unknown) => {
          deps.log.error({ err, job: s.job.name }, `job ${s.job.name} did not stop cleanly`);
        });
      }
    },
  };
}
