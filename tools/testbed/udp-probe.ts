/**
 * A traffic generator client: sends COUNT UDP requests to HOST:PORT, one every
 * INTERVAL ms, each carrying its sequence number, and prints one JSON line:
 * { sent, received, rttUs: (number | null)[] } (null: no reply within the timeout).
 * Run inside the generator's namespace: ip netns exec ftgen node --import tsx ...
 *
 * usage: udp-probe.ts --host 10.77.0.10 [--port 7007] [--count 10] [--interval-ms 100]
 *                     [--timeout-ms 1000] [--size 64]
 */
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '7007' },
    count: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '100' },
    'timeout-ms': { type: 'string', default: '1000' },
    size: { type: 'string', default: '64' },
  },
});
if (values.host === undefined) {
  console.error('udp-probe: --host is required');
  process.exit(2);
}
const host = values.host;
const port = Number(values.port);
const count = Number(values.count);
const intervalMs = Number(values['interval-ms']);
const timeoutMs = Number(values['timeout-ms']);
const size = Math.max(8, Number(values.size));

const sentAtNs: bigint[] = [];
const rttUs: (number | null)[] = new Array(count).fill(null);
let received = 0;
const socket = createSocket('udp4');
socket.on('message', (message) => {
  if (message.length < 4) return;
  const seq = message.readUInt32BE(0);
  if (seq >= count || rttUs[seq] !== null) return;
  rttUs[seq] = Number(process.hrtime.bigint() - sentAtNs[seq]!) / 1000;
  received++;
});

function finish(): void {
  socket.close();
  process.stdout.write(`${JSON.stringify({ sent: sentAtNs.length, received, rttUs })}\n`);
}

socket.bind(0, () => {
  let seq = 0;
  const sendOne = (): void => {
    const payload = Buffer.alloc(size);
    payload.writeUInt32BE(seq, 0);
    sentAtNs[seq] = process.hrtime.bigint();
    socket.send(payload, port, host);
    seq++;
    if (seq < count) setTimeout(sendOne, intervalMs);
    else setTimeout(finish, timeoutMs);
  };
  sendOne();
});
