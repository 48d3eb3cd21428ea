// The SNMP section's thresholds, checked on this manager's host: load averages (as a percentage
// of the CPU count), used memory and used disk of the data directory. Crossing a threshold sends
// one hostThreshold trap (and a syslog warning); the metric must fall back below it before it can
// trap again. Every replica watches its own host: a `replica` job of the runner.

import { statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { TrapSender } from '../modules/notifications/snmp-traps.js';
import type { SyslogClient } from '../modules/notifications/syslog.js';
import type { Job } from './runner.js';

export type Metric = 'load_1min' | 'load_5min' | 'load_15min' | 'memory' | 'disk';

/** Current values, in percent. */
export type Sample = Record<Metric, number>;

const THRESHOLD_FIELD: Record<Metric, string> = {
  load_1min: 'trap_avg_load_threshold_1min',
  load_5min: 'trap_avg_load_threshold_5min',
  load_15min: 'trap_avg_load_threshold_15min',
  memory: 'trap_memory_threshold',
  disk: 'trap_disk_threshold',
};

export async function sampleHost(dataDir: string): Promise<Sample> {
  const n = Math.max(1, cpus().length);
  const [l1, l5, l15] = loadavg() as [number, number, number];
  const fs = await statfs(dataDir);
  return {
    load_1min: (l1 / n) * 100,
    load_5min: (l5 / n) * 100,
    load_15min: (l15 / n) * 100,
    memory: (1 - freemem() / totalmem()) * 100,
    disk: fs.blocks > 0 ? (1 - fs.bavail / fs.blocks) * 100 : 0,
  };
}

export interface ThresholdDeps {
  /** The SNMP section. */
  settings: () => Promise<Record<string, unknown>>;
  sample: () => Promise<Sample>;
  traps: TrapSender;
  syslog: Pick<SyslogClient, 'send'>;
}

export function createThresholdWatch(deps: ThresholdDeps) {
  const above = new Set<Metric>();
  return {
    /** One check; returns the metrics that crossed their threshold now. */
    async check(): Promise<Metric[]> {
      const s = await deps.settings();
      if (s.trap_sink_enable !== true) {
        above.clear();
        return [];
      }
      const sample = await deps.sample();
      const crossed: Metric[] = [];
      for (const metric of Object.keys(THRESHOLD_FIELD) as Metric[]) {
        const threshold = Number(s[THRESHOLD_FIELD[metric]] ?? 0);
        const value = sample[metric];
        if (!(threshold > 0) || value < threshold) {
          above.delete(metric);
          continue;
        }
        if (above.has(metric)) continue;
        above.add(metric);
        crossed.push(metric);
        const message = `${metric.replace('_', ' ')} at ${value.toFixed(1)}% is over the ${threshold}% threshold`;
        void deps.syslog.send({
          severity: 4,
          msgId: 'host.threshold',
          message,
          data: { metric, value: value.toFixed(1), threshold },
        });
        await deps.traps.send('hostThreshold', {
          message,
          metric,
          value: Math.round(value),
          threshold: Math.round(threshold),
        });
      }
      return crossed;
    },
  };
}

/** The job: one check every `every` ms on this replica. */
export function hostThresholdsJob(
  deps: Omit<ThresholdDeps, 'sample'> & { dataDir: string; every: number },
): Job {
  const watch = createThresholdWatch({ ...deps, sample: () => sampleHost(deps.dataDir) });
  return { name: 'host_thresholds', every: deps.every, scope: 'replica', run: () => watch.check() };
}
