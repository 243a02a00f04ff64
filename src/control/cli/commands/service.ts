import type { Command } from 'commander';
import type { Proto } from '../../objects.ts';
import { ArgReader, parseIp, parseIpPort, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';
import { parseProto } from './target.ts';

const USAGE = [
  'fatriot service { add | replace } IP[:PORT] proto { udp | tcp | icmp } backup IP[:PORT]',
  'fatriot service default backup IP',
  'fatriot service del { IP[:PORT] [ proto P ] | default }',
  'fatriot service show',
];

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'service',
    summary: 'service table: backup host per service, and the default backup * (Fatriot 3.5)',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args.slice(1), USAGE.join(' | '));
      const cmd = args[0] ?? 'show';
      if (cmd === 'add' || cmd === 'replace') {
        const svc = parseIpPort(r.next('IP[:PORT]'));
        let proto: Proto | null = null;
        let backup: { ip: string; port: number } | null = null;
        while (!r.done) {
          const w = r.next('keyword');
          if (w === 'proto') proto = parseProto(r.next('protocol'));
          else if (w === 'backup') backup = parseIpPort(r.next('backup IP[:PORT]'));
          else r.unknown();
        }
        if (proto === null) throw new UsageError(`missing proto; usage: ${USAGE[0]}`);
        if (backup === null) throw new UsageError(`missing backup; usage: ${USAGE[0]}`);
        await (await ctx.client()).serviceAdd(
          { ip: svc.ip, port: svc.port, proto, backupIp: backup.ip, backupPort: backup.port },
          { replace: cmd === 'replace' },
        );
      } else if (cmd === 'default') {
        if (!r.accept('backup')) throw new UsageError(`usage: ${USAGE[1]}`);
        const ip = parseIp(r.next('backup IP'));
        r.end();
        await (await ctx.client()).defaultBackupSet(ip);
      } else if (cmd === 'del' || cmd === 'delete') {
        if (r.accept('default')) {
          r.end();
          await (await ctx.client()).defaultBackupDel();
          return;
        }
        const svc = parseIpPort(r.next('IP[:PORT]'));
        let proto: Proto | undefined;
        if (r.accept('proto')) proto = parseProto(r.next('protocol'));
        r.end();
        await (await ctx.client()).serviceDel({ ip: svc.ip, ...(svc.port === 0 ? {} : { port: svc.port }), ...(proto === undefined ? {} : { proto }) });
      } else if (cmd === 'show' || cmd === 'list' || cmd === 'ls') {
        r.end();
        const client = await ctx.client();
        const list = await client.services();
        const def = await client.defaultBackup();
        if (ctx.json) return ctx.printJson({ services: list, defaultBackup: def });
        const at = (ip: string, port: number) => (port === 0 ? ip : `${ip}:${port}`);
        const rows = list.map((s) => [at(s.ip, s.port), s.proto, at(s.backupIp, s.backupPort)]);
        if (def !== null) rows.push(['*', '*', def]);
        ctx.print(table(['service', 'proto', 'backup'], rows));
      } else {
        throw new UsageError(`unknown command "${cmd}"; usage: ${USAGE.join(' | ')}`);
      }
    },
  });
}
