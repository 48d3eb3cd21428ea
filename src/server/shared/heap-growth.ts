// V8 lets the old generation grow to up to four times what survived the last full collection
// before it collects again (on a machine with several GB of memory). A manager polling a fleet
// holds a steady state (~8 KB per appliance) and allocates short-lived garbage, so that headroom
// is memory held for nothing: at 10,000 appliances 134 MB live took a 267 MB heap. Capping V8's
// growing factor (its --heap-growing-percent) keeps the heap near its live size at a small GC
// cost; docs/benchmarks.md (Fleet polling) has the measurements.
import v8 from 'node:v8';

export const DEFAULT_HEAP_GROWTH_PERCENT = 25;

/**
 * Caps the heap growth at `percent` (0: V8's own heuristics). A `--heap-growing-percent` given
 * to node itself wins. V8 reads this flag each time it sets the next collection's limit, so it
 * takes effect at run time. Returns whether it was set.
 */
export function limitHeapGrowth(percent: number, execArgv: readonly string[] = process.execArgv): boolean {
  if (!Number.isInteger(percent) || percent <= 0) return false;
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent\b/.test(a))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return true;
}
