import type { Command } from 'commander';
import { startDaemon } from '../../daemon.ts';
import { UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('daemon')
    .usage('[ --sim | --tap ] [ --reference ] [ --socket PATH ] [ --config FILE ]')
    .description('run an emulated NIC with its control socket until SIGINT/SIGTERM')
    .option('--sim', 'in-memory ports (default)')
    .option('--tap', 'TAP devices for the ports')
    .option('--reference', 'the reference NIC top instead of Fatriot')
    .option('--socket <path>', 'control socket (default: the global --socket)')
    .option('--config <file>', 'apply this configuration file at start (see fatriot save)')
    .action(async (opts: { sim?: boolean; tap?: boolean; reference?: boolean; socket?: string; config?: string }) => {
      if (opts.sim === true && opts.tap === true) throw new UsageError('give --sim or --tap, not both');
      const socketPath = opts.socket ?? ctx.socketPath;
      const daemon = await startDaemon({
        socketPath,
        mode: opts.tap === true ? 'tap' : 'sim',
        reference: opts.reference === true,
        ...(opts.config === undefined ? {} : { configFile: opts.config }),
      });
      ctx.stdout(`fatriot daemon: ${daemon.nic.description}; control socket ${socketPath}; pid ${process.pid}`);
      await ctx.waitForStop();
      await daemon.stop();
    });
}
