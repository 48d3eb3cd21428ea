// The job runner: leader jobs go through runJob (job_runs), replica jobs run directly, a tick
// never overlaps the one before it, a failure is logged and the next tick still runs, and stop
// waits for the tick in flight, aborts its signal, and calls each job's stop.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../shared/logger.js';
import { createJobRunner, type Job } from './runner.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder() {
  const errors: { job: unknown; message: string }[] = [];
  const log: Logger = {
    debug() {},
    info() {},
    warn() {},
    error(a: string | object, msg?: string) {
      errors.push({
        job: typeof a === 'object' ? (a as { job?: unknown }).job : undefined,
        message: msg ?? '',
      });
    },
  };
  return { log, errors };
}

describe('job runner', () => {
  it('runs leader jobs through runJob and replica jobs directly', async () => {
    const viaLease: string[] = [];
    const { log } = recorder();
    const runner = createJobRunner({
      leader: {
        runJob: async (name, fn) => {
          viaLease.push(name);
          await fn();
          return true;
        },
      },
      log,
    });
    let leaderRuns = 0;
    let replicaRuns = 0;
    await runner.start([
      { name: 'lead', every: 10, scope: 'leader', run: async () => void leaderRuns++ },
      { name: 'mine', every: 10, scope: 'replica', run: async () => void replicaRuns++ },
    ]);
    await sleep(80);
    await runner.stop();
    expect(leaderRuns).toBeGreaterThan(1);
    expect(replicaRuns).toBeGreaterThan(1);
    expect(new Set(viaLease)).toEqual(new Set(['lead']));
    expect(viaLease.length).toBe(leaderRuns);
  });

  it('never overlaps a tick with the one before, logs failures and goes on', async () => {
    const { log, errors } = recorder();
    const runner = createJobRunner({ leader: { runJob: async () => false }, log });
    let inFlight = 0;
    let most = 0;
    let runs = 0;
    await runner.start([
      {
        name: 'slow',
        every: 5,
        scope: 'replica',
        run: async () => {
          inFlight++;
          most = Math.max(most, inFlight);
          runs++;
          await sleep(20);
          inFlight--;
          if (runs % 2 === 1) throw new Error('odd run');
        },
      },
    ]);
    await sleep(150);
    await runner.stop();
    expect(most).toBe(1);
    expect(runs).toBeGreaterThan(2);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toEqual({ job: 'slow', message: 'job slow failed' });
  });

  it('stops cleanly: awaits the tick in flight, aborts its signal, then calls stop', async () => {
    const { log } = recorder();
    const runner = createJobRunner({ leader: { runJob: async () => false }, log });
    const events: string[] = [];
    const job: Job = {
      name: 'long',
      every: 1,
      first: 0,
      scope: 'replica',
      start: async () => void events.push('start'),
      run: async (signal) => {
        events.push('run');
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        events.push('aborted');
      },
      stop: async () => void events.push('stop'),
    };
    await runner.start([job]);
    await sleep(20);
    await runner.stop();
    expect(events).toEqual(['start', 'run', 'aborted', 'stop']);
    // Nothing runs after stop.
    await sleep(20);
    expect(events.length).toBe(4);
  });

  it('ticks an aligned job on the multiples of its interval, and skips a slot it overran', async () => {
    const { log } = recorder();
    const runner = createJobRunner({ leader: { runJob: async () => false }, log });
    const every = 100;
    const starts: number[] = [];
    await runner.start([
      {
        name: 'slots',
        every,
        align: true,
        scope: 'replica',
        run: async () => {
          starts.push(Date.now());
          // The third tick overruns its slot: the next one waits for the boundary after.
          if (starts.length === 3) await sleep(every + every / 2);
        },
      },
    ]);
    await sleep(every * 7);
    await runner.stop();
    expect(starts.length).toBeGreaterThanOrEqual(3);
    // Timers fire at or after their time: each tick lies within the first part of a slot.
    for (const t of starts) expect(t % every).toBeLessThan(every / 2);
    const slots = starts.map((t) => Math.floor(t / every));
    expect(new Set(slots).size).toBe(slots.length);
    const third = slots[2] as number;
    // The slot it overran into is skipped (a loaded host may delay the next tick further).
    if (slots.length > 3) expect((slots[3] as number) - third).toBeGreaterThanOrEqual(2);
  });
});
