import { coreClockHz } from '../../hw/netfpga-spec/index.ts';
import type { Port } from '../../src/dataplane/port.ts';
import { WireTiming } from '../../src/pipeline/modules/ethernet-wire.ts';
import { ClockedModule, IDLE } from '../../src/pipeline/sim/module.ts';

/**
 * Offers `count` copies of a frame on a port back to back at 10G line rate (the
 * next frame starts when the previous one's wire time, IFG included, is over), as
 * a tester like Formullar does for throughput runs. Frames are sent just in time,
 * so nothing queues outside the model.
 */
export class LineRateSource extends ClockedModule {
  sent = 0;
  private nextUnits = 0;
  private readonly timing: WireTiming;

  constructor(
    name: string,
    private readonly port: Port,
    private readonly frame: Uint8Array,
    private readonly count: number,
    coreHz: number = coreClockHz(),
  ) {
    super(name);
    this.timing = new WireTiming(coreHz);
  }

  evaluate(cycle: number): void {
    if (this.sent >= this.count) return;
    this.port.transmit(this.frame, cycle + 1);
    this.sent++;
    const start = Math.max(this.nextUnits, this.timing.unitsAt(cycle + 1));
    this.nextUnits = start + this.timing.frameUnits(this.frame.length);
  }

  commit(cycle: number): number {
    if (this.sent >= this.count) return IDLE;
    const next = this.timing.cycleAt(this.nextUnits) - 1;
    return next <= cycle ? cycle + 1 : next;
  }
}
