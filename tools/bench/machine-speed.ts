/**
 * Which timed runs had the whole core. The development VM (and CI's) is shared: for a few
 * tenths of a second at a time it runs everything at about 0.6 of its speed. A fixed
 * piece of arithmetic that touches 32 KiB (the probe) slows at the same moments and by
 * the same ratio as the model does (tools/bench/main.ts --probe-trace prints both, side by
 * side, every 0.1 s), so the slowness is the machine's and not the model's. The model
 * bench times the probe before and after each run and keeps the runs whose probe came
 * within FULL_SPEED_SLACK of the fastest probe of the same process; its rates are the
 * median of those runs, and it reports the median of all runs and how many it kept
 * beside them. A process that runs slow from start to end has a slow fastest probe too,
 * so keeps its slow runs: `probe_ms_min` in the JSON shows it (4.6 ms in the bench on the
 * development VM at full speed).
 */

/** Float64 words the probe works over (32 KiB: in L1/L2 on any machine, as the model's hot state mostly is). */
const PROBE_WORDS = 4096;
const PROBE_ITERATIONS = 1 << 22;
const probeData = new Float64Array(PROBE_WORDS);

/** A run's probe may take this much longer than the process's fastest probe and still count as a full-speed run. */
export const FULL_SPEED_SLACK = 1.15;

/** Dependent loads, multiplies and stores; the returned sum keeps the loop from being optimised away. */
function probeWork(iterations: number): number {
  const data = probeData;
  let sum = 0;
  for (let i = 0; i < iterations; i++) {
    const k = i & (PROBE_WORDS - 1);
    data[k] = data[k]! * 0.5 + i;
    sum += data[(k * 7) & (PROBE_WORDS - 1)]!;
  }
  return sum;
}

/** Where the probe's sums go: a store the compiler must keep, so the work is live. */
let probeSink = 0;
let probeWarm = false;

/** Milliseconds the probe takes now. */
export function probeMs(): number {
  if (!probeWarm) {
    // Short calls first, so that V8 optimizes the whole function and not only its loop
    // (on-stack replacement): with --no-concurrent-recompilation a probe that was long
    // from its first call kept its loop-only code and took 13 ms instead of 4.6.
    for (let i = 0; i < 2000; i++) probeSink += probeWork(256);
    probeWarm = true;
  }
  const t0 = process.hrtime.bigint();
  probeSink += probeWork(PROBE_ITERATIONS);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A timed run and the slower of the probes taken just before and just after it. */
export interface ProbedRun<T> {
  result: T;
  wallSeconds: number;
  probeMs: number;
}

/** Runs `run` between two probes. */
export function probedRun<T extends { wallSeconds: number }>(run: () => T): ProbedRun<T> {
  const before = probeMs();
  const result = run();
  const after = probeMs();
  return { result, wallSeconds: result.wallSeconds, probeMs: Math.max(before, after) };
}

/** What `fullSpeedMedian` found. */
export interface FullSpeedSelection<T> {
  /**
   * The run with the median wall time of the full-speed runs (the faster of the two middle
   * ones for an even count); of all runs when none was (`kept` 0).
   */
  fullSpeed: ProbedRun<T>;
  /** The run with the median wall time of all runs. */
  all: ProbedRun<T>;
  /** How many runs were at full speed, of how many. */
  kept: number;
  of: number;
}

/** The element with the median `key` (the lower middle one for an even count). */
export function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  const sorted = [...xs].sort((a, b) => key(a) - key(b));
  return sorted[(sorted.length - 1) >> 1]!;
}

const byWall = (r: ProbedRun<unknown>): number => r.wallSeconds;

/**
 * The median run of those whose probe took at most FULL_SPEED_SLACK times `fastestProbeMs`
 * (the fastest probe of the process, which may come from other runs; the fastest of
 * `runs` is used when it is faster), and the median of all.
 */
export function fullSpeedMedian<T>(runs: ProbedRun<T>[], fastestProbeMs = Number.POSITIVE_INFINITY): FullSpeedSelection<T> {
  if (runs.length === 0) throw new RangeError('fullSpeedMedian: no runs');
  let fastest = fastestProbeMs;
  for (const r of runs) fastest = Math.min(fastest, r.probeMs);
  const kept = runs.filter((r) => r.probeMs <= fastest * FULL_SPEED_SLACK);
  // When every run was slower than the fastest probe taken elsewhere in the process, none
  // counts as full speed, and the median of all is all there is.
  const all = medianBy(runs, byWall);
  return { fullSpeed: kept.length > 0 ? medianBy(kept, byWall) : all, all, kept: kept.length, of: runs.length };
}
