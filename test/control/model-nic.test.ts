/**
 * ModelNic, the daemon's composition root: a control access reaches the model at the
 * present cycle even while the real-time driver sleeps (so a new heartbeat entry does
 * not learn an RTT inflated by the driver's sleep), and --pcap needs --tap.
 */
import { describe, expect, it } from 'vitest';
import { ModelNic } from '../../src/control/model-nic.ts';
import { counterAddress, counterIndex } from '../../src/pipeline/regs/register-map.ts';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('ModelNic control bus', () => {
  it('applies an access made while the driver sleeps at the present cycle, not at the stale model time', async () => {
    const nic = new ModelNic({ mode: 'sim', reference: false });
    nic.start();
    try {
      let appliedAt = -1;
      nic.bus.observer = (_isWrite, _address, _value, cycle) => {
        appliedAt = cycle;
      };
      // Idle: the driver sleeps up to 50 ms, model time stays behind the wall clock meanwhile.
      const deadline = Date.now() + 5000;
      let wall = nic.driver.nowCycle();
      while (wall - nic.sim.now < 160_000 && Date.now() < deadline) {
        await sleep(2);
        wall = nic.driver.nowCycle();
      }
      const stale = nic.sim.now;
      expect(wall - stale).toBeGreaterThanOrEqual(160_000); // 1 ms at 160 MHz
      const started = Date.now();
      const value = await nic.bus.read(counterAddress(counterIndex('nf0.rxPackets')));
      expect(value).toBe(0);
      expect(appliedAt).toBeGreaterThanOrEqual(wall);
      // Run at once (kicked), not at the driver's next wake-up.
      expect(Date.now() - started).toBeLessThan(40);
    } finally {
      await nic.stop();
    }
  });

  it('keeps the bus object usable as the control server uses it (other members pass through)', () => {
    const nic = new ModelNic({ mode: 'sim', reference: true });
    expect(nic.bus.latencyCycles).toBeGreaterThan(0);
    expect(nic.bus.decode(counterAddress(0))).not.toBeNull();
    expect(nic.description).toBe('reference NIC, cycle model at 160 MHz, no ports attached (--sim)');
  });
});
