// The job runner: leader jobs go through runJob (job_runs), replica jobs run directly, a tick
// never overlaps the one before it, a failure is logged and the next tick still runs, and stop
// waits for the tick in flight, aborts its signal, and calls each job's stop.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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
  // Fake timers and clock: on a loaded CI host real timers fire late by most of a slot, which
  // says nothing about the runner. Here each timer fires at its time and the clock moves only
  // when the test advances it, so the counts and times below are exact.
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
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
    await vi.advanceTimersByTimeAsync(80);
    await runner.stop();
    // Ticks at 10, 20, ..., 80.
    expect(leaderRuns).toBe(8);
    expect(replicaRuns).toBe(8);
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
    await vi.advanceTimersByTimeAsync(150);
    // stop awaits the tick in flight, which sleeps on the fake clock.
    const stopped = runner.stop();
    await vi.advanceTimersByTimeAsync(20);
    await stopped;
    expect(most).toBe(1);
    // Start to start: a 20 ms tick delays the next, none piles up. Node floors the 0 ms timer
    // that follows an overrun at 1 ms: ticks at 5, 26, 47, ..., 131.
    expect(runs).toBe(7);
    expect(errors.length).toBe(4);
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
    await vi.advanceTimersByTimeAsync(20);
    await runner.stop();
    expect(events).toEqual(['start', 'run', 'aborted', 'stop']);
    // Nothing runs after stop.
    await vi.advanceTimersByTimeAsync(20);
    expect(events.length).toBe(4);
  });

  it('ticks an aligned job on the multiples of its interval, and skips a slot it overran', async () => {
    const every = 100;
    const origin = 1_000_000 * every;
    vi.setSystemTime(origin + 37); // mid-slot: the first tick waits for the boundary
    const { log } = recorder();
    const runner = createJobRunner({ leader: { runJob: async () => false }, log });
    const starts: number[] = [];
    await runner.start([
      {
        name: 'slots',
        every,
        align: true,
        scope: 'replica',
        run: async () => {
          starts.push(Date.now() - origin);
          // The third tick overruns its slot: the next one waits for the boundary after.
          if (starts.length === 3) await sleep(every + every / 2);
        },
      },
    ]);
    await vi.advanceTimersByTimeAsync(every * 7);
    await runner.stop();
    // Slots 1, 2, 3; the third runs until 450, so slot 4 is skipped; then 5, 6, 7.
    expect(starts).toEqual([100, 200, 300, 500, 600, 700]);
  });
});
