import type { Packet } from './packet.ts';
import type { ClockedModule } from './module.ts';

/**
 * An AXI4-Stream channel between two clocked modules (SPEC section 3).
 *
 * Both `tvalid` (with the beat: packet + beat index, from which tdata, tkeep,
 * tlast and tuser follow) and `tready` are registered outputs: in cycle t each
 * side sees the values its partner committed at the end of cycle t-1, and the
 * beat moves in cycle t exactly when both are high (`fires()`). Because both
 * sides read the same registered values, each knows whether the beat moved
 * without combinational paths, which is what makes evaluation order irrelevant.
 *
 * Writers touch only the `next*` fields during evaluate; the simulator commits
 * them after every module has evaluated.
 */
export class AxisChannel {
  readonly name: string;
  /** Index in the simulator's channel list (VCD identifier). */
  id = -1;
  producer: ClockedModule | null = null;
  consumer: ClockedModule | null = null;
  /** Copies of the ends' `wakeOnHandshakeOnly`, read once a commit. */
  producerWakeOnHandshakeOnly = false;
  consumerWakeOnHandshakeOnly = false;

  valid = false;
  ready = false;
  packet: Packet | null = null;
  beat = 0;

  nextValid = false;
  nextReady = false;
  nextPacket: Packet | null = null;
  nextBeat = 0;

  /** Cycle in which it was last committed, so a channel is committed once a cycle. */
  committedCycle = -1;
  beatsMoved = 0;
  packetsMoved = 0;
  /**
   * The simulator that commits it (set by Simulator.add). A channel is committed
   * only in cycles where a `next*` value changed or a beat moves, so writers tell
   * the simulator through `touch` instead of it scanning every channel.
   */
  sim: { touchChannel(ch: AxisChannel): void } | null = null;
  /** On the simulator's list of channels to commit at the end of this cycle. */
  pendingCommit = false;

  constructor(name: string) {
    this.name = name;
  }

  /** True when a beat moves in the current cycle (tvalid && tready, both registered). */
  fires(): boolean {
    return this.valid && this.ready;
  }

  /** tlast of the beat on the channel. */
  isLast(): boolean {
    return this.packet !== null && this.beat === this.packet.beats - 1;
  }

  /** Producer: offer `beat` of `packet` from the next cycle on. */
  drive(packet: Packet, beat: number): void {
    if (this.nextValid && this.nextPacket === packet && this.nextBeat === beat) return;
    this.nextValid = true;
    this.nextPacket = packet;
    this.nextBeat = beat;
    if (!this.pendingCommit) this.touch();
  }

  /** Producer: deassert tvalid from the next cycle on. */
  release(): void {
    if (!this.nextValid && this.nextPacket === null && this.nextBeat === 0) return;
    this.nextValid = false;
    this.nextPacket = null;
    this.nextBeat = 0;
    if (!this.pendingCommit) this.touch();
  }

  /** Consumer: tready for the next cycle. */
  setReady(ready: boolean): void {
    if (this.nextReady === ready) return;
    this.nextReady = ready;
    if (!this.pendingCommit) this.touch();
  }

  /** Puts the channel on its simulator's commit list (a `next*` value changed). */
  private touch(): void {
    if (this.sim !== null) {
      this.pendingCommit = true;
      this.sim.touchChannel(this);
    }
  }

  /**
   * Latches next values. Returns true when either end must be evaluated next
   * cycle: a registered signal changed, or a beat will move.
   */
  commit(): boolean {
    return this.latch() !== 0;
  }

  /**
   * Latches next values and says which ends must be evaluated next cycle
   * (WAKE_PRODUCER | WAKE_CONSUMER): both when a beat will move; otherwise, when a
   * registered signal changed, each end unless it wakes on handshakes only (a
   * consumer of that kind still sees a new offer it cannot take yet).
   */
  latch(): number {
    const valid = this.valid;
    const ready = this.ready;
    const packet = this.packet;
    const beat = this.beat;
    if (valid && ready) {
      this.beatsMoved++;
      if (packet !== null && beat === packet.beats - 1) this.packetsMoved++;
    }
    this.valid = this.nextValid;
    this.ready = this.nextReady;
    this.packet = this.nextPacket;
    this.beat = this.nextBeat;
    if (this.valid && this.ready) return WAKE_PRODUCER | WAKE_CONSUMER;
    const offerChanged = this.valid !== valid || this.packet !== packet || this.beat !== beat;
    if (!offerChanged && this.ready === ready) return 0;
    let wake = 0;
    if (!this.producerWakeOnHandshakeOnly) wake |= WAKE_PRODUCER;
    if (!this.consumerWakeOnHandshakeOnly || (this.valid && offerChanged)) wake |= WAKE_CONSUMER;
    return wake;
  }
}

export const WAKE_PRODUCER = 1;
export const WAKE_CONSUMER = 2;
