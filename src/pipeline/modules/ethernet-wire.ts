import { frameBytesWithFcs, netfpgaSpec, wireBytesPerFrame } from '../../../hw/netfpga-spec/index.ts';

/**
 * Exact 10GbE wire time in integer units of half a bit time (0.05 ns at 10 Gb/s),
 * so that both core clocks divide it: a 200 MHz cycle is 100 units, a 160 MHz
 * cycle 125. Frame time on the wire is preamble+SFD + frame + FCS (padded to
 * 64 bytes) + inter-frame gap (hw/netfpga-spec `ethernet`).
 */
export class WireTiming {
  readonly unitsPerCycle: number;
  readonly unitsPerByte: number;
  // The spec's byte counts as plain numbers: read once a frame through the spec's fact
  // objects (each of its own shape), the `.value` loads went megamorphic.
  private readonly preambleSfdBytes = netfpgaSpec.ethernet.preambleSfdBytes.value;
  private readonly macWordBytes = netfpgaSpec.ethernet.macWordBytes.value;

  constructor(coreHz: number, lineRateBps: number = netfpgaSpec.ethernet.lineRateBps.value) {
    const unitsPerSecond = 2 * lineRateBps;
    this.unitsPerCycle = unitsPerSecond / coreHz;
    if (!Number.isInteger(this.unitsPerCycle)) throw new Error(`core clock ${coreHz} Hz does not divide the wire time unit`);
    this.unitsPerByte = 16;
  }

  /** Wire occupancy of a frame (no FCS in `frameLenNoFcs`), in units. */
  frameUnits(frameLenNoFcs: number): number {
    return wireBytesPerFrame(frameLenNoFcs) * this.unitsPerByte;
  }

  /** Units from the start of a frame to the end of its FCS (when the MAC has the last word). */
  lastWordUnits(frameLenNoFcs: number): number {
    return (this.preambleSfdBytes + frameBytesWithFcs(frameLenNoFcs)) * this.unitsPerByte;
  }

  /** Units from the start of a frame to its first data word (after preamble and the first 8 bytes). */
  firstWordUnits(): number {
    return (this.preambleSfdBytes + this.macWordBytes) * this.unitsPerByte;
  }

  /** The first cycle at or after a time in units. */
  cycleAt(units: number): number {
    return Math.ceil(units / this.unitsPerCycle);
  }

  unitsAt(cycle: number): number {
    return cycle * this.unitsPerCycle;
  }
}
