import { describe, expect, it } from 'vitest';
import { PacketPool } from '../../../src/pipeline/sim/packet.ts';

describe('Packet.frame', () => {
  it('reuses its view while the length and buffer stay, and makes a new one when either changes', () => {
    const pool = new PacketPool(32, 128);
    const p = pool.take(60);
    p.data.fill(7, 0, 60);
    const first = p.frame();
    expect(first.length).toBe(60);
    expect(p.frame()).toBe(first);
    pool.release(p);
    // The same pooled packet, another length: a new view of that length.
    const q = pool.take(100);
    expect(q).toBe(p);
    expect(q.frame().length).toBe(100);
    pool.release(q);
    // A jumbo frame grows the buffer: the view must follow it even at a length seen before.
    const r = pool.take(9000);
    expect(r).toBe(p);
    r.data[0] = 42;
    expect(r.frame().length).toBe(9000);
    pool.release(r);
    const s = pool.take(100);
    expect(s.frame()[0]).toBe(42);
    expect(s.frame().buffer).toBe(s.data.buffer);
  });
});
