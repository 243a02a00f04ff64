import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../src/dataplane/memory-link.ts';
import { FatriotNic } from '../../src/pipeline/nic/fatriot-nic.ts';
import { ReferenceNic } from '../../src/pipeline/nic/reference-nic.ts';
import { buildArpFrame, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame } from '../../src/pipeline/wire/build.ts';
import { NicConfigurator } from '../../tools/experiments/configure.ts';

/**
 * SPEC 9: any frame (truncated, bad lengths, bad IHL, fragments, IPv6, VLAN, jumbo,
 * garbage) goes through the model without an exception, is forwarded or dropped by
 * rule, every drop is counted, and no packet buffer leaks.
 */
const base = [
  buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:0b', srcIp: '10.0.0.1', dstIp: '10.0.0.11', srcPort: 40000, dstPort: 7007, payloadLength: 40 }),
  buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:0b', srcIp: '10.0.0.1', dstIp: '10.0.0.11', srcPort: 40000, dstPort: 7007, payloadLength: 40, vlanId: 12 }),
  buildTcpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:0b', srcIp: '10.0.0.1', dstIp: '10.0.0.11', srcPort: 40001, dstPort: 80, payloadLength: 100 }),
  buildIcmpEchoFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:0b', srcIp: '10.0.0.1', dstIp: '10.0.0.110', type: 'request', identifier: 9, sequence: 1, payloadLength: 16 }),
  buildArpFrame({ op: 'request', senderMac: '02:00:00:00:00:01', senderIp: '10.0.0.1', targetMac: '00:00:00:00:00:00', targetIp: '10.0.0.110' }),
  buildUdpFrame({ srcMac: '02:00:00:00:00:15', dstMac: '02:00:00:00:00:6e', srcIp: '10.0.0.21', dstIp: '10.0.0.110', srcPort: 7007, dstPort: 20001, payloadLength: 8 }),
];

const frameArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 1600 }),
  fc.uint8Array({ minLength: 9000, maxLength: 9100 }),
  fc.record({
    which: fc.integer({ min: 0, max: base.length - 1 }),
    cut: fc.integer({ min: 0, max: 200 }),
    flips: fc.array(fc.record({ at: fc.integer({ min: 0, max: 180 }), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
  }).map(({ which, cut, flips }) => {
    const f = base[which]!.slice(0, Math.max(0, base[which]!.length - cut));
    for (const { at, value } of flips) if (at < f.length) f[at] = value;
    return f;
  }),
);

function run(makeNic: () => ReferenceNic | FatriotNic, frames: { frame: Uint8Array; fromHost: boolean }[], configure: boolean) {
  return (async () => {
    const nic = makeNic();
    const [nf, wire] = createMemoryLink('nf0', 'wire');
    const [dma, host] = createMemoryLink('dma0', 'host');
    nic.attach({ nf: [nf], dma: [dma] });
    let toHost = 0;
    let toWire = 0;
    host.attach(() => toHost++);
    wire.attach(() => toWire++);
    if (configure && nic instanceof FatriotNic) {
      const cfg = new NicConfigurator(nic);
      await cfg.nicAddresses({ relayIp: '10.0.0.110', relayMac: '02:00:00:00:00:6e', hostIp: '10.0.0.10', relayPortBase: 20000, relayPortCount: 256 });
      await cfg.target({ ip: '10.0.0.11', proto: 'udp', port: 7007, svcId: 1, critical: true });
      await cfg.service({ ip: '10.0.0.11', proto: 'udp', port: 7007, backupIp: '10.0.0.21', backupPort: 7007 });
      await cfg.failsafeMode(1, 'on');
    }
    let fromWire = 0;
    let fromHostCount = 0;
    frames.forEach(({ frame, fromHost }, i) => {
      (fromHost ? host : wire).transmit(frame, nic.sim.now + i * 400);
      if (fromHost) fromHostCount++;
      else fromWire++;
    });
    // Long enough for every timer (ARP holds give up after 1 s of model time); idle time is free.
    nic.sim.runUntil(nic.sim.now + frames.length * 400 + 2 * nic.coreHz);
    return { nic, toHost, toWire, fromWire, fromHostCount };
  })();
}

describe('any frame through the NICs', () => {
  for (const [name, make] of [
    ['reference', () => new ReferenceNic()],
    ['fatriot', () => new FatriotNic()],
  ] as const) {
    it(`${name}: never throws, accounts for every frame at the MAC, and leaks no buffer`, async () => {
      const result = await fc.check(
        fc.asyncProperty(fc.array(fc.record({ frame: frameArb, fromHost: fc.boolean() }), { minLength: 1, maxLength: 40 }), fc.boolean(), async (frames, configure) => {
          const { nic, toHost, fromWire, fromHostCount } = await run(make, frames, configure);
          // Each frame is taken in at its ingress (MAC or DMA) or dropped there, counted by reason.
          const accepted = nic.counter('nf0.rxPackets') + nic.counter('dma0.rxPackets');
          const dropped = nic.counter('drop.runtFrame') + nic.counter('drop.oversizeFrame') + nic.counter('drop.inputFifoFull');
          expect(accepted + dropped).toBe(fromWire + fromHostCount);
          expect(toHost).toBeLessThanOrEqual(nic.counter('nf0.rxPackets') + (nic instanceof FatriotNic ? nic.counter('event.heartbeatsSent') : 0));
          expect(nic.pool.inUse).toBe(0);
        }),
        { seed: 20261123, numRuns: 60, endOnFailure: true },
      );
      // Report a failure compactly: frames can be 9 KB each.
      if (result.failed) {
        const [frames, configure] = result.counterexample ?? [[], false];
        const shape = frames.map((f) => `${f.fromHost ? 'host' : 'wire'}:${f.frame.length}B:${Buffer.from(f.frame.subarray(0, 24)).toString('hex')}`);
        throw new Error(`seed ${result.seed}: configure=${configure} frames=${shape.join(' ')}: ${String(result.errorInstance).slice(0, 300)}`);
      }
    });
  }
});
