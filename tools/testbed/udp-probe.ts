/**
 * A traffic generator client: sends COUNT UDP requests to HOST:PORT, one every
 * INTERVAL ms on a fixed schedule (request k is due at start + k x INTERVAL, so a late
 * timer does not shift the rest), each carrying its sequence number (big-endian u32 at
 * offset 0), and prints one JSON line when done:
 *   { sent, received, rttUs: (number | null)[], sendUs: number[], startUs, badSource }
 * rttUs: null when no reply came within the timeout; sendUs: wall clock (µs since the
 * epoch) each request left; badSource: replies that did not come from HOST:PORT (a
 * fail-safe relay must hide the backup's address, SPEC 3.4), which are not counted.
 * Run inside the generator's namespace: ip netns exec ftgen node --import tsx ...
 *
 * --wait-start: once bound, print "ready" and wait for a line "start EPOCH_MS" on stdin;
 * the first request is due then (the experiments align faults with the schedule).
 *
 * usage: udp-probe.ts --host 10.77.0.10 [--port 7007] [--count 10] [--interval-ms 100]
 *                     [--timeout-ms 1000] [--size 64] [--wait-start]
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '7007' },
    count: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '100' },
    'timeout-ms': { type: 'string', default: '1000' },
    size: { type: 'string', default: '64' },
    'wait-start': { type: 'boolean', default: false },
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

/** Wall clock in µs since the epoch, with sub-ms resolution. */
function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

const sentAtNs: bigint[] = [];
const sendUs: number[] = [];
const rttUs: (number | null)[] = new Array(count).fill(null);
let received = 0;
let badSource = 0;
let startUs = 0;
const socket = createSocket('udp4');
socket.on('message', (message, remote) => {
  if (remote.address !== host || remote.port !== port) {
    badSource++;
    return;
  }
  if (message.length < 4) return;
  const seq = message.readUInt32BE(0);
  if (seq >= sentAtNs.length || rttUs[seq] !== null) return;
  rttUs[seq] = Number(process.hrtime.bigint() - sentAtNs[seq]!) / 1000;
  received++;
});

function finish(): void {
  socket.close();
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  const out = { sent: sentAtNs.length, received, rttUs: rttUs.map((v) => (v === null ? null : round(v))), sendUs: sendUs.map(Math.round), startUs: Math.round(startUs), badSource };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function run(startAtUs: number): void {
  startUs = Math.max(startAtUs, nowUs());
  let seq = 0;
  const sendOne = (): void => {
    const payload = Buffer.alloc(size);
    payload.writeUInt32BE(seq, 0);
    sentAtNs[seq] = process.hrtime.bigint();
    sendUs[seq] = nowUs();
    socket.send(payload, port, host);
    seq++;
    if (seq < count) setTimeout(sendOne, Math.max(0, (startUs + seq * intervalMs * 1000 - nowUs()) / 1000));
    else setTimeout(finish, timeoutMs);
  };
  setTimeout(sendOne, Math.max(0, (startUs - nowUs()) / 1000));
}

socket.bind(0, () => {
  if (!values['wait-start']) {
    run(nowUs());
    return;
  }
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const m = /^start\s+([\d.]+)\s*$/.exec(line);
    if (m === null) return;
    lines.close();
    // stdin must not keep the process alive once the schedule is known.
    process.stdin.destroy();
    run(Number(m[1]) * 1000);
  });
  process.stdout.write('ready\n');
});
