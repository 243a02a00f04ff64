import type { Command } from 'commander';
import { ArgReader, parseInteger, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { hex32 } from '../format.ts';

const USAGE = ['fatriot reg read ADDR', 'fatriot reg write ADDR VALUE'];

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'reg',
    summary: 'raw AXI-Lite register access (hw/netfpga-spec/fatriot-register-map.json)',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args.slice(1), USAGE.join(' | '));
      const cmd = args[0];
      if (cmd === 'read') {
        const addr = parseInteger(r.next('ADDR'), 'address', 0, 0xffffffff);
        r.end();
        const value = await (await ctx.client()).regRead(addr);
        if (ctx.json) return ctx.printJson({ addr, value });
        ctx.print(`${hex32(addr)}: ${hex32(value)}`);
      } else if (cmd === 'write') {
        const addr = parseInteger(r.next('ADDR'), 'address', 0, 0xffffffff);
        const value = parseInteger(r.next('VALUE'), 'value', 0, 0xffffffff);
        r.end();
        await (await ctx.client()).regWrite(addr, value);
      } else {
        throw new UsageError(`usage: ${USAGE.join(' | ')}`);
      }
    },
  });
}
