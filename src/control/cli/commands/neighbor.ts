import type { Command } from 'commander';
import { ArgReader, formatDuration, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';

const USAGE = ['fatriot neighbor show'];

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'neighbor',
    summary: 'backup NICs learnt by neighbor discovery (Fatriot 3.5)',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args, USAGE[0]!);
      if (!r.done && !r.accept('show') && !r.accept('list')) throw new UsageError(`usage: ${USAGE[0]}`);
      r.end();
      const client = await ctx.client();
      const list = await client.neighbors();
      if (ctx.json) return ctx.printJson(list);
      const { cycle, clockHz } = await client.config();
      const nowNs = (cycle * 1e9) / clockHz;
      ctx.print(
        table(
          ['neighbor', 'svc', 'port', 'capacity', 'load', 'state', 'last_seen'],
          list.map((n) => [n.ip, n.svcId, n.port, n.capacity, n.load, n.alive ? 'alive' : 'silent', `${formatDuration(Math.max(0, nowNs - n.lastSeenNs))} ago`]),
        ),
      );
    },
  });
}
