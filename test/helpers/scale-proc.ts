// Process plumbing for the fleet scale measurement (test/scale/fleet-scale.test.ts): reading a
// child's stdout line by line, a process's CPU time and memory from /proc, stopping a child.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type LineReader = ReturnType<typeof lineReader>;

/** Reads a child's stdout line by line; `next()` resolves with the next line. */
export function lineReader(child: ChildProcess) {
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const p of parts) {
      const w = waiting.shift();
      if (w) w(p);
      else queue.push(p);
    }
  });
  return {
    next(timeoutMs = 600_000): Promise<string> {
      const q = queue.shift();
      if (q !== undefined) return Promise.resolve(q);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no line from the child in time')), timeoutMs);
        const onExit = (code: number | null) => reject(new Error(`child exited with ${code}`));
        child.once('exit', onExit);
        waiting.push((line) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(line);
        });
      });
    },
  };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** CPU seconds (user + system) and resident memory of a process, from /proc (Linux). */
export function procUsage(pid: number): { cpuSeconds: number; rssMb: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which is in parentheses and may contain spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / CLOCK_TICKS, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

/** SIGTERM, then waits for the exit (SIGKILL after `graceMs`: a run must stop by itself). */
export async function stopChild(child: ChildProcess | undefined, graceMs = 20_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
