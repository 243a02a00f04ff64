import { describe, expect, it } from 'vitest';
import { createMemoryLink } from '../../../src/dataplane/memory-link.ts';
import { ScheduledSender } from '../../../src/host/sim/scheduled-sender.ts';
import { Simulator } from '../../../src/pipeline/sim/simulator.ts';

describe('ScheduledSender', () => {
  it('sends in cycle order whatever the order of calls, frames of one cycle in call order, each at its cycle', () => {
    const sim = new Simulator();
    const [port, far] = createMemoryLink('src', 'sink');
    const seen: string[] = [];
    far.attach((frame, cycle) => seen.push(`${frame[0]}@${cycle}`));
    const sender = sim.add(new ScheduledSender('sender', port));
    const frame = (tag: number) => new Uint8Array([tag]);
    sender.send(frame(1), 50);
    sender.send(frame(2), 20);
    sender.send(frame(3), 50);
    sender.send(frame(4), 20);
    sender.send(frame(5), 70);
    expect(sender.pending).toBe(5);
    sim.runUntil(60);
    expect(seen).toEqual(['2@20', '4@20', '1@50', '3@50']);
    // A cycle already past is sent at the present one.
    sender.send(frame(6), 10);
    sim.runUntilIdle();
    expect(seen).toEqual(['2@20', '4@20', '1@50', '3@50', '6@60', '5@70']);
    expect(sender.pending).toBe(0);
  });
});
