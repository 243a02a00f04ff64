/**
 * Testbench of the fail-safe handler: AxisSources on its two inputs, an AxisSink on tx,
 * its tables from a FatriotRegisters, and the fail-safe bus driven as the heartbeat
 * manager would. Shared by the unit tests and test/property/nat.test.ts.
 */
import { FailsafeHandler, type FailsafeHandlerOptions } from '../../../src/pipeline/modules/failsafe-handler.ts';
import { FatriotRegisters } from '../../../src/pipeline/regs/fatriot-registers.ts';
import { counterIndex, macToFields, packEntry, type EntryFields } from '../../../src/pipeline/regs/register-map.ts';
import type { TableMemory } from '../../../src/pipeline/regs/table-memory.ts';
import { AxisSink, AxisSource } from '../../../src/pipeline/sim/axis-testbench.ts';
import { AxisChannel } from '../../../src/pipeline/sim/channel.ts';
import { PacketPool, type Packet } from '../../../src/pipeline/sim/packet.ts';
import { RegisteredVector } from '../../../src/pipeline/sim/registered-vector.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';
import { parseIpv4, parseMac } from '../../../src/pipeline/wire/address.ts';

export const NIC_MAC = '02:fa:00:00:00:01';
export const CLIENT_MAC = '02:00:00:00:00:0c';
/** The main host's service VM: what the client sends to. */
export const SVC_MAC = '02:00:00:00:00:01';
export const BACKUP_MAC = '02:00:00:00:00:02';
export const RELAY_IP = '10.0.0.254';
export const CLIENT_IP = '10.0.0.100';
export const SVC_IP = '10.0.0.1';
export const BACKUP_IP = '10.0.0.2';
export const RELAY_PORT_BASE = 40000;
export const SVC_ID = 3;

/** tuser source one-hot of a port name: nfX = bit 2X, dmaX = bit 2X+1. */
export function srcBit(port: string): number {
  const i = Number(port.slice(-1));
  return port.startsWith('nf') ? 1 << (2 * i) : 1 << (2 * i + 1);
}

export interface BenchOptions extends FailsafeHandlerOptions {
  relayPortCount?: number;
  /** Evaluate modules in a shuffled order (Simulator shuffleSeed). */
  shuffleSeed?: number;
  /** AxisSink tready per cycle (backpressure); default always ready. */
  txReady?: (cycle: number) => boolean;
}

export function writeEntry(table: TableMemory, entry: number, fields: EntryFields): void {
  table.hostWriteEntry(entry, packEntry(table.spec, fields), 0);
}

/** Hardware-side write of a whole entry (tables the host cannot write, like neighborTable). */
export function setEntry(table: TableMemory, entry: number, fields: EntryFields): void {
  for (const [name, value] of Object.entries(fields)) table.set(entry, table.fieldIndex(name), value);
}

export function makeBench(options: BenchOptions = {}) {
  const sim = new Simulator(options.shuffleSeed === undefined ? {} : { shuffleSeed: options.shuffleSeed });
  const pool = new PacketPool(32);
  const regs = new FatriotRegisters();
  const direct = new AxisChannel('direct');
  const mirror = new AxisChannel('mirror');
  const tx = new AxisChannel('tx');
  const failsafeActive = new RegisteredVector('failsafe_active', 256);
  const mac = macToFields(parseMac(NIC_MAC));
  writeEntry(regs.nicConfig, 0, {
    relayIp: parseIpv4(RELAY_IP),
    relayPortBase: RELAY_PORT_BASE,
    relayPortCount: options.relayPortCount ?? 1000,
    nicMacHi: mac.hi,
    nicMacLo: mac.lo,
  });
  const fh = sim.add(
    new FailsafeHandler(
      'failsafe_handler',
      { direct, mirror },
      tx,
      pool,
      { serviceTable: regs.serviceTable, defaultBackup: regs.defaultBackup, nicConfig: regs.nicConfig, neighborTable: regs.neighborTable },
      regs.counters,
      failsafeActive,
      options,
    ),
  );
  const directSource = sim.add(new AxisSource('direct_source', direct));
  const mirrorSource = sim.add(new AxisSource('mirror_source', mirror));
  const sink = sim.add(new AxisSink('tx_sink', tx, options.txReady ?? null));

  function packetOf(frame: Uint8Array, port: string, serviceId: number, cycle: number): Packet {
    const p = pool.fromBytes(frame, frame.length, srcBit(port), cycle);
    p.serviceId = serviceId;
    p.critical = serviceId === 0 ? 0 : 1;
    return p;
  }

  return {
    sim,
    pool,
    regs,
    fh,
    failsafeActive,
    direct,
    mirror,
    directSource,
    mirrorSource,
    sink,
    /** Offers a frame on the direct input (output queue 6) from `port` no earlier than `cycle`. */
    sendDirect(frame: Uint8Array, port = 'nf0', serviceId = SVC_ID, cycle = sim.now): void {
      directSource.send(packetOf(frame, port, serviceId, cycle), cycle);
    },
    sendMirror(frame: Uint8Array, port = 'nf0', serviceId = SVC_ID, cycle = sim.now): void {
      mirrorSource.send(packetOf(frame, port, serviceId, cycle), cycle);
    },
    setFailsafe(serviceId: number, on: boolean): void {
      failsafeActive.set(serviceId, on ? 1 : 0);
      failsafeActive.commit();
    },
    counter(name: string): number {
      return regs.counters.values[counterIndex(name)]!;
    },
    /** Bytes of every packet the handler sent, in order. */
    frames(): Uint8Array[] {
      return sink.received.map((r) => r.packet.data.slice(0, r.packet.length));
    },
    run(): void {
      sim.runUntilIdle();
    },
  };
}

export type Bench = ReturnType<typeof makeBench>;
