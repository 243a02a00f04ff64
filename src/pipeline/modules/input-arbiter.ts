import type { AxisChannel } from '../sim/channel.ts';
import { ClockedModule, IDLE, type TraceSignal } from '../sim/module.ts';
import { FallthroughSmallFifo } from './fallthrough-small-fifo.ts';

const STATE_IDLE = 0;
const STATE_WR_PKT = 1;

export interface InputArbiterParams {
  /** MAX_DEPTH_BITS of each input fallthrough_small_fifo. */
  inFifoDepthBits: number;
}

/**
 * NetFPGA-SUME input_arbiter (lib/hw/std/cores/input_arbiter_v1_0_0/hdl/input_arbiter.v):
 * one fallthrough_small_fifo per source, tready = !nearly_full, and a two-state
 * round robin. In IDLE the current queue's head is offered; if the queue is empty
 * the pointer moves on one queue per cycle (the cycles spent on empty inputs);
 * after a packet's last beat the pointer moves to the next queue. m_axis_tvalid is
 * !empty of the current queue in both states.
 */
export class InputArbiter extends ClockedModule {
  override readonly wakeOnHandshakeOnly = true;
  readonly fifos: FallthroughSmallFifo[];
  private readonly ins: AxisChannel[];
  private readonly out: AxisChannel;
  state = STATE_IDLE;
  curQueue = 0;
  /** pktin / pktout registers of input_arbiter_cpu_regs. */
  pktIn = 0;
  pktOut = 0;
  private lastCycle = -1;
  /** IDLE on an empty queue: the pointer moves one queue a cycle by itself. */
  private walking = true;
  /** FIFOs whose registers still move by themselves (bit i for input i). */
  private settlingMask = 0;
  /** FIFOs with a word on dout. */
  private nonEmptyMask = 0;

  constructor(name: string, inputs: AxisChannel[], output: AxisChannel, params: InputArbiterParams) {
    super(name);
    this.ins = inputs.map((ch) => this.input(ch));
    this.out = this.output(output);
    this.fifos = inputs.map((_, i) => new FallthroughSmallFifo(`${name}.in${i}`, params.inFifoDepthBits));
  }

  override reset(): void {
    for (const ch of this.ins) ch.ready = ch.nextReady = true;
  }

  evaluate(cycle: number): void {
    const fifos = this.fifos;
    const out = this.out;
    const n = fifos.length;
    // While asleep, the RTL pointer kept walking one queue a cycle over empty queues
    // (commit wakes the module before it reaches a non-empty one); catch it up, since
    // where it stands decides the next packet's latency.
    if (this.walking && cycle > this.lastCycle + 1) {
      this.curQueue = (this.curQueue + (cycle - this.lastCycle - 1)) % n;
    }
    this.lastCycle = cycle;
    // Only settling FIFOs change by themselves; the others already show cycle - 1.
    for (let m = this.settlingMask; m !== 0; m &= m - 1) {
      const fifo = fifos[31 - Math.clz32(m & -m)]!;
      if (fifo.lastClock < cycle - 1) fifo.sync(cycle - 1);
    }
    const cur = this.curQueue;
    const tready = out.ready;
    const curFifo = fifos[cur]!;
    let rdCur = false;
    let nextState = this.state;
    let nextCur = cur;
    if (this.state === STATE_IDLE) {
      if (!curFifo.empty()) {
        if (tready) {
          nextState = STATE_WR_PKT;
          rdCur = true;
        }
      } else {
        nextCur = cur === n - 1 ? 0 : cur + 1;
      }
    } else if (tready && !curFifo.empty()) {
      rdCur = true;
      if (curFifo.doutBeat() === curFifo.doutPacket().beats - 1) {
        nextState = STATE_IDLE;
        nextCur = cur === n - 1 ? 0 : cur + 1;
      }
    }
    if (rdCur && curFifo.doutBeat() === curFifo.doutPacket().beats - 1) this.pktOut++;
    // A FIFO with no write, no read, no offer on its input and settled registers
    // would compute exactly what it holds.
    let touch = this.settlingMask | (rdCur ? 1 << cur : 0);
    const ins = this.ins;
    for (let i = 0; i < n; i++) if (ins[i]!.valid) touch |= 1 << i;
    let settling = 0;
    let nonEmpty = this.nonEmptyMask;
    for (let m = touch; m !== 0; m &= m - 1) {
      const i = 31 - Math.clz32(m & -m);
      const ch = ins[i]!;
      const fifo = fifos[i]!;
      const wr = ch.valid && ch.ready;
      const rd = rdCur && i === cur;
      if (wr || rd) {
        if (wr && ch.beat === ch.packet!.beats - 1) this.pktIn++;
        fifo.clockAt(cycle, wr, ch.packet, ch.beat, rd);
      } else {
        fifo.sync(cycle);
      }
      ch.setReady(!fifo.nearlyFull());
      if (fifo.settling()) settling |= 1 << i;
      nonEmpty = fifo.empty() ? nonEmpty & ~(1 << i) : nonEmpty | (1 << i);
    }
    this.settlingMask = settling;
    this.nonEmptyMask = nonEmpty;
    this.state = nextState;
    this.curQueue = nextCur;
    const head = fifos[nextCur]!;
    this.walking = nextState === STATE_IDLE && head.empty();
    if (head.empty()) out.release();
    else out.drive(head.doutPacket(), head.doutBeat());
  }

  commit(cycle: number): number {
    const fifos = this.fifos;
    const n = fifos.length;
    let wake = IDLE;
    for (let m = this.settlingMask; m !== 0; m &= m - 1) {
      const c = fifos[31 - Math.clz32(m & -m)]!.nextChangeCycle() - 1;
      if (c < wake) wake = c;
    }
    if (this.walking) {
      // The pointer reaches queue i (cycle+1 is where it stands now) after (i - cur) mod n cycles.
      for (let m = this.nonEmptyMask; m !== 0; m &= m - 1) {
        const i = 31 - Math.clz32(m & -m);
        const c = cycle + ((i - this.curQueue + n) % n);
        if (c < wake) wake = c;
      }
    }
    return wake;
  }

  override traceSignals(): TraceSignal[] {
    return [
      { name: 'state', width: 1, read: () => this.state },
      { name: 'cur_queue', width: 3, read: () => this.curQueue },
      ...this.fifos.map((f, i) => ({ name: `in${i}_level`, width: 8, read: () => f.occupancy() })),
    ];
  }
}
