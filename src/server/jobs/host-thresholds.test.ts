// Threshold traps are edge-triggered: one trap when a metric crosses its threshold, none while it
// stays above, another only after it fell below and crossed again. 0 turns a threshold off.
import { describe, expect, it } from 'vitest';
import type { TrapSender } from '../modules/notifications/snmp-traps.js';
import { createThresholdWatch, type Sample, sampleHost } from './host-thresholds.js';

describe('threshold watch', () => {
  it('traps on crossing, re-arms below the threshold, ignores thresholds of 0', async () => {
    const sent: { kind: string; metric: unknown; value: unknown }[] = [];
    const traps: TrapSender = {
      send: async (kind, v) => {
        sent.push({ kind, metric: v.metric, value: v.value });
        return true;
      },
    };
    let sample: Sample = { load_1min: 10, load_5min: 10, load_15min: 10, memory: 50, disk: 95 };
    let settings: Record<string, unknown> = {
      trap_sink_enable: true,
      trap_avg_load_threshold_1min: 90,
      trap_avg_load_threshold_5min: 80,
      trap_avg_load_threshold_15min: 0,
      trap_memory_threshold: 90,
      trap_disk_threshold: 90,
    };
    const w = createThresholdWatch({
      settings: async () => settings,
      sample: async () => sample,
      traps,
      syslog: { send: async () => true },
    });
    expect(await w.check()).toEqual(['disk']);
    expect(await w.check()).toEqual([]);
    sample = { ...sample, disk: 80, load_15min: 500, memory: 91 };
    expect(await w.check()).toEqual(['memory']);
    sample = { ...sample, disk: 96 };
    expect(await w.check()).toEqual(['disk']);
    expect(sent).toEqual([
      { kind: 'hostThreshold', metric: 'disk', value: 95 },
      { kind: 'hostThreshold', metric: 'memory', value: 91 },
      { kind: 'hostThreshold', metric: 'disk', value: 96 },
    ]);
    settings = { ...settings, trap_sink_enable: false };
    expect(await w.check()).toEqual([]);
  });

  it('samples this host in percent', async () => {
    const s = await sampleHost(process.cwd());
    for (const v of Object.values(s)) expect(v).toBeGreaterThanOrEqual(0);
    expect(s.disk).toBeLessThanOrEqual(100);
    expect(s.memory).toBeLessThanOrEqual(100);
  });
});
