import { describe, expect, it } from 'vitest';
import { MemoryPort, createMemoryLink } from '../../src/dataplane/memory-link.ts';

type Delivery = { bytes: number[]; cycle: number };

function recorder(port: MemoryPort): Delivery[] {
  const got: Delivery[] = [];
  port.attach((frame, cycle) => got.push({ bytes: [...frame], cycle }));
  return got;
}

describe('createMemoryLink', () => {
  it('delivers frames from A to B in order, each at its transmit cycle plus the link latency', () => {
    const [a, b] = createMemoryLink('nf0', 'host0', { latencyCycles: 5 });
    const atB = recorder(b);
    a.transmit(new Uint8Array([1, 2, 3]), 100);
    a.transmit(new Uint8Array([4]), 100);
    a.transmit(new Uint8Array([5, 6]), 250);
    expect(atB).toEqual([
      { bytes: [1, 2, 3], cycle: 105 },
      { bytes: [4], cycle: 105 },
      { bytes: [5, 6], cycle: 255 },
    ]);
    expect([a.name, b.name]).toEqual(['nf0', 'host0']);
    expect([a.txFrames, a.txBytes, b.rxFrames, b.rxBytes]).toEqual([3, 6, 3, 6]);
  });

  it('delivers from B to A too, and never back to the sender', () => {
    const [a, b] = createMemoryLink('a', 'b', { latencyCycles: 2 });
    const atA = recorder(a);
    const atB = recorder(b);
    b.transmit(new Uint8Array([9]), 0);
    expect(atA).toEqual([{ bytes: [9], cycle: 2 }]);
    expect(atB).toEqual([]);
  });

  it('has zero latency by default', () => {
    const [a, b] = createMemoryLink('a', 'b');
    const atB = recorder(b);
    a.transmit(new Uint8Array([7]), 42);
    expect(atB).toEqual([{ bytes: [7], cycle: 42 }]);
  });

  it('delivers synchronously and without a copy: the receiver sees the sender\'s buffer during the call', () => {
    const [a, b] = createMemoryLink('a', 'b');
    const sent = new Uint8Array([1, 2]);
    let seen: Uint8Array | null = null;
    b.attach((frame) => {
      seen = frame;
    });
    a.transmit(sent, 0);
    expect(seen).toBe(sent);
  });

  it('lets a receiver answer within the call; the answer arrives at the sender after the latency', () => {
    const [a, b] = createMemoryLink('a', 'b', { latencyCycles: 3 });
    const atA = recorder(a);
    b.attach((frame, cycle) => b.transmit(frame, cycle + 1));
    a.transmit(new Uint8Array([8]), 10);
    expect(atA).toEqual([{ bytes: [8], cycle: 17 }]);
  });

  it('receive on a port hands the frame to its receiver at that cycle', () => {
    const [a] = createMemoryLink('a', 'b');
    const atA = recorder(a);
    a.receive(new Uint8Array([3]), 77);
    expect(atA).toEqual([{ bytes: [3], cycle: 77 }]);
  });

  it('a new receiver replaces the old one', () => {
    const [a, b] = createMemoryLink('a', 'b');
    const first = recorder(b);
    const second = recorder(b);
    a.transmit(new Uint8Array([1]), 0);
    expect(first).toEqual([]);
    expect(second).toEqual([{ bytes: [1], cycle: 0 }]);
  });

  it('counts frames that arrive with no receiver attached as receive drops', () => {
    const [a, b] = createMemoryLink('a', 'b');
    a.transmit(new Uint8Array([1]), 0);
    expect([a.txFrames, b.rxFrames, b.rxDroppedFrames]).toEqual([1, 0, 1]);
  });

  it('drops and counts frames sent towards a closed end, like a pulled cable, and close is idempotent', () => {
    const [a, b] = createMemoryLink('a', 'b');
    const atB = recorder(b);
    const atA = recorder(a);
    b.close();
    b.close();
    expect(b.isClosed).toBe(true);
    a.transmit(new Uint8Array([1]), 0);
    b.transmit(new Uint8Array([2]), 0);
    b.receive(new Uint8Array([3]), 0);
    expect(atB).toEqual([]);
    expect(atA).toEqual([]);
    expect([a.txFrames, a.txDroppedFrames, b.txDroppedFrames, b.rxDroppedFrames]).toEqual([0, 1, 1, 1]);
  });

  it('rejects a negative or fractional latency', () => {
    expect(() => createMemoryLink('a', 'b', { latencyCycles: -1 })).toThrow(RangeError);
    expect(() => createMemoryLink('a', 'b', { latencyCycles: 1.5 })).toThrow(RangeError);
  });

  it('refuses to connect a port twice or to itself', () => {
    const [a] = createMemoryLink('a', 'b');
    const c = new MemoryPort('c');
    expect(() => MemoryPort.connect(a, c)).toThrow(/already connected/);
    expect(() => MemoryPort.connect(c, c)).toThrow(/itself/);
  });

  it('drops frames transmitted on a port that was never connected', () => {
    const lone = new MemoryPort('lone');
    lone.transmit(new Uint8Array([1]), 0);
    expect([lone.txFrames, lone.txDroppedFrames]).toEqual([0, 1]);
  });
});
