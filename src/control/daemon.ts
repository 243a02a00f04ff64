/**
 * `fatriot daemon`: a NIC and its control socket in one process, until SIGINT
 * or SIGTERM. It refuses to start over the live socket of another daemon,
 * removes a stale one, and removes its own on exit. With --config it applies a
 * configuration file (validated before anything starts) through its own socket,
 * the same path every client takes.
 */
import { FatriotClient } from './client.ts';
import { applyConfig, loadConfigFile, type FatriotConfigFile } from './config-file.ts';
import { createNic, type ControlledNic } from './nic.ts';
import { claimSocketPath, ControlServer } from './server.ts';

export interface DaemonOptions {
  socketPath: string;
  mode: 'sim' | 'tap';
  reference: boolean;
  configFile?: string;
  /** --tap: port name -> TAP device name. */
  taps?: Record<string, string>;
  log?: (line: string) => void;
}

export interface RunningDaemon {
  readonly nic: ControlledNic;
  readonly server: ControlServer;
  stop(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config: FatriotConfigFile | null = options.configFile === undefined ? null : loadConfigFile(options.configFile);
  await claimSocketPath(options.socketPath);
  const nic = await createNic({ mode: options.mode, reference: options.reference, ...(options.taps === undefined ? {} : { taps: options.taps }) });
  nic.start();
  let server: ControlServer;
  try {
    server = await ControlServer.listen({ socketPath: options.socketPath, nic, log });
  } catch (e) {
    await nic.stop();
    throw e;
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await server.close();
    await nic.stop();
  };
  if (config !== null) {
    try {
      const client = await FatriotClient.connect(options.socketPath);
      try {
        await applyConfig(client, config);
      } finally {
        client.close();
      }
    } catch (e) {
      await stop();
      throw new Error(`${options.configFile}: ${(e as Error).message}`);
    }
  }
  return { nic, server, stop };
}
