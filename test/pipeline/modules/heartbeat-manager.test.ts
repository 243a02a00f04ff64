import { describe, expect, it } from 'vitest';
import { FLAG_FROM_HEARTBEAT, srcForHostEgress } from '../../../src/pipeline/modules/fatriot-tuser.ts';
import { HEARTBEAT_PORT_BASE, HeartbeatManager } from '../../../src/pipeline/modules/heartbeat-manager.ts';
import { AxiLiteBus } from '../../../src/pipeline/regs/axi-lite-bus.ts';
import { FatriotRegisters } from '../../../src/pipeline/regs/fatriot-registers.ts';
import { counterIndex, enumValue, packEntry, tableSpec, windowAddress } from '../../../src/pipeline/regs/register-map.ts';
import { AxisSink, AxisSource } from '../../../src/pipeline/sim/axis-testbench.ts';
import { AxisChannel } from '../../../src/pipeline/sim/channel.ts';
import { PacketPool } from '../../../src/pipeline/sim/packet.ts';
import { RegisteredVector } from '../../../src/pipeline/sim/registered-vector.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { parseIpv4 } from '../../../src/pipeline/wire/address.ts';
import { buildIcmpEchoFrame } from '../../../src/pipeline/wire/build.ts';
import { parseIcmp } from '../../../src/pipeline/wire/icmp.ts';
import { parseIpv4Header } from '../../../src/pipeline/wire/ipv4.ts';
import { parseUdp } from '../../../src/pipeline/wire/udp.ts';
import {
  CORE_HZ,
  cyclesOfS,
  cyclesOfUs,
  HOST_IP,
  makeBench,
  NIC_MAC,
  RELAY_IP,
  type SeenHeartbeat,
} from './heartbeat-manager-testbench.ts';

const hbSpec = tableSpec('heartbeatTable');
const STATE_LEARNING = enumValue(hbSpec, 'state', 'learning');
const STATE_NORMAL = enumValue(hbSpec, 'state', 'normal');
const STATE_FAILSAFE = enumValue(hbSpec, 'state', 'failsafe');
const modeSpec = tableSpec('failsafeMode');
const MODE_AUTO = enumValue(modeSpec, 'mode', 'auto');
const MODE_ON = enumValue(modeSpec, 'mode', 'on');
const MODE_OFF = enumValue(modeSpec, 'mode', 'off');

describe('heartbeat manager: the paper\'s Fig. 5 table (Fatriot 3.4)', () => {
  // Fatriot 3.4, Fig. 5 text, at coreHz = 160 MHz (6.25 ns a cycle):
  // "Service 1 ... ICMP, operates every 1 s, and the threshold is set to 1.5. Its average RTT is
  //  measured as 200 us, the last RTT is measured 250 us, and the ratio is 1.25 ... normal."
  // "Service 2 ... a user-defined message, and its interval is set to be relatively long at 5 s ...
  //  Its ratio is 0.93, i.e., it is also normal." (threshold and RTT_avg not given: 1.5 and 100 us here)
  // "Service 3, its interval 0.5 s ... the last RTT is measured as 600 us as the heartbeat has timed
  //  out by exceeding the threshold ... the fail-safe mode for Service 3 is activated."
  // A timeout at 600 us with threshold 1.5 means RTT_avg = 400 us (timeout = RTT_avg x threshold).
  const LEARN = 3;
  const svc1 = { avg: cyclesOfUs(200), last: cyclesOfUs(250), interval: cyclesOfS(1) };
  const svc2 = { avg: cyclesOfUs(100), last: cyclesOfUs(93), interval: cyclesOfS(5) };
  const svc3 = { avg: cyclesOfUs(400), interval: cyclesOfS(0.5) };
  const message = new TextEncoder().encode('GET /health?expect=error');

  function run() {
    const delays: Record<number, (hb: SeenHeartbeat) => number | null> = {
      0: (hb) => (hb.index < LEARN ? svc1.avg : svc1.last),
      1: (hb) => (hb.index < LEARN ? svc2.avg : svc2.last),
      2: (hb) => (hb.index < LEARN ? svc3.avg : null),
    };
    const b = makeBench((hb) => delays[hb.entry]!(hb));
    b.configure(0, { serviceId: 1, kind: 'icmp', targetIp: '10.0.1.1', intervalCycles: svc1.interval, thresholdMilli: 1500, learnSamples: LEARN });
    b.configure(1, {
      serviceId: 2,
      kind: 'raw',
      targetIp: '10.0.1.2',
      udpPort: 7000,
      payload: message,
      intervalCycles: svc2.interval,
      thresholdMilli: 1500,
      learnSamples: LEARN,
    });
    b.configure(2, { serviceId: 3, kind: 'icmp', targetIp: '10.0.1.3', intervalCycles: svc3.interval, thresholdMilli: 1500, learnSamples: LEARN });
    // Service 2 learns at 0, 5 and 10 s and is first monitored at 15 s.
    b.sim.runUntil(cyclesOfS(15.5));
    return b;
  }

  it('service 1: RTT_avg 200 us, last 250 us, ratio 1.25 < 1.5: normal', () => {
    const b = run();
    expect(b.status(0, 'rttAvgCycles')).toBe(32_000);
    expect(b.status(0, 'rttLastCycles')).toBe(40_000);
    expect(b.status(0, 'ratioMilli')).toBe(1250);
    expect(b.status(0, 'state')).toBe(STATE_NORMAL);
    expect(b.status(0, 'failsafeActive')).toBe(0);
    expect(b.failsafe.value[1]).toBe(0);
  });

  it('service 2: user-defined message, ratio 0.93: normal', () => {
    const b = run();
    expect(b.status(1, 'rttAvgCycles')).toBe(16_000);
    expect(b.status(1, 'rttLastCycles')).toBe(14_880);
    expect(b.status(1, 'ratioMilli')).toBe(930);
    expect(b.status(1, 'state')).toBe(STATE_NORMAL);
    expect(b.failsafe.value[2]).toBe(0);
    const sent = b.echo.seen.filter((h) => h.entry === 1);
    expect(sent).toHaveLength(LEARN + 1);
    const hb = sent[0]!;
    expect(hb.proto).toBe('udp');
    expect(hb.dstPort).toBe(7000);
    const l4 = 14 + 20;
    const udp = parseUdp(hb.packet.data, l4, hb.packet.length - l4, parseIpv4(RELAY_IP), parseIpv4('10.0.1.2'));
    expect(udp.ok && [...udp.repr.payload]).toEqual([...message]);
  });

  it('service 3: interval 0.5 s, no reply: times out at 600 us = 1.5 x 400 us, fail-safe on', () => {
    const b = run();
    expect(b.status(2, 'rttAvgCycles')).toBe(64_000);
    expect(b.status(2, 'rttLastCycles')).toBe(cyclesOfUs(600));
    expect(b.status(2, 'ratioMilli')).toBe(1500);
    expect(b.status(2, 'state')).toBe(STATE_FAILSAFE);
    expect(b.status(2, 'failsafeActive')).toBe(1);
    expect(b.failsafe.value[3]).toBe(1);
    expect(b.regs.failsafeMode.get(3, b.regs.failsafeMode.fieldIndex('active'))).toBe(1);
    // Learning at 0, 0.5, 1 s; the first monitoring heartbeat leaves at 1.5 s and times out 600 us later.
    const first = b.echo.seen.filter((h) => h.entry === 2)[LEARN]!;
    expect(b.failsafeEvents()).toEqual([{ kind: 'failsafe', serviceId: 3, active: true, cause: 'heartbeat', cycle: first.cycle + cyclesOfUs(600) }]);
    const timeouts = b.heartbeatEvents(3).filter((e) => e.timedOut);
    expect(timeouts[0]).toEqual({ kind: 'heartbeat', serviceId: 3, rttCycles: 96_000, rttAvgCycles: 64_000, ratio: 1.5, timedOut: true, cycle: first.cycle + 96_000 });
    // Heartbeats keep going every 0.5 s: 1.5 s .. 15 s is 28 monitoring heartbeats, all timed out.
    expect(timeouts).toHaveLength(28);
    expect(b.regs.counters.values[counterIndex('event.heartbeatTimeouts')]).toBe(28);
  });

  it('sends one heartbeat per interval per entry and counts sends and replies', () => {
    const b = run();
    const by = (e: number) => b.echo.seen.filter((h) => h.entry === e).map((h) => h.cycle);
    // All three slots fall on cycle 1 + k x interval (the entries became visible at 0). When slots
    // coincide the heartbeats leave back to back: ICMP 2 beats, the 66-byte raw message 3 beats.
    expect(by(0).slice(0, 3)).toEqual([1, 1 + svc1.interval, 1 + 2 * svc1.interval]);
    expect(by(1)).toEqual([3, 3 + svc2.interval, 3 + 2 * svc2.interval, 3 + 3 * svc2.interval]);
    expect(by(2).slice(0, 3)).toEqual([6, 1 + svc3.interval, 3 + 2 * svc3.interval]);
    const sent = b.echo.seen.length;
    expect(b.regs.counters.values[counterIndex('event.heartbeatsSent')]).toBe(sent);
    expect(b.regs.counters.values[counterIndex('event.heartbeatReplies')]).toBe(b.echo.repliesDelivered.length);
    expect(b.regs.counters.values[counterIndex('event.failsafeActivations')]).toBe(1);
  });
});

describe('heartbeat manager: exact cycles', () => {
  // RTT 333 cycles, threshold 1.5: T = ceil(333 x 1.5) = ceil(499.5) = 500 cycles (rounded up).
  const I = 10_000;
  const r = 333;
  const T = 500;

  it('activates fail-safe exactly send + ceil(RTT_avg x threshold) cycles after an unanswered heartbeat', () => {
    const b = makeBench((hb) => (hb.index < 4 ? r : null));
    b.configure(0, { serviceId: 5, kind: 'icmp', targetIp: '10.0.2.5', intervalCycles: I, thresholdMilli: 1500, learnSamples: 2 });
    const send4 = 1 + 4 * I;
    b.sim.runUntil(send4 + T);
    expect(b.echo.seen[4]!.cycle).toBe(send4);
    expect(b.hm.timeoutCyclesOf(0)).toBe(T);
    expect(b.failsafe.value[5]).toBe(0);
    b.sim.runUntil(send4 + T + 1);
    expect(b.failsafe.value[5]).toBe(1);
    expect(b.failsafeEvents()).toEqual([{ kind: 'failsafe', serviceId: 5, active: true, cause: 'heartbeat', cycle: send4 + T }]);
    expect(b.status(0, 'lastSampleCycle')).toBe(send4 + T);
  });

  it('detects a fault starting at F no later than F + interval + T', () => {
    for (const F of [2 + 3 * I, 1 + 4 * I, 3 * I + 5000]) {
      const b = makeBench((hb) => (hb.cycle < F ? r : null));
      b.configure(0, { serviceId: 5, kind: 'icmp', targetIp: '10.0.2.5', intervalCycles: I, thresholdMilli: 1500, learnSamples: 2 });
      b.sim.runUntil(F + I + T + 10);
      const firstAfter = b.echo.seen.find((h) => h.cycle >= F)!.cycle;
      const on = b.failsafeEvents()[0]!;
      expect(on.cycle).toBe(firstAfter + T);
      expect(on.cycle).toBeLessThanOrEqual(F + I + T);
      expect(on.cycle).toBeGreaterThanOrEqual(F);
    }
  });

  it('a reply in the timeout cycle at exactly RTT_avg x threshold is normal; one cycle later is fail-safe', () => {
    // RTT_avg 200, threshold 1.5: T = 300 exactly; RTT 300 gives ratio 1.5, not above the threshold.
    for (const [last, expectOn] of [
      [300, false],
      [301, true],
    ] as const) {
      const b = makeBench((hb) => (hb.index < 1 ? 200 : last));
      b.configure(0, { serviceId: 6, kind: 'icmp', targetIp: '10.0.2.6', intervalCycles: 5000, thresholdMilli: 1500, learnSamples: 1 });
      b.sim.runUntil(5000 + 1 + 1000);
      expect(b.status(0, 'rttAvgCycles')).toBe(200);
      if (expectOn) {
        // The timer fires at send + 300; the late reply at 301 is a second sample that keeps it on.
        expect(b.failsafeEvents()).toEqual([{ kind: 'failsafe', serviceId: 6, active: true, cause: 'heartbeat', cycle: 5001 + 300 }]);
        expect(b.heartbeatEvents().map((e) => [e.rttCycles, e.timedOut])).toEqual([
          [200, false],
          [300, true],
          [301, false],
        ]);
        expect(b.status(0, 'ratioMilli')).toBe(1505);
        expect(b.status(0, 'state')).toBe(STATE_FAILSAFE);
      } else {
        expect(b.failsafeEvents()).toEqual([]);
        expect(b.status(0, 'ratioMilli')).toBe(1500);
        expect(b.status(0, 'state')).toBe(STATE_NORMAL);
      }
    }
  });

  it('gives the same events and cycles whatever the order of evaluation', () => {
    const runWith = (shuffleSeed?: number) => {
      const b = makeBench((hb) => (hb.index < 3 || hb.index > 6 ? 400 + hb.index : hb.index === 5 ? null : 900), shuffleSeed === undefined ? {} : { shuffleSeed });
      b.configure(0, { serviceId: 7, kind: 'icmp', targetIp: '10.0.2.7', intervalCycles: 3000, thresholdMilli: 1200, learnSamples: 3 });
      b.configure(1, { serviceId: 8, kind: 'udp', targetIp: '10.0.2.8', udpPort: 9, intervalCycles: 2000, thresholdMilli: 2000, learnSamples: 2 });
      b.sim.runUntil(40_000);
      return b.events;
    };
    const reference = runWith();
    expect(reference.filter((e) => e.kind === 'failsafe').length).toBeGreaterThan(0);
    for (const seed of [1, 7, 12345]) expect(runWith(seed)).toEqual(reference);
  });
});

describe('heartbeat manager: deactivation, forced modes, host-level failure', () => {
  it('deactivates fail-safe when a later heartbeat comes back under the threshold', () => {
    // Fatriot 3.4: "if the last RTT returns to within the threshold again, the fail-safe mode is deactivated".
    const I = 4000;
    const b = makeBench((hb) => (hb.index === 3 || hb.index === 4 ? 1000 : 300));
    b.configure(0, { serviceId: 4, kind: 'icmp', targetIp: '10.0.3.4', intervalCycles: I, thresholdMilli: 1500, learnSamples: 2 });
    b.sim.runUntil(7 * I);
    const s = b.echo.seen;
    expect(b.failsafeEvents()).toEqual([
      { kind: 'failsafe', serviceId: 4, active: true, cause: 'heartbeat', cycle: s[3]!.cycle + 450 },
      { kind: 'failsafe', serviceId: 4, active: false, cause: 'recovered', cycle: s[5]!.cycle + 300 },
    ]);
    expect(b.failsafe.value[4]).toBe(0);
    expect(b.status(0, 'state')).toBe(STATE_NORMAL);
    expect(b.regs.counters.values[counterIndex('event.failsafeDeactivations')]).toBe(1);
  });

  it('forced on and off override the heartbeat verdict from the cycle the register write is visible', async () => {
    const I = 4000;
    const b = makeBench((hb) => (hb.index < 2 ? 300 : null));
    const bus = b.sim.add(new AxiLiteBus());
    b.regs.attach(bus);
    const applied: number[] = [];
    bus.observer = (isWrite, address, _v, cycle) => {
      if (isWrite && address === windowAddress(modeSpec, 'CMD')) applied.push(cycle);
    };
    const setMode = async (svc: number, mode: number) => {
      const data = packEntry(modeSpec, { mode });
      const done = Promise.all([
        bus.write(windowAddress(modeSpec, 'ADDR'), svc),
        bus.write(windowAddress(modeSpec, 0), data[0]!),
        bus.write(windowAddress(modeSpec, 'CMD'), 2),
      ]);
      b.sim.runUntil(b.sim.now + 10);
      await done;
      return applied[applied.length - 1]! + 1;
    };
    b.configure(0, { serviceId: 4, kind: 'icmp', targetIp: '10.0.3.4', intervalCycles: I, thresholdMilli: 1500, learnSamples: 2 });
    b.sim.runUntil(1000);
    const active = b.regs.failsafeMode.fieldIndex('active');

    // Forced on while the heartbeat says normal.
    const onAt = await setMode(4, MODE_ON);
    expect(b.failsafeEvents()).toEqual([{ kind: 'failsafe', serviceId: 4, active: true, cause: 'forced', cycle: onAt }]);
    expect(b.failsafe.value[4]).toBe(1);
    expect(b.regs.failsafeMode.get(4, active)).toBe(1);
    // Also a service with no heartbeat at all.
    const on9 = await setMode(9, MODE_ON);
    expect(b.failsafeEvents()[1]).toEqual({ kind: 'failsafe', serviceId: 9, active: true, cause: 'forced', cycle: on9 });

    // Back to auto: learning is not over, so no verdict: off.
    const autoAt = await setMode(4, MODE_AUTO);
    expect(b.failsafeEvents()[2]).toEqual({ kind: 'failsafe', serviceId: 4, active: false, cause: 'cleared', cycle: autoAt });

    // The heartbeat at 2I times out: the verdict turns it on.
    b.sim.runUntil(2 * I + 1000);
    expect(b.failsafeEvents()[3]).toEqual({ kind: 'failsafe', serviceId: 4, active: true, cause: 'heartbeat', cycle: 2 * I + 1 + 450 });
    // Forced off while the heartbeat says fail-safe.
    const offAt = await setMode(4, MODE_OFF);
    expect(b.failsafeEvents()[4]).toEqual({ kind: 'failsafe', serviceId: 4, active: false, cause: 'cleared', cycle: offAt });
    expect(b.failsafe.value[4]).toBe(0);
    expect(b.regs.failsafeMode.get(4, active)).toBe(0);
    expect(b.status(0, 'state')).toBe(STATE_FAILSAFE);
    expect(b.status(0, 'failsafeActive')).toBe(0);
    // Auto again: follows the verdict, which is still fail-safe.
    const auto2 = await setMode(4, MODE_AUTO);
    expect(b.failsafeEvents()[5]).toEqual({ kind: 'failsafe', serviceId: 4, active: true, cause: 'heartbeat', cycle: auto2 });
    expect(b.failsafe.value[4]).toBe(1);
  });

  it('a failed host-level heartbeat puts every registered service in fail-safe', () => {
    // Fatriot 3.4: "If an entire host is in an abnormal state (e.g., kernel failures), the fail-safe
    // mode is automatically activated for all registered services".
    const I = 5000;
    const hostDown = (hb: SeenHeartbeat) => hb.cycle >= 3 * I && hb.cycle < 5 * I;
    const b = makeBench((hb) => (hb.entry === 2 && hostDown(hb) ? null : 200));
    b.configure(0, { serviceId: 1, kind: 'icmp', targetIp: '10.0.1.1', intervalCycles: I, thresholdMilli: 1500, learnSamples: 1 });
    b.configure(1, { serviceId: 2, kind: 'udp', targetIp: '10.0.1.2', udpPort: 7000, intervalCycles: I, thresholdMilli: 1500, learnSamples: 1 });
    // targetIp 0: the host entry pings nicConfig.hostIp.
    b.configure(2, { serviceId: 9, kind: 'host', intervalCycles: I, thresholdMilli: 1500, learnSamples: 1 });
    b.sim.runUntil(7 * I);
    const hostHbs = b.echo.seen.filter((h) => h.entry === 2);
    expect(hostHbs[0]!.dstIp).toBe(HOST_IP);
    expect(hostHbs[0]!.proto).toBe('icmp');
    const down = hostHbs.find((h) => h.cycle >= 3 * I)!.cycle + 300;
    const up = hostHbs.find((h) => h.cycle >= 5 * I)!.cycle + 200;
    const fs = b.failsafeEvents();
    expect(fs).toEqual([
      { kind: 'failsafe', serviceId: 1, active: true, cause: 'host', cycle: down },
      { kind: 'failsafe', serviceId: 2, active: true, cause: 'host', cycle: down },
      { kind: 'failsafe', serviceId: 9, active: true, cause: 'host', cycle: down },
      { kind: 'failsafe', serviceId: 1, active: false, cause: 'recovered', cycle: up },
      { kind: 'failsafe', serviceId: 2, active: false, cause: 'recovered', cycle: up },
      { kind: 'failsafe', serviceId: 9, active: false, cause: 'recovered', cycle: up },
    ]);
    // Services' own heartbeats stayed normal throughout.
    expect(b.status(0, 'state')).toBe(STATE_NORMAL);
    expect(b.status(1, 'state')).toBe(STATE_NORMAL);
  });

  it('a rewritten entry restarts learning and drops its verdict', () => {
    const I = 3000;
    const b = makeBench((hb) => (hb.index < 2 ? 100 : hb.index < 4 ? null : 700));
    b.configure(0, { serviceId: 4, kind: 'icmp', targetIp: '10.0.3.4', intervalCycles: I, thresholdMilli: 1500, learnSamples: 2 });
    b.sim.runUntil(3 * I);
    expect(b.failsafe.value[4]).toBe(1);
    b.sim.runUntil(3 * I + 500);
    const at = b.sim.now;
    b.configure(0, { serviceId: 4, kind: 'icmp', targetIp: '10.0.3.4', intervalCycles: I, thresholdMilli: 1500, learnSamples: 2 });
    b.sim.runUntil(at + 1);
    expect(b.failsafeEvents().at(-1)).toEqual({ kind: 'failsafe', serviceId: 4, active: false, cause: 'cleared', cycle: at });
    expect(b.status(0, 'state')).toBe(STATE_LEARNING);
    expect(b.status(0, 'samples')).toBe(0);
    expect(b.status(0, 'rttAvgCycles')).toBe(0);
    // Heartbeats 4 and 5 (from at + 1 on) learn the new RTT of 700 cycles.
    b.sim.runUntil(at + 1 + 2 * I);
    expect(b.echo.seen[4]!.cycle).toBe(at + 1);
    expect(b.status(0, 'rttAvgCycles')).toBe(700);
    expect(b.status(0, 'state')).toBe(STATE_NORMAL);
    expect(b.failsafe.value[4]).toBe(0);
  });

  it('an invalid entry sends nothing and registers no service', () => {
    const b = makeBench(() => 100);
    b.configure(0, { serviceId: 1, kind: 'host', intervalCycles: 1000, thresholdMilli: 1500, learnSamples: 1, valid: false });
    b.configure(1, { serviceId: 2, kind: 'icmp', targetIp: '10.0.1.2', intervalCycles: 0, thresholdMilli: 1500, learnSamples: 1 });
    b.sim.runUntil(100_000);
    expect(b.echo.seen).toEqual([]);
    expect(b.sim.evaluatedCycles).toBe(1);
  });
});

describe('heartbeat manager: heartbeat packets', () => {
  it('builds an ICMP echo request from the relay address with identifier 0xF000 + entry and a rising sequence', () => {
    const b = makeBench(() => 50, { dmaPort: 2 });
    b.configure(3, {
      serviceId: 1,
      kind: 'icmp',
      targetIp: '10.0.1.1',
      targetMac: '02:00:00:00:01:01',
      intervalCycles: 1000,
      thresholdMilli: 1500,
      learnSamples: 1,
      payload: Uint8Array.of(1, 2, 3, 4, 5),
    });
    b.sim.runUntil(2500);
    const [h0, h1, h2] = b.echo.seen;
    expect([h0!.seq, h1!.seq, h2!.seq]).toEqual([1, 2, 3]);
    const p = h1!.packet;
    expect(p.srcPort).toBe(srcForHostEgress(2));
    expect(p.flags).toBe(FLAG_FROM_HEARTBEAT);
    expect(p.serviceId).toBe(1);
    expect(p.length).toBe(60);
    expect(h1!.dstMac).toBe('02:00:00:00:01:01');
    expect(h1!.srcMac).toBe(NIC_MAC);
    const ip = parseIpv4Header(p.data, 14, p.length - 14);
    expect(ip.ok).toBe(true);
    if (!ip.ok) return;
    expect(ip.repr).toMatchObject({ srcAddr: parseIpv4(RELAY_IP), dstAddr: parseIpv4('10.0.1.1'), protocol: 1, ttl: 64, payloadLength: 13, dontFragment: true });
    const icmp = parseIcmp(p.data, 34, 13);
    expect(icmp).toEqual({ ok: true, repr: { type: 8, code: 0, identifier: HEARTBEAT_PORT_BASE + 3, sequence: 2, payload: Uint8Array.of(1, 2, 3, 4, 5) } });
  });

  it('builds a UDP heartbeat to targetIp:udpPort from port 0xF000 + entry, broadcast MAC when none is set', () => {
    const b = makeBench(() => 50);
    const payload = new Uint8Array(64).map((_, i) => 255 - i);
    b.configure(5, { serviceId: 2, kind: 'udp', targetIp: '10.0.1.2', udpPort: 5353, intervalCycles: 1000, thresholdMilli: 1500, learnSamples: 1, payload });
    b.sim.runUntil(10);
    const h = b.echo.seen[0]!;
    expect(h.dstMac).toBe('ff:ff:ff:ff:ff:ff');
    expect(h.packet.length).toBe(14 + 20 + 8 + 64);
    expect(h.packet.beats).toBe(4);
    const udp = parseUdp(h.packet.data, 34, 72, parseIpv4(RELAY_IP), parseIpv4('10.0.1.2'));
    expect(udp).toEqual({ ok: true, repr: { srcPort: HEARTBEAT_PORT_BASE + 5, dstPort: 5353, payload } });
  });

  it('releases replies to the pool and ignores replies that match no outstanding heartbeat', () => {
    const sim = new Simulator();
    const regs = new FatriotRegisters();
    const pool = new PacketPool(32);
    const rx = new AxisChannel('rx');
    const tx = new AxisChannel('tx');
    const hm = sim.add(new HeartbeatManager('hb', rx, tx, pool, regs, regs.counters, new RegisteredVector('fs', 256), CORE_HZ, null));
    const src = sim.add(new AxisSource('replies', rx));
    sim.add(new AxisSink('tx_sink', tx));
    const frame = buildIcmpEchoFrame({
      type: 'reply',
      srcMac: '02:00:00:00:00:01',
      dstMac: NIC_MAC,
      srcIp: '10.0.1.1',
      dstIp: RELAY_IP,
      identifier: HEARTBEAT_PORT_BASE,
      sequence: 1,
    });
    for (let i = 0; i < 3; i++) src.send(pool.fromBytes(frame, frame.length, 1, 0), i * 5);
    sim.runUntil(100);
    expect(hm.unmatchedReplies).toBe(3);
    expect(pool.inUse).toBe(0);
  });

  it('counts drop.heartbeatTxFull when a slot comes while the previous heartbeat is still being offered', () => {
    const sim = new Simulator();
    const regs = new FatriotRegisters();
    const pool = new PacketPool(32);
    const rx = new AxisChannel('rx');
    const tx = new AxisChannel('tx');
    sim.add(new HeartbeatManager('hb', rx, tx, pool, regs, regs.counters, new RegisteredVector('fs', 256), CORE_HZ, null));
    sim.add(new AxisSource('replies', rx));
    const sink = sim.add(new AxisSink('tx_mux', tx, (c) => c >= 250));
    regs.heartbeatTable.hostWriteEntry(
      0,
      packEntry(hbSpec, { serviceId: 1, kind: 1, valid: 1, targetIp: 1, intervalCycles: 100, thresholdMilli: 1500, learnSamples: 1 }),
      0,
    );
    sim.runUntil(420);
    // Slots at 1, 101, 201: the first waits for tready (250); the slots at 101 and 201 are lost.
    expect(regs.counters.values[counterIndex('drop.heartbeatTxFull')]).toBe(2);
    expect(sink.received.map((r) => r.firstBeatCycle)).toEqual([250, 301, 401]);
    expect(regs.counters.values[counterIndex('event.heartbeatsSent')]).toBe(3);
  });
});

describe('heartbeat manager: idle cost', () => {
  it('runs 10 s of model time at a 0.5 s interval in a few evaluated cycles per heartbeat', () => {
    const b = makeBench(() => cyclesOfUs(200));
    b.echo.keepCopies = false;
    b.configure(0, { serviceId: 1, kind: 'icmp', targetIp: '10.0.1.1', intervalCycles: cyclesOfS(0.5), thresholdMilli: 1500, learnSamples: 3 });
    b.sim.runUntil(cyclesOfS(10));
    expect(b.sim.now).toBe(1_600_000_000);
    expect(b.echo.seen).toHaveLength(20);
    // Per heartbeat 8 of its 80 M cycles: slot - 1 (tvalid up), the 2 beats out, slot + 2 (tvalid
    // down), and the same four around the reply; the timeout timer is cancelled by the reply.
    expect(b.sim.evaluatedCycles).toBe(20 * 8);
    expect(b.pool.inUse).toBe(0);
  });
});
