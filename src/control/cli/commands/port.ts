import type { Command } from 'commander';
import { ArgReader, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { count, table } from '../format.ts';

const USAGE = ['fatriot [ -s ] port show'];

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'port',
    summary: 'NIC ports nf0..nf3 (wire) and dma0..dma3 (host); -s adds packet and byte counters',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args, USAGE[0]!);
      if (!r.done && !r.accept('show') && !r.accept('list')) throw new UsageError(`usage: ${USAGE[0]}`);
      r.end();
      const list = await (await ctx.client()).ports();
      if (ctx.json) return ctx.printJson(list);
      const headers = ['port', 'kind', 'state'];
      if (ctx.stats) headers.push('rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes');
      ctx.print(
        table(
          headers,
          list.map((p) => {
            const row: string[] = [p.name, p.kind, p.up ? 'UP' : 'DOWN'];
            if (ctx.stats) row.push(count(p.rxPackets), count(p.rxBytes), count(p.txPackets), count(p.txBytes));
            return row;
          }),
        ),
      );
    },
  });
}
