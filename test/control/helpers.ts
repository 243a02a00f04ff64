import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FatriotClient } from '../../src/control/client.ts';
import { StandInNic } from '../../src/control/nic.ts';
import { ControlServer } from '../../src/control/server.ts';

/** A stand-in NIC with its control server on a socket in a fresh temp directory. */
export async function startServer(): Promise<{ nic: StandInNic; server: ControlServer; socketPath: string; dir: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'fatriot-ctl-'));
  const socketPath = join(dir, 'nic0.sock');
  const nic = new StandInNic();
  nic.start();
  const server = await ControlServer.listen({ socketPath, nic });
  return {
    nic,
    server,
    socketPath,
    dir,
    stop: async () => {
      await server.close();
      nic.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function connect(socketPath: string): Promise<FatriotClient> {
  return FatriotClient.connect(socketPath, { timeoutMs: 5000 });
}
