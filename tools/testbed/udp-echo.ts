/**
 * The hosts' service: a UDP echo server (the paper's VMs "return the received
 * payload"). Run inside a host namespace by the testbed. Prints "ready PORT" once
 * bound; exits on SIGTERM/SIGINT or when stdin closes (the testbed owner died).
 *
 * Processing delay: on SIGHUP it reads a whole number of milliseconds from
 * --delay-file (missing or empty: 0) and holds every reply that long. The testbed
 * uses this where the kernel has no sch_netem (tc netem is the first choice).
 *
 * usage: node --import tsx tools/testbed/udp-echo.ts [--port 7007] [--delay-file PATH] [--testbed-id ID]
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '7007' },
    'delay-file': { type: 'string' },
    'testbed-id': { type: 'string' },
  },
});
const port = Number(values.port);
const socket = createSocket('udp4');
let delayMs = 0;

function readDelay(): void {
  const path = values['delay-file'];
  if (path === undefined) return;
  try {
    const text = readFileSync(path, 'utf8').trim();
    delayMs = text === '' ? 0 : Math.max(0, Number(text) || 0);
  } catch {
    delayMs = 0;
  }
}

function reply(message: Buffer, remote: RemoteInfo): void {
  socket.send(message, remote.port, remote.address);
}

socket.on('message', (message, remote) => {
  if (delayMs > 0) setTimeout(reply, delayMs, message, remote);
  else reply(message, remote);
});
socket.on('error', (error) => {
  console.error(`udp-echo: ${error.message}`);
  process.exit(1);
});

function shutdown(): void {
  socket.close();
  process.exit(0);
}
readDelay();
process.on('SIGHUP', readDelay);
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
socket.bind(port, () => process.stdout.write(`ready ${port}\n`));
