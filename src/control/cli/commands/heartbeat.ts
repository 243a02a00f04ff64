import type { Command } from 'commander';
import { MAX_PAYLOAD_BYTES, MAX_SERVICE_ID, type HeartbeatKind } from '../../family.ts';
import type { Heartbeat } from '../../objects.ts';
import { ArgReader, formatDuration, parseDuration, parseHexBytes, parseInteger, parseIp, parseMacText, parseRatio, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { table } from '../format.ts';

const USAGE = [
  'fatriot heartbeat { add | replace } svc ID { host | icmp | udp PORT [ payload HEX ] | raw HEX }',
  '                  interval DUR threshold RATIO [ learn N ] [ to IP ] [ mac MAC ]',
  'fatriot heartbeat del svc ID',
  'fatriot heartbeat show [ svc ID ]',
];

function parseHeartbeat(r: ArgReader): Heartbeat {
  let svcId: number | null = null;
  let kind: HeartbeatKind | null = null;
  let port: number | undefined;
  let payload: string | undefined;
  let intervalNs: number | null = null;
  let threshold: number | null = null;
  let learnSamples: number | undefined;
  let target: string | undefined;
  let mac: string | undefined;
  const setKind = (k: HeartbeatKind) => {
    if (kind !== null) throw new UsageError(`give one of host, icmp, udp, raw (got ${kind} and ${k})`);
    kind = k;
  };
  while (!r.done) {
    const w = r.next('keyword');
    if (w === 'svc') svcId = parseInteger(r.next('service ID'), 'service ID', 0, MAX_SERVICE_ID);
    else if (w === 'host' || w === 'icmp') setKind(w);
    else if (w === 'udp') {
      setKind('udp');
      port = parseInteger(r.next('UDP port'), 'port', 1, 65535);
    } else if (w === 'raw') {
      setKind('raw');
      payload = parseHexBytes(r.next('message HEX'), MAX_PAYLOAD_BYTES);
    } else if (w === 'payload') payload = parseHexBytes(r.next('payload HEX'), MAX_PAYLOAD_BYTES);
    else if (w === 'interval') intervalNs = parseDuration(r.next('interval'));
    else if (w === 'threshold') threshold = parseRatio(r.next('threshold'));
    else if (w === 'learn') learnSamples = parseInteger(r.next('sample count'), 'learn', 1, 65535);
    else if (w === 'to') target = parseIp(r.next('target IP'));
    else if (w === 'mac') mac = parseMacText(r.next('MAC'));
    else r.unknown();
  }
  const line = USAGE.slice(0, 2).join(' ');
  if (svcId === null) throw new UsageError(`missing svc ID; usage: ${line}`);
  if (kind === null) throw new UsageError(`missing message kind (host, icmp, udp PORT, raw HEX); usage: ${line}`);
  if (intervalNs === null) throw new UsageError(`missing interval; usage: ${line}`);
  if (threshold === null) throw new UsageError(`missing threshold; usage: ${line}`);
  if (payload !== undefined && kind !== 'udp' && kind !== 'raw') throw new UsageError('payload goes with udp');
  return {
    svcId,
    kind,
    intervalNs,
    threshold,
    ...(port === undefined ? {} : { port }),
    ...(payload === undefined ? {} : { payload }),
    ...(learnSamples === undefined ? {} : { learnSamples }),
    ...(target === undefined ? {} : { target }),
    ...(mac === undefined ? {} : { mac }),
  };
}

export function register(_program: Command, ctx: CliContext): void {
  ctx.defineObject({
    name: 'heartbeat',
    summary: 'heartbeat table: <target, message, interval, threshold> (Fatriot 3.4, Fig. 5)',
    usage: USAGE,
    async run(ctx, args) {
      const r = new ArgReader(args.slice(1), USAGE.join(' '));
      const cmd = args[0] ?? 'show';
      if (cmd === 'add' || cmd === 'replace') {
        await (await ctx.client()).heartbeatAdd(parseHeartbeat(r), { replace: cmd === 'replace' });
      } else if (cmd === 'del' || cmd === 'delete') {
        if (!r.accept('svc')) throw new UsageError(`usage: ${USAGE[2]}`);
        const svcId = parseInteger(r.next('service ID'), 'service ID', 0, MAX_SERVICE_ID);
        r.end();
        await (await ctx.client()).heartbeatDel(svcId);
      } else if (cmd === 'show' || cmd === 'list' || cmd === 'ls') {
        let svcId: number | undefined;
        if (r.accept('svc')) svcId = parseInteger(r.next('service ID'), 'service ID', 0, MAX_SERVICE_ID);
        r.end();
        const list = await (await ctx.client()).heartbeats(svcId);
        if (ctx.json) return ctx.printJson(list);
        const headers = ['svc', 'target', 'message', 'interval', 'threshold', 'rtt_avg', 'rtt_last', 'ratio', 'state'];
        if (ctx.stats) headers.push('samples', 'learn', 'interval_cycles');
        ctx.print(
          table(
            headers,
            list.map((h) => {
              const message = h.kind === 'udp' ? `udp ${h.port}${h.payload !== undefined ? ` payload ${h.payload}` : ''}` : h.kind === 'raw' ? `raw ${h.payload ?? ''}` : h.kind;
              const row: (string | number)[] = [
                h.svcId,
                h.target,
                message,
                formatDuration(h.intervalNs),
                h.threshold,
                h.samples === 0 ? '-' : formatDuration(h.rttAvgNs),
                h.samples === 0 ? '-' : formatDuration(h.rttLastNs),
                h.samples === 0 ? '-' : h.ratio.toFixed(2),
                h.state,
              ];
              if (ctx.stats) row.push(h.samples, h.learnSamples, h.intervalCycles);
              return row;
            }),
          ),
        );
      } else {
        throw new UsageError(`unknown command "${cmd}"; usage: ${USAGE.join(' ')}`);
      }
    },
  });
}
