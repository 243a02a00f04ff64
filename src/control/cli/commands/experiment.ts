/**
 * `fatriot experiment { overhead | delay | crash | relay } [--out DIR] [--interval S] [--tap]`
 * (SPEC 5 and 7): runs one of the paper's experiments on the embedded testbed
 * (tools/experiments) and writes summary.json, CSV, SVG, pcap and VCD into DIR
 * (default results/NAME). `--tap` runs the TAP/netns version when this tree has it
 * (tools/experiments/tap/), which needs root and /dev/net/tun.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError, parseDuration } from '../args.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';

const NAMES = ['overhead', 'delay', 'crash', 'relay'] as const;

/** "0.1", "0.1s", "100ms" -> seconds. */
export function parseIntervalSeconds(text: string): number {
  const plain = /^\d+(?:\.\d+)?$/.test(text.trim());
  const s = plain ? Number(text) : parseDuration(text) / 1e9;
  if (!(s > 0) || !Number.isFinite(s)) throw new UsageError(`invalid interval "${text}" (seconds, e.g. 0.5 or 100ms)`);
  return s;
}

const TAP_DIR = new URL('../../../../tools/experiments/tap/', import.meta.url);

/** The TAP version's runner, `run<Name>Tap` of tools/experiments/tap/<name>.ts or tap/index.ts, if this tree has it. */
async function findTapRunner(name: string): Promise<((opts: Record<string, unknown>) => Promise<Record<string, unknown>>) | null> {
  const fn = `run${name[0]!.toUpperCase()}${name.slice(1)}Tap`;
  for (const file of [`${name}.ts`, 'index.ts']) {
    const url = new URL(file, TAP_DIR);
    if (!existsSync(url)) continue;
    const mod = (await import(url.href)) as Record<string, unknown>;
    if (typeof mod[fn] === 'function') return mod[fn] as (opts: Record<string, unknown>) => Promise<Record<string, unknown>>;
  }
  return null;
}

/** One line a measured key, as `ip -s` prints statistics (nested objects and lists shown as JSON). */
export function summaryLines(summary: Record<string, unknown>): string {
  const rows = Object.entries(summary)
    .filter(([k]) => k !== 'notes' && k !== 'files')
    .map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]);
  return table(['key', 'value'], rows);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('experiment')
    .usage('{ overhead | delay | crash | relay } [ --out DIR ] [ --interval S ] [ --tap ]')
    .description("run one of the paper's experiments (Fatriot section 5) and write summary.json, CSV, SVG, pcap and VCD")
    .argument('[name]', NAMES.join(' | '))
    .option('--out <dir>', 'output folder (default results/NAME)')
    .option('--interval <s>', 'heartbeat interval for delay and crash, seconds (default 0.5; 0.1 for Fig. 10(b))')
    .option('--tap', 'run on TAP devices in network namespaces (needs root)')
    .action(async (name: string | undefined, opts: { out?: string; interval?: string; tap?: boolean }) => {
      if (name === undefined || !(NAMES as readonly string[]).includes(name)) {
        throw new UsageError(`usage: fatriot experiment { ${NAMES.join(' | ')} } [ --out DIR ] [ --interval S ] [ --tap ]`);
      }
      const interval = opts.interval === undefined ? undefined : parseIntervalSeconds(opts.interval);
      const { EXPERIMENTS, isExperimentName } = await import('../../../../tools/experiments/index.ts');
      if (!isExperimentName(name)) throw new UsageError(`unknown experiment "${name}"`);
      const entry = EXPERIMENTS[name];
      if (interval !== undefined && !entry.usesInterval) throw new UsageError(`--interval applies to delay and crash, not ${name}`);
      const runOpts = { ...(opts.out === undefined ? {} : { outDir: opts.out }), ...(interval === undefined ? {} : { interval }) };

      let summary: Record<string, unknown>;
      if (opts.tap === true) {
        const tap = await findTapRunner(name);
        if (tap === null) {
          throw new Error(
            existsSync(TAP_DIR)
              ? `experiment ${name} --tap: this tree has no TAP version of ${name} (tools/experiments/tap/${name}.ts); run without --tap for the embedded testbed`
              : `experiment ${name} --tap: TAP experiments need root, /dev/net/tun and the netns testbed (tools/experiments/tap), which this tree does not have; run without --tap for the embedded testbed`,
          );
        }
        summary = await tap(runOpts);
      } else {
        let last = '';
        const onProgress = (_f: number, label: string): void => {
          if (label !== last && !ctx.json) ctx.io.stderr(`${label}\n`);
          last = label;
        };
        summary = await entry.run({ ...runOpts, onProgress });
      }
      if (ctx.json) return ctx.printJson(summary);
      ctx.print(summaryLines(summary));
      const files = Array.isArray(summary.files) ? (summary.files as unknown[]) : [];
      if (files.length > 0) ctx.print(`wrote ${files.length} files, summary in ${String(files[0])}`);
    });
}
