import type { Command } from 'commander';
import type { NicConfig } from '../../objects.ts';
import { ArgReader, formatDuration, parseDuration, parseInteger, parseIp, parseMacText, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';

const USAGE = [
  'fatriot config show',
  'fatriot config set [ relay IP ] [ relay-ports BASE[:COUNT] ] [ mac MAC ] [ host IP ]',
  '                   [ announce-port N ] [ announce-interval DUR ] [ capacity N ]',
];

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'config',
    summary: 'NIC settings: relay address and ports, NIC MAC, host address, announcements',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args.slice(1), USAGE.join(' '));
      const cmd = args[0] ?? 'show';
      if (cmd === 'set') {
        const c: Partial<NicConfig> = {};
        while (!r.done) {
          const w = r.next('keyword');
          if (w === 'relay') c.relayIp = parseIp(r.next('relay IP'));
          else if (w === 'relay-ports') {
            const [base, n] = r.next('BASE[:COUNT]').split(':');
            c.relayPortBase = parseInteger(base!, 'relay port base', 1, 65535);
            if (n !== undefined) c.relayPortCount = parseInteger(n, 'relay port count', 1, 65535);
          } else if (w === 'mac') c.nicMac = parseMacText(r.next('MAC'));
          else if (w === 'host') c.hostIp = parseIp(r.next('host IP'));
          else if (w === 'announce-port') c.announcePort = parseInteger(r.next('port'), 'port', 1, 65535);
          else if (w === 'announce-interval') c.announceIntervalNs = parseDuration(r.next('interval'));
          else if (w === 'capacity') c.capacity = parseInteger(r.next('capacity'), 'capacity', 0, 65535);
          else r.unknown();
        }
        if (Object.keys(c).length === 0) throw new UsageError(`nothing to set; usage: ${USAGE.slice(1).join(' ')}`);
        await (await ctx.client()).configSet(c);
      } else if (cmd === 'show') {
        r.end();
        const c = await (await ctx.client()).config();
        if (ctx.json) return ctx.printJson(c);
        ctx.print(
          table(
            ['setting', 'value'],
            [
              ['relay', c.relayIp],
              ['relay-ports', `${c.relayPortBase}:${c.relayPortCount}`],
              ['mac', c.nicMac],
              ['host', c.hostIp],
              ['announce-port', c.announcePort],
              ['announce-interval', formatDuration(c.announceIntervalNs)],
              ['capacity', c.capacity],
              ['clock', `${c.clockHz / 1e6} MHz`],
              ['cycle', c.cycle],
            ],
          ),
        );
      } else {
        throw new UsageError(`unknown command "${cmd}"; usage: ${USAGE.join(' ')}`);
      }
    },
  });
}
