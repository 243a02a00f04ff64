import { describe, expect, it } from 'vitest';
import { FatriotNic } from '../../src/pipeline/nic/fatriot-nic.ts';
import { ReferenceNic } from '../../src/pipeline/nic/reference-nic.ts';
import { measureThroughput } from '../../tools/bench/model.ts';

describe('measureThroughput (the model bench)', () => {
  for (const [name, factory] of [
    ['reference', () => new ReferenceNic()],
    ['Fatriot', () => new FatriotNic()],
  ] as const) {
    it(`${name} NIC: sinks and TAP-like ports carry every frame over the same model cycles`, () => {
      const sinks = measureThroughput(factory, 60, 3000, 'sinks');
      const tapLike = measureThroughput(factory, 60, 3000, 'tap-like');
      expect(sinks.delivered).toBe(3000);
      expect(tapLike.delivered).toBe(3000);
      // Promises change how far ahead the model works, not when anything happens.
      expect(tapLike.modelCycles).toBe(sinks.modelCycles);
      // 64-byte frames at 10G line rate: 84 bytes on the wire each (preamble and IFG
      // included), plus the pipeline's latency for the last one.
      const cyclesPerFrame = ((84 * 8) / 10e9) * factory().coreHz;
      expect(sinks.modelCycles).toBeGreaterThan(3000 * cyclesPerFrame);
      expect(sinks.modelCycles).toBeLessThan(3000 * cyclesPerFrame + 500);
    });

    it(`${name} NIC: TAP-sized bursts under the driver's promise carry every frame at line rate`, () => {
      const bursts = measureThroughput(factory, 60, 64 * 40, 'tap-bursts');
      const sinks = measureThroughput(factory, 60, 64 * 40, 'sinks');
      expect(bursts.delivered).toBe(64 * 40);
      // The wire spaces the frames of a burst as the line-rate source does (each of its frames starts on a cycle boundary).
      expect(Math.abs(bursts.modelCycles - sinks.modelCycles)).toBeLessThan(100);
      const tapLike = measureThroughput(factory, 60, 64 * 40, 'tap-like');
      // Without the promise the arbiter wakes for every frame (the Fatriot NIC's classifier
      // and tx mux still do, src/pipeline/README.md "Speed"); with it, the reference NIC
      // takes a burst in a step or two.
      expect(tapLike.evaluatedCycles).toBeGreaterThanOrEqual(64 * 40);
      if (name === 'reference') expect(bursts.evaluatedCycles).toBeLessThanOrEqual(3 * 40);
    });
  }
});
