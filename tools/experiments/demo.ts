/**
 * `npm run demo` (SPEC 7): every experiment of the paper's section 5 on the embedded
 * testbed, one after the other, into results/ (overhead, delay, delay-100ms, crash,
 * relay), then the table of claims (claims.ts), also written as results/claims.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { claimTable, type Claim, type DemoSummaries } from './claims.ts';
import { outputDir, type Summary } from './common.ts';
import { runCrash, type CrashOptions } from './crash.ts';
import { runDelay, type DelayOptions } from './delay.ts';
import { runOverhead, type OverheadOptions } from './overhead.ts';
import { runRelay, type RelayOptions } from './relay.ts';

export type DemoRun = keyof DemoSummaries;

export interface DemoOptions {
  /** Parent folder of the results; default results/. */
  outDir?: string;
  /** Overall fraction done and what runs. */
  onProgress?: (fraction: number, label: string) => void;
  /** Parameters of single runs (smaller runs for tests). */
  overrides?: {
    overhead?: OverheadOptions;
    delay?: DelayOptions;
    'delay-100ms'?: DelayOptions;
    crash?: CrashOptions;
    relay?: RelayOptions;
  };
}

export interface DemoResult {
  dir: string;
  summaries: DemoSummaries;
  claims: Claim[];
  wallSeconds: number;
}

/** The runs, with their share of the demo's wall time (measured on a 2-core machine). */
const RUNS: { name: DemoRun; weight: number }[] = [
  { name: 'overhead', weight: 0.25 },
  { name: 'delay', weight: 0.08 },
  { name: 'delay-100ms', weight: 0.08 },
  { name: 'crash', weight: 0.06 },
  { name: 'relay', weight: 0.53 },
];

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const dir = outputDir('', opts.outDir ?? 'results');
  const t0 = process.hrtime.bigint();
  const summaries: DemoSummaries = {};
  let base = 0;
  for (const { name, weight } of RUNS) {
    const onProgress = (f: number, label: string): void => opts.onProgress?.(base + weight * f, label);
    const outDir = join(dir, name);
    const o = opts.overrides ?? {};
    let s: Summary;
    switch (name) {
      case 'overhead':
        s = await runOverhead({ ...o.overhead, outDir, onProgress });
        break;
      case 'delay':
        s = await runDelay({ ...o.delay, interval: 0.5, outDir, onProgress });
        break;
      case 'delay-100ms':
        s = await runDelay({ ...o['delay-100ms'], interval: 0.1, outDir, onProgress });
        break;
      case 'crash':
        s = await runCrash({ ...o.crash, outDir, onProgress });
        break;
      case 'relay':
        s = await runRelay({ ...o.relay, outDir, onProgress });
        break;
    }
    summaries[name] = s;
    base += weight;
  }
  const claims = claimTable(summaries);
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  writeFileSync(
    join(dir, 'claims.json'),
    `${JSON.stringify({ claims, holding: claims.filter((c) => c.holds).length, total: claims.length, wall_s: Math.round(wallSeconds * 10) / 10 }, null, 2)}\n`,
  );
  opts.onProgress?.(1, 'demo: done');
  return { dir, summaries, claims, wallSeconds };
}
