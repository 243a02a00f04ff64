/**
 * `fatriot demo [--out DIR]` (`npm run demo`, SPEC 7): runs every experiment of the
 * paper's section 5 on the embedded testbed (no root needed), writes CSV, SVG, pcap and
 * VCD files under results/, shows progress on stderr and ends with the table of the
 * paper's claims next to the measured figures.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .usage('[ --out DIR ]')
    .description("run all of the paper's experiments on the embedded testbed and print its claims next to the measured figures")
    .option('--out <dir>', 'results folder (default results)')
    .action(async (opts: { out?: string }) => {
      const { runDemo } = await import('../../../../tools/experiments/demo.ts');
      const { default: cliProgress } = await import('cli-progress');
      const tty = process.stderr.isTTY === true && ctx.io.stop === null;
      const bar = tty
        ? new cliProgress.SingleBar(
            { format: 'fatriot demo {bar} {percentage}% | {label}', stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 20 },
            cliProgress.Presets.shades_classic,
          )
        : null;
      bar?.start(1000, 0, { label: 'starting' });
      let lastLabel = '';
      const result = await (async () => {
        try {
          return await runDemo({
            ...(opts.out === undefined ? {} : { outDir: opts.out }),
            onProgress: (fraction, label) => {
              if (bar !== null) bar.update(Math.round(1000 * fraction), { label });
              else if (label !== lastLabel && !ctx.json) ctx.io.stderr(`demo: ${label}\n`);
              lastLabel = label;
            },
          });
        } finally {
          bar?.stop();
        }
      })();
      const { claims } = result;
      if (ctx.json) return ctx.printJson({ dir: result.dir, wall_s: result.wallSeconds, claims });
      ctx.print(table(['figure', 'claim (paper)', 'measured (model)', 'holds'], claims.map((c) => [c.figure, c.claim, c.measured, c.holds ? 'yes' : 'no'])));
      ctx.print(`${claims.filter((c) => c.holds).length} of ${claims.length} claims hold; results in ${result.dir} (${result.wallSeconds.toFixed(1)} s)`);
    });
}
