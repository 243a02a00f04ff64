import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { startDaemon } from '../../daemon.ts';
import { ModelNic, parseTapPortNames } from '../../model-nic.ts';
import { setNicFactory } from '../../nic.ts';
import { UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('daemon')
    .usage('[ --sim | --tap --port PORT=TAP ... [ --pcap DIR ] ] [ --reference ] [ --socket PATH ] [ --config FILE ]')
    .description('run an emulated NIC with its control socket until SIGINT/SIGTERM')
    .option('--sim', 'in-memory ports (default)')
    .option('--tap', 'TAP devices for the ports')
    .option('--reference', 'the reference NIC top instead of Fatriot')
    .option('--socket <path>', 'control socket (default: the global --socket)')
    .option('--config <file>', 'apply this configuration file at start (see fatriot save)')
    .option('--port <PORT=TAP>', 'with --tap: open TAP device TAP for port PORT (nf0..nf3, dma0..dma3); repeat', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--pcap <dir>', 'with --tap: capture every port to DIR/PORT.pcap (nanosecond pcap, model-time stamps)')
    .option('--testbed-id <id>', 'started by the netns testbed: also stop when stdin closes')
    .action(async (opts: { sim?: boolean; tap?: boolean; reference?: boolean; socket?: string; config?: string; port: string[]; pcap?: string; testbedId?: string }) => {
      if (opts.sim === true && opts.tap === true) throw new UsageError('give --sim or --tap, not both');
      if (opts.tap !== true && opts.port.length > 0) throw new UsageError('--port needs --tap');
      if (opts.tap !== true && opts.pcap !== undefined) throw new UsageError('--pcap needs --tap');
      let taps: Record<string, string> | undefined;
      try {
        taps = opts.tap === true ? (parseTapPortNames(opts.port) as Record<string, string>) : undefined;
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const pcapDir = opts.pcap === undefined ? undefined : resolve(opts.pcap);
      if (pcapDir !== undefined) mkdirSync(pcapDir, { recursive: true });
      setNicFactory((o) => new ModelNic(pcapDir === undefined ? o : { ...o, pcapDir }));
      const socketPath = opts.socket ?? ctx.socketPath;
      const daemon = await startDaemon({
        socketPath,
        mode: opts.tap === true ? 'tap' : 'sim',
        reference: opts.reference === true,
        ...(opts.config === undefined ? {} : { configFile: opts.config }),
        ...(taps === undefined ? {} : { taps }),
      });
      // "ready" first: the netns testbed waits for a line starting with it.
      ctx.stdout(`ready: fatriot daemon: ${daemon.nic.description}; control socket ${socketPath}; pid ${process.pid}`);
      const stop = ctx.waitForStop();
      if (opts.testbedId !== undefined) {
        // The testbed owner holds our stdin: if it dies, so do we (and our TAPs with us).
        await Promise.race([stop, new Promise<void>((resolve) => process.stdin.once('end', resolve).resume())]);
      } else {
        await stop;
      }
      await daemon.stop();
    });
}
