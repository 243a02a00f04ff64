import type { Command } from 'commander';
import type { Proto, Target } from '../../objects.ts';
import { ArgReader, parseInteger, parseIp, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';
import { MAX_SERVICE_ID } from '../../family.ts';

const USAGE = [
  'fatriot target { add | replace } IP proto { udp | tcp | icmp } [ port N ] svc ID [ critical ]',
  'fatriot target del { svc ID | IP proto P [ port N ] }',
  'fatriot target show [ svc ID ]',
];

export function parseProto(text: string): Proto {
  if (text === 'udp' || text === 'tcp' || text === 'icmp') return text;
  throw new UsageError(`invalid protocol "${text}" (udp, tcp or icmp)`);
}

function parseTarget(r: ArgReader): Target {
  const ip = parseIp(r.next('IP'));
  let proto: Proto | null = null;
  let port = 0;
  let svcId: number | null = null;
  let critical = false;
  while (!r.done) {
    const w = r.next('keyword');
    if (w === 'proto') proto = parseProto(r.next('protocol'));
    else if (w === 'port') port = parseInteger(r.next('port'), 'port', 1, 65535);
    else if (w === 'svc') svcId = parseInteger(r.next('service ID'), 'service ID', 0, MAX_SERVICE_ID);
    else if (w === 'critical') critical = true;
    else r.unknown();
  }
  if (proto === null) throw new UsageError(`missing proto; usage: ${USAGE[0]}`);
  if (svcId === null) throw new UsageError(`missing svc ID; usage: ${USAGE[0]}`);
  if (proto === 'icmp' && port !== 0) throw new UsageError('an icmp target has no port');
  return { ip, proto, port, svcId, critical };
}

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'target',
    summary: 'target table: service signatures of mission-critical traffic (Fatriot 3.3)',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args.slice(1), USAGE.join(' | '));
      const cmd = args[0] ?? 'show';
      if (cmd === 'add' || cmd === 'replace') {
        const t = parseTarget(r);
        await (await ctx.client()).targetAdd(t, { replace: cmd === 'replace' });
      } else if (cmd === 'del' || cmd === 'delete') {
        if (r.accept('svc')) {
          const svcId = parseInteger(r.next('service ID'), 'service ID', 0, MAX_SERVICE_ID);
          r.end();
          await (await ctx.client()).targetDel({ svcId });
        } else {
          const ip = parseIp(r.next('IP or svc'));
          let proto: Proto | undefined;
          let port: number | undefined;
          while (!r.done) {
            const w = r.next('keyword');
            if (w === 'proto') proto = parseProto(r.next('protocol'));
            else if (w === 'port') port = parseInteger(r.next('port'), 'port', 1, 65535);
            else r.unknown();
          }
          if (proto === undefined) throw new UsageError(`missing proto; usage: ${USAGE[1]}`);
          await (await ctx.client()).targetDel({ ip, proto, ...(port === undefined ? {} : { port }) });
        }
      } else if (cmd === 'show' || cmd === 'list' || cmd === 'ls') {
        let svcId: number | undefined;
        if (r.accept('svc')) svcId = parseInteger(r.next('service ID'), 'service ID', 0, MAX_SERVICE_ID);
        r.end();
        const list = await (await ctx.client()).targets(svcId);
        if (ctx.json) return ctx.printJson(list);
        ctx.print(
          table(
            ['svc', 'dst', 'proto', 'port', 'critical'],
            list.map((t) => [t.svcId, t.ip, t.proto, t.port === 0 ? '*' : t.port, t.critical ? 'yes' : 'no']),
          ),
        );
      } else {
        throw new UsageError(`unknown command "${cmd}"; usage: ${USAGE.join(' | ')}`);
      }
    },
  });
}
