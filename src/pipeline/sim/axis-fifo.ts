import type { AxisChannel } from './channel.ts';
import { BeatFifo } from './fifo.ts';
import { ClockedModule, IDLE, type TraceSignal } from './module.ts';

/**
 * A first-word-fall-through AXI4-Stream FIFO (the shape of NetFPGA's
 * fallthrough_small_fifo behind an AXIS wrapper): a beat accepted in cycle t is
 * offered on the output from cycle t+1; tready is high while a beat fits.
 *
 * Modules may update their own state during evaluate: no other module can read
 * it before the commit, so this is still order independent.
 */
export class AxisFifo extends ClockedModule {
  readonly fifo: BeatFifo;
  private readonly in: AxisChannel;
  private readonly out: AxisChannel;

  constructor(name: string, input: AxisChannel, output: AxisChannel, depthBeats: number) {
    super(name);
    this.in = this.input(input);
    this.out = this.output(output);
    this.fifo = new BeatFifo(name, depthBeats);
  }

  override reset(): void {
    this.in.ready = this.in.nextReady = true;
  }

  evaluate(): void {
    const fifo = this.fifo;
    if (this.out.valid && this.out.ready) fifo.pop();
    if (this.in.valid && this.in.ready) fifo.push(this.in.packet!, this.in.beat);
    const head = fifo.headPacket();
    if (head === null) this.out.release();
    else this.out.drive(head, fifo.headBeat());
    this.in.setReady(fifo.levelBeats < fifo.depthBeats);
  }

  commit(): number {
    return IDLE;
  }

  override traceSignals(): TraceSignal[] {
    const fifo = this.fifo;
    return [{ name: 'level', width: 16, read: () => fifo.levelBeats }];
  }
}
