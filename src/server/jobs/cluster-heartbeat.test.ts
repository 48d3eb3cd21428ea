// The heartbeat job: a beat every tick (with the lease's answer), the housekeeping (forgetting
// silent replicas, trimming job_runs on the leader) once a minute, and no beat after the goodbye.
import { describe, expect, it } from 'vitest';
import { systemClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import { clusterHeartbeatJob } from './cluster-heartbeat.js';

function fakes(leader: boolean) {
  const calls: string[] = [];
  const job = clusterHeartbeatJob({
    cluster: {
      heartbeat: async (l) => void calls.push(`beat ${l}`),
      forgetSilentReplicas: async () => void calls.push('forget'),
      trimJobRuns: async () => void calls.push('trim'),
      leave: async () => void calls.push('leave'),
    },
    lease: { isLeader: () => leader, onChange: () => {} },
    clock: systemClock,
    shared: true,
    every: 5000,
    log: silentLogger,
  });
  return { calls, job };
}

describe('cluster heartbeat job', () => {
  it('beats every tick and keeps house once a minute', async () => {
    const { calls, job } = fakes(true);
    const signal = new AbortController().signal;
    await job.run(signal);
    await job.run(signal);
    await job.run(signal);
    expect(calls).toEqual(['beat true', 'forget', 'trim', 'beat true', 'beat true']);
  });

  it('trims job_runs only on the leader, and beats no more after leaving', async () => {
    const { calls, job } = fakes(false);
    await job.run(new AbortController().signal);
    await job.stop?.();
    await job.run(new AbortController().signal);
    expect(calls).toEqual(['beat false', 'forget', 'leave']);
  });
});
