import type { Command } from 'commander';
import { readHeader } from '../../netlink.ts';
import { NetlinkCapture } from '../../netlink-pcap.ts';
import type { ControlEvent } from '../../objects.ts';
import { formatDuration } from '../args.ts';
import type { CliContext } from '../context.ts';

function nowUs(): number {
  return Math.floor(performance.timeOrigin * 1000 + performance.now() * 1000);
}

function describe(e: ControlEvent): string {
  switch (e.kind) {
    case 'failsafe':
      return `failsafe svc ${e.svcId} ${e.active ? 'on' : 'off'}${e.cause === '' ? '' : ` (${e.cause})`}`;
    case 'heartbeat':
      return `heartbeat svc ${e.svcId} rtt ${e.timedOut ? 'timeout' : formatDuration(e.rttNs)} ratio ${e.ratio.toFixed(3)}`;
    case 'neighbor':
      return `neighbor ${e.ip} svc ${e.svcId} ${e.up ? 'up' : 'down'}`;
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('monitor')
    .usage('[ --pcap FILE ]')
    .description('print events as they happen (fail-safe on/off, heartbeat samples, neighbors); --pcap records all control traffic')
    .option('--pcap <file>', 'write the control traffic of every client as pcap (LINKTYPE_NETLINK)')
    .action(async (opts: { pcap?: string }) => {
      const client = await ctx.client();
      const capture = opts.pcap === undefined ? null : NetlinkCapture.open(opts.pcap);
      client.on('event', (e) => {
        if (ctx.json) ctx.printJson(e);
        else ctx.print(`[cycle ${e.cycle}] ${describe(e)}`);
      });
      if (capture !== null) {
        // Our own exchange first (it names the family for Wireshark), then every client's traffic.
        client.onSend = (bytes) => capture.record(bytes, true, nowUs());
        client.on('message', (bytes) => {
          if (readHeader(bytes).seq !== 0) capture.record(bytes, false, nowUs());
        });
        client.on('tap', (t) => capture.record(t.message, t.direction === 0, t.timeUs));
        await client.getFamily();
      }
      await client.subscribe('events');
      if (capture !== null) await client.subscribe('tap');
      ctx.io.stderr(`fatriot monitor: listening on ${ctx.socketPath}${capture === null ? '' : `, capturing to ${opts.pcap}`} (Ctrl-C to stop)\n`);
      const closed = new Promise<void>((resolve) => client.once('close', resolve));
      await Promise.race([ctx.waitForStop(), closed]);
      capture?.close();
    });
}
