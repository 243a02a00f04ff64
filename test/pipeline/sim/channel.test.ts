import { describe, expect, it } from 'vitest';
import { AxisChannel, PacketPool } from '../../../src/pipeline/sim/index.ts';
import type { Packet } from '../../../src/pipeline/sim/packet.ts';

describe('AxisChannel posts (trains)', () => {
  it('hands posts to a feed once set, the ones still in the ring first, in order', () => {
    const ch = new AxisChannel('ch');
    ch.trained = true;
    ch.sim = { touchChannel() {}, settledCycle: () => -1 };
    const pool = new PacketPool(32);
    const a = pool.take(60);
    const b = pool.take(100);
    ch.post(a, 0, 10);
    ch.post(a, 1, 11);
    const written: [number, Packet, number][] = [];
    ch.setFeed({ write: (cycle, packet, beat) => written.push([cycle, packet, beat]) });
    expect(ch.postCount).toBe(0);
    ch.post(b, 0, 20);
    expect(ch.postCount).toBe(0);
    expect(written).toEqual([
      [10, a, 0],
      [11, a, 1],
      [20, b, 0],
    ]);
    // The producer's side is the same either way: what it posted, and that the consumer must be told.
    expect(ch.posted).toBe(3);
    expect(ch.lastPostedCycle).toBe(20);
    expect(ch.takePostsUnseen()).toBe(true);
    expect(ch.takePostsUnseen()).toBe(false);
  });
});
