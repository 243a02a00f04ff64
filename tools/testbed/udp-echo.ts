/**
 * The hosts' service: a UDP echo server (the paper's VMs "return the received
 * payload"). Run inside a host namespace by the testbed. Prints "ready PORT" once
 * bound; exits on SIGTERM/SIGINT or when stdin closes (the testbed owner died).
 *
 * usage: node --import tsx tools/testbed/udp-echo.ts [--port 7007] [--testbed-id ID]
 */
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '7007' },
    'testbed-id': { type: 'string' },
  },
});
const port = Number(values.port);
const socket = createSocket('udp4');
socket.on('message', (message, remote) => {
  socket.send(message, remote.port, remote.address);
});
socket.on('error', (error) => {
  console.error(`udp-echo: ${error.message}`);
  process.exit(1);
});

function shutdown(): void {
  socket.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
socket.bind(port, () => process.stdout.write(`ready ${port}\n`));
