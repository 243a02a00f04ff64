import type { Packet } from './packet.ts';

/**
 * A beat FIFO of fixed depth (in 32-byte beats), like NetFPGA's
 * fallthrough_small_fifo with its nearly-full flag. It never loses or reorders
 * a beat: pushing into a full FIFO is a design error and throws.
 *
 * Storage is per run of consecutive beats of one packet (AXI4-Stream never
 * interleaves packets on one channel), so a push or pop is a few integer
 * operations and allocates nothing.
 */
export class BeatFifo {
  readonly name: string;
  readonly depthBeats: number;
  /** Level at or above which `almostFull()` is true. */
  readonly almostFullBeats: number;
  levelBeats = 0;
  /** Packets whose last beat is in the FIFO (store-and-forward readers wait for one). */
  completePackets = 0;
  /** High-water mark, for counters and tests. */
  maxLevelBeats = 0;

  private readonly runPacket: (Packet | null)[];
  private readonly runFirstBeat: Int32Array;
  private readonly runBeats: Int32Array;
  private head = 0;
  private runs = 0;

  constructor(name: string, depthBeats: number, almostFullBeats = depthBeats) {
    if (!Number.isInteger(depthBeats) || depthBeats < 1) throw new Error(`${name}: bad depth ${depthBeats}`);
    this.name = name;
    this.depthBeats = depthBeats;
    this.almostFullBeats = almostFullBeats;
    this.runPacket = new Array<Packet | null>(depthBeats).fill(null);
    this.runFirstBeat = new Int32Array(depthBeats);
    this.runBeats = new Int32Array(depthBeats);
  }

  isEmpty(): boolean {
    return this.levelBeats === 0;
  }

  isFull(): boolean {
    return this.levelBeats >= this.depthBeats;
  }

  almostFull(): boolean {
    return this.levelBeats >= this.almostFullBeats;
  }

  freeBeats(): number {
    return this.depthBeats - this.levelBeats;
  }

  push(packet: Packet, beat: number): void {
    if (this.levelBeats >= this.depthBeats) throw new Error(`${this.name}: push into a full FIFO`);
    const depth = this.depthBeats;
    if (this.runs > 0) {
      const tail = (this.head + this.runs - 1) % depth;
      if (this.runPacket[tail] === packet && this.runFirstBeat[tail]! + this.runBeats[tail]! === beat) {
        this.runBeats[tail]!++;
        this.afterPush(packet, beat);
        return;
      }
    }
    const slot = (this.head + this.runs) % depth;
    this.runPacket[slot] = packet;
    this.runFirstBeat[slot] = beat;
    this.runBeats[slot] = 1;
    this.runs++;
    this.afterPush(packet, beat);
  }

  private afterPush(packet: Packet, beat: number): void {
    this.levelBeats++;
    if (this.levelBeats > this.maxLevelBeats) this.maxLevelBeats = this.levelBeats;
    if (beat === packet.beats - 1) this.completePackets++;
  }

  /** Packet of the beat at the head; null when empty. */
  headPacket(): Packet | null {
    return this.runs === 0 ? null : this.runPacket[this.head]!;
  }

  /** Beat index (within its packet) of the beat at the head. */
  headBeat(): number {
    return this.runFirstBeat[this.head]!;
  }

  /** Removes the head beat. Returns its packet if that was the packet's last beat, else null. */
  pop(): Packet | null {
    if (this.runs === 0) throw new Error(`${this.name}: pop from an empty FIFO`);
    const h = this.head;
    const packet = this.runPacket[h]!;
    const beat = this.runFirstBeat[h]!;
    this.levelBeats--;
    if (--this.runBeats[h]! === 0) {
      this.runPacket[h] = null;
      this.head = (h + 1) % this.depthBeats;
      this.runs--;
    } else {
      this.runFirstBeat[h] = beat + 1;
    }
    if (beat === packet.beats - 1) {
      this.completePackets--;
      return packet;
    }
    return null;
  }
}
