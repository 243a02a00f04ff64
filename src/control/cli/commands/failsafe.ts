import type { Command } from 'commander';
import { MAX_SERVICE_ID } from '../../family.ts';
import { ArgReader, parseInteger, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';

const USAGE = ['fatriot failsafe { on | off | auto } svc ID', 'fatriot failsafe show [ svc ID ]'];

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'failsafe',
    summary: 'force fail-safe on or off per service, or leave it to the heartbeat manager (auto)',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args.slice(1), USAGE.join(' | '));
      const cmd = args[0] ?? 'show';
      if (cmd === 'on' || cmd === 'off' || cmd === 'auto') {
        if (!r.accept('svc')) throw new UsageError(`missing svc ID; usage: ${USAGE[0]}`);
        const svcId = parseInteger(r.next('service ID'), 'service ID', 0, MAX_SERVICE_ID);
        r.end();
        await (await ctx.client()).failsafeSet(svcId, cmd);
      } else if (cmd === 'show' || cmd === 'list' || cmd === 'ls') {
        let svcId: number | undefined;
        if (r.accept('svc')) svcId = parseInteger(r.next('service ID'), 'service ID', 0, MAX_SERVICE_ID);
        r.end();
        const list = await (await ctx.client()).failsafe(svcId);
        if (ctx.json) return ctx.printJson(list);
        ctx.print(table(['svc', 'mode', 'state'], list.map((f) => [f.svcId, f.mode, f.active ? 'fail-safe' : 'normal'])));
      } else {
        throw new UsageError(`unknown command "${cmd}"; usage: ${USAGE.join(' | ')}`);
      }
    },
  });
}
