/**
 * Stand-in for a host's Fatriot NIC until the NIC process exists: opens the host's
 * dma0 and nf0 TAPs and copies every frame from one to the other, like a cable
 * through the NIC. Prints "ready" once both TAPs exist so the testbed can move their
 * kernel ends; exits on SIGTERM/SIGINT or when its stdin closes (the testbed owner
 * died), which closes the TAPs and so deletes them.
 *
 * usage: node --import tsx tools/testbed/standin-nic.ts --dma NAME --nf NAME [--testbed-id ID]
 */
import { parseArgs } from 'node:util';
import { TapPort } from '../../src/dataplane/tap.ts';

const { values } = parseArgs({
  options: {
    dma: { type: 'string' },
    nf: { type: 'string' },
    'testbed-id': { type: 'string' },
  },
});
if (values.dma === undefined || values.nf === undefined) {
  console.error('standin-nic: --dma NAME and --nf NAME are required');
  process.exit(2);
}

const dma = new TapPort({ name: values.dma });
const nf = new TapPort({ name: values.nf });
dma.attach((frame, cycle) => nf.transmit(frame, cycle));
nf.attach((frame, cycle) => dma.transmit(frame, cycle));

let closed = false;
function shutdown(): void {
  if (closed) return;
  closed = true;
  dma.close();
  nf.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
process.stdout.write(`ready ${dma.backendKind}\n`);
