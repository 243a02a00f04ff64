import type { Command } from 'commander';
import { ArgReader, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { count, table } from '../format.ts';

const USAGE = ['fatriot [ -s ] stats [ show ]   (-s: every counter, also those at zero)'];

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'stats',
    summary: 'NIC counters: per port, drops by reason, Fatriot events',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args, USAGE[0]!);
      if (!r.done && !r.accept('show')) throw new UsageError(`usage: ${USAGE[0]}`);
      r.end();
      const list = await (await ctx.client()).counters();
      if (ctx.json) return ctx.printJson(Object.fromEntries(list.map((c) => [c.name, c.value])));
      const shown = ctx.stats ? list : list.filter((c) => c.value !== 0);
      if (shown.length === 0) return ctx.print('all counters are zero (-s shows them)');
      ctx.print(table(['counter', 'value'], shown.map((c) => [c.name, count(c.value)])));
    },
  });
}
