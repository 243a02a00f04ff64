import { execFile, spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addonTapBackend } from '../../src/dataplane/tap-addon.ts';
import { EIO, loadTapBackend, type TapBackend, type TapBackendKind } from '../../src/dataplane/tap-backend.ts';
import { moveTapToNetns } from '../../src/dataplane/tap-netns.ts';
import { TapPort, WRITER_BATCHES } from '../../src/dataplane/tap.ts';
import { addNetns, delNetns, linkCounters, linkNames, netnsSkipReason, uniquePrefix } from '../helpers/netns.ts';

const skipReason = netnsSkipReason(['ping']);
if (skipReason !== null) console.warn(`skipping TAP tests: ${skipReason}`);

const backends: TapBackendKind[] = addonTapBackend() === null ? ['koffi'] : ['addon', 'koffi'];
if (skipReason === null && backends.length === 1) {
  console.warn('TAP addon not built (src/dataplane/native): testing the koffi backend only');
}

const KERNEL_IP = '10.77.9.1';
const PEER_IP = '10.77.9.2';
const PEER_MAC = [0x02, 0x77, 0x00, 0x00, 0x09, 0x02];

function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

/** ARP reply from PEER for an ARP request `frame` (RFC 826), or null if `frame` is not one for PEER. */
function arpReplyFor(frame: Uint8Array): Uint8Array | null {
  if (frame.length < 42 || frame[12] !== 0x08 || frame[13] !== 0x06 || frame[21] !== 1) return null;
  if (frame.subarray(38, 42).join('.') !== PEER_IP) return null;
  const reply = new Uint8Array(42);
  reply.set(frame.subarray(6, 12), 0);
  reply.set(PEER_MAC, 6);
  reply.set([0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02], 12);
  reply.set(PEER_MAC, 22);
  reply.set(ipv4Bytes(PEER_IP), 28);
  reply.set(frame.subarray(22, 32), 32);
  return reply;
}

/** ICMP echo reply for an echo request `frame` to PEER, with the ICMP checksum adjusted (RFC 1624). */
function echoReplyFor(frame: Uint8Array): Uint8Array | null {
  if (frame.length < 42 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 1) return null;
  const ihlBytes = (frame[14]! & 0x0f) * 4;
  const icmp = 14 + ihlBytes;
  if (frame[icmp] !== 8) return null;
  const reply = new Uint8Array(frame);
  reply.set(frame.subarray(6, 12), 0);
  reply.set(frame.subarray(0, 6), 6);
  reply.set(frame.subarray(30, 34), 26);
  reply.set(frame.subarray(26, 30), 30);
  reply[icmp] = 0;
  // type 8 -> 0 lowers the 16-bit word by 0x0800, so the one's complement checksum rises by 0x0800.
  let sum = ((reply[icmp + 2]! << 8) | reply[icmp + 3]!) + 0x0800;
  sum = (sum & 0xffff) + (sum >>> 16);
  reply[icmp + 2] = sum >>> 8;
  reply[icmp + 3] = sum & 0xff;
  return reply;
}

describe('loadTapBackend', () => {
  it('honours an explicit kind and rejects an unknown FATRIOT_TAP_BACKEND', () => {
    expect(loadTapBackend('koffi').kind).toBe('koffi');
    const saved = process.env.FATRIOT_TAP_BACKEND;
    try {
      process.env.FATRIOT_TAP_BACKEND = 'koffi';
      expect(loadTapBackend().kind).toBe('koffi');
      process.env.FATRIOT_TAP_BACKEND = 'dpdk';
      expect(() => loadTapBackend()).toThrow(/addon or koffi, got dpdk/);
    } finally {
      if (saved === undefined) delete process.env.FATRIOT_TAP_BACKEND;
      else process.env.FATRIOT_TAP_BACKEND = saved;
    }
  });
});

describe.skipIf(addonTapBackend() === null)('TAP addon arguments', () => {
  it('refuses typed arrays of the wrong element type instead of reading them as other types', () => {
    const addon = addonTapBackend()!;
    const slots = new Uint8Array(64);
    const results = new Int32Array(1);
    expect(() => addon.writeBatch(-1, slots, 64, new Float64Array(1) as unknown as Int32Array, 1, results)).toThrow(TypeError);
    expect(() => addon.writeBatch(-1, slots, 64, new Int32Array(1), 1, new Uint32Array(1) as unknown as Int32Array)).toThrow(TypeError);
    expect(() => addon.writeBatch(-1, new Uint16Array(32) as unknown as Uint8Array, 64, new Int32Array(1), 1, results)).toThrow(TypeError);
    expect(() => addon.write(-1, new Float32Array(4) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => addon.writeBatch(-1, slots, 64, new Int32Array(1), 2, results)).toThrow(RangeError);
    // Well-formed: the write itself fails on the bad fd, reported per frame.
    addon.writeBatch(-1, slots, 64, new Int32Array([60]), 1, results);
    expect(results[0]).toBe(-9); // EBADF
  });

  it('starts a writer thread only over arrays that hold its batches, and reports its write errors per frame', () => {
    const addon = addonTapBackend()!;
    const slots = new Uint8Array(4 * 64);
    const lengths = new Int32Array(4);
    const results = new Int32Array(4);
    expect(() => addon.startWriter!(-1, slots, 64, lengths, results, 2, 3)).toThrow(RangeError);
    expect(() => addon.startWriter!(-1, slots, 64, new Float64Array(4) as unknown as Int32Array, results, 2, 2)).toThrow(TypeError);
    const writer = addon.startWriter!(-1, slots, 64, lengths, results, 2, 2);
    lengths.set([60, 60, 60, 60]);
    writer.submit(2);
    writer.submit(1);
    expect(writer.completed(2)).toBe(2);
    expect([...results.subarray(0, 3)]).toEqual([-9, -9, -9]); // EBADF, in each frame's slot
    writer.submit(2);
    writer.stop();
    expect(writer.completed(0)).toBe(3);
    expect([...results.subarray(0, 2)]).toEqual([-9, -9]);
    expect(() => writer.submit(1)).toThrow(RangeError); // stopped
    writer.stop();
  });
});

describe('TapPort send queues with a writer thread (a backend that records, no TAP)', () => {
  /** A backend with a writer whose jobs complete only when the test says. */
  function fakeBackend() {
    const events: string[] = [];
    let completed = 0;
    let submitted = 0;
    const waits: number[] = [];
    let arrays: { slots: Uint8Array; slotBytes: number; lengths: Int32Array; results: Int32Array; batchFrames: number; batchCount: number } | null = null;
    const tags = (slots: Uint8Array, slotBytes: number, lengths: Int32Array, first: number, count: number): string =>
      Array.from({ length: count }, (_, i) => slots[(first + i) * slotBytes + 14]).join(',');
    const backend: TapBackend = {
      kind: 'addon',
      open: () => 3,
      close: () => {},
      read: () => -11,
      write: () => 0,
      watch: () => ({ stop: () => {}, ref: () => {} }),
      writeBatch: (_fd, slots, slotBytes, lengths, count, results) => {
        events.push(`direct ${tags(slots, slotBytes, lengths, 0, count)}`);
        for (let i = 0; i < count; i++) results[i] = lengths[i]!;
      },
      startWriter: (_fd, slots, slotBytes, lengths, results, batchFrames, batchCount) => {
        arrays = { slots, slotBytes, lengths, results, batchFrames, batchCount };
        return {
          submit: (count) => {
            const first = (submitted % batchCount) * batchFrames;
            events.push(`job ${tags(slots, slotBytes, lengths, first, count)}`);
            for (let i = 0; i < count; i++) results[first + i] = lengths[first + i]!;
            submitted++;
          },
          completed: (until) => {
            if (until > 0) waits.push(until);
            // Waiting completes what is waited for (the thread would have written it).
            if (until > completed) completed = until;
            return completed;
          },
          stop: () => {
            completed = submitted;
            events.push('stop');
          },
        };
      },
    };
    return { backend, events, waits, complete: () => (completed = submitted), arrays: () => arrays };
  }

  function frame(tag: number): Uint8Array {
    const f = new Uint8Array(60);
    f[14] = tag;
    return f;
  }

  it('keeps transmit order across jobs and direct writes, and waits only when every queue is with the writer', async () => {
    const fake = fakeBackend();
    const tap = new TapPort({ name: 'fake0', backend: fake.backend, txBatch: 4, writerMinFrames: 3 });
    expect(fake.arrays()!.batchCount).toBe(WRITER_BATCHES);
    // Two frames, writer idle: written in this thread at the end of the task.
    tap.transmit(frame(1), 0);
    tap.transmit(frame(2), 0);
    await endOfTask();
    expect(fake.events).toEqual(['direct 1,2']);
    expect(tap.txFrames).toBe(2);
    // A full queue goes to the writer; the one frame after it must not overtake it, so it follows as a job.
    for (let t = 3; t <= 7; t++) tap.transmit(frame(t), 0);
    await endOfTask();
    expect(fake.events.slice(1)).toEqual(['job 3,4,5,6', 'job 7']);
    expect(tap.txFrames).toBe(2); // not known written yet
    fake.complete();
    tap.transmit(frame(8), 0);
    await endOfTask();
    expect(fake.events.slice(3)).toEqual(['direct 8']);
    expect(tap.txFrames).toBe(8);
    // WRITER_BATCHES jobs pending: the next queue is reused only after its last job completed.
    for (let t = 10; t < 10 + 4 * WRITER_BATCHES; t++) tap.transmit(frame(t), 0);
    expect(fake.waits.length).toBe(1);
    expect(fake.events.filter((e) => e.startsWith('job')).length).toBe(2 + WRITER_BATCHES);
    tap.flush();
    expect(tap.txFrames).toBe(8 + 4 * WRITER_BATCHES);
    tap.close();
    expect(fake.events.at(-1)).toBe('stop');
  });

  it('writes every queue in this thread with writerMinFrames Infinity (no writer thread)', async () => {
    const fake = fakeBackend();
    const tap = new TapPort({ name: 'fake1', backend: fake.backend, txBatch: 4, writerMinFrames: Number.POSITIVE_INFINITY });
    expect(fake.arrays()).toBeNull();
    for (let t = 1; t <= 5; t++) tap.transmit(frame(t), 0);
    await endOfTask();
    expect(fake.events).toEqual(['direct 1,2,3,4', 'direct 5']);
    tap.close();
  });
});

describe.skipIf(skipReason !== null)('TapPort on /dev/net/tun', () => {
  describe.each(backends)('%s backend', (kind) => {
    const netns = uniquePrefix(`tp${kind[0]}`);
    const tapName = `${netns}k0`;
    let port: TapPort | null = null;

    beforeAll(() => addNetns(netns));
    afterEach(() => {
      port?.close();
      port = null;
    });
    afterAll(() => delNetns(netns));

    function openInNetns(options: { maxBatch?: number; maxFrameBytes?: number; txBatch?: number; writerMinFrames?: number; backend?: TapBackend } = {}): TapPort {
      const opened = new TapPort({ name: tapName, backend: options.backend ?? kind, clock: () => 1234, ...options });
      port = opened;
      moveTapToNetns(tapName, netns, { addresses: [`${KERNEL_IP}/24`] });
      return opened;
    }

    it('hands an ARP request sent by the kernel end to the receiver, stamped with the clock cycle', async () => {
      const tap = openInNetns();
      expect(tap.backendKind).toBe(kind);
      const seen: { frame: Uint8Array; cycle: number }[] = [];
      tap.attach((frame, cycle) => seen.push({ frame: frame.slice(), cycle }));
      const pinger = spawnSync('ip', ['netns', 'exec', netns, 'ping', '-c', '1', '-W', '0.3', PEER_IP]);
      expect(pinger.status).not.toBe(0); // nobody answers yet
      await new Promise((resolve) => setTimeout(resolve, 50));
      const arp = seen.find(({ frame }) => frame[12] === 0x08 && frame[13] === 0x06);
      expect(arp).toBeDefined();
      const { frame, cycle } = arp!;
      expect(cycle).toBe(1234);
      expect(frame.length).toBe(42); // no FCS, no padding from the kernel, no packet-info header
      expect([...frame.subarray(0, 6)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
      expect(frame[21]).toBe(1); // ARP request
      expect(frame.subarray(28, 32).join('.')).toBe(KERNEL_IP);
      expect(frame.subarray(38, 42).join('.')).toBe(PEER_IP);
      expect(tap.rxFrames).toBe(seen.length);
      // A clock set later stamps the bursts read from then on.
      tap.setClock(() => 777);
      // Another neighbour, so that the kernel sends a new ARP request at once.
      spawnSync('ip', ['netns', 'exec', netns, 'ping', '-c', '1', '-W', '0.3', '10.77.9.3']);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen.length).toBeGreaterThan(1);
      expect(seen.at(-1)!.cycle).toBe(777);
    });

    it('transmits frames the kernel accepts: Node answers ARP and ICMP and ping succeeds', () => {
      const tap = openInNetns();
      tap.attach((frame, cycle) => {
        const reply = arpReplyFor(frame) ?? echoReplyFor(frame);
        if (reply !== null) tap.transmit(reply, cycle);
      });
      const before = linkCounters(netns, tapName);
      return spawnPingAsync(netns).then((r) => {
        expect(r.transmitted).toBe(5);
        expect(r.received).toBe(5);
        const after = linkCounters(netns, tapName);
        expect(tap.txFrames).toBeGreaterThanOrEqual(6); // 1 ARP reply + 5 echo replies
        expect(after.rxPackets - before.rxPackets).toBe(tap.txFrames);
        expect(tap.txDroppedDown + tap.txDroppedFull).toBe(0);
      });
    });

    it('reads a queued burst in wake-ups of at most maxBatch frames', () => {
      const real = loadTapBackend(kind);
      const bursts: number[] = [];
      const counting: TapBackend = {
        ...real,
        watch: (fd, slots, slotBytes, lengths, maxBatch, onBurst) =>
          real.watch(fd, slots, slotBytes, lengths, maxBatch, (count, error) => {
            bursts.push(count);
            onBurst(count, error);
          }),
      };
      const tap = openInNetns({ maxBatch: 8, backend: counting });
      let frames = 0;
      tap.attach(() => frames++);
      spawnSync('ip', ['-n', netns, 'neigh', 'replace', PEER_IP, 'lladdr', '02:77:00:00:09:02', 'dev', tapName, 'nud', 'permanent']);
      // spawnSync blocks the event loop, so all 20 echo requests queue in the TAP before any read.
      spawnSync('ip', ['netns', 'exec', netns, 'ping', '-c', '20', '-i', '0.002', '-W', '0.05', '-q', PEER_IP]);
      return new Promise<void>((resolve) => setTimeout(resolve, 100)).then(() => {
        expect(frames).toBe(20);
        expect(bursts).toEqual([8, 8, 4]);
        expect(tap.rxBursts).toBe(3);
      });
    });

    it('drops and counts a frame longer than maxFrameBytes instead of passing it on truncated', async () => {
      const tap = openInNetns({ maxFrameBytes: 1000 });
      const lengths: number[] = [];
      tap.attach((frame) => lengths.push(frame.length));
      spawnSync('ip', ['-n', netns, 'link', 'set', 'dev', tapName, 'mtu', '3000']);
      spawnSync('ip', ['-n', netns, 'neigh', 'replace', PEER_IP, 'lladdr', '02:77:00:00:09:02', 'dev', tapName, 'nud', 'permanent']);
      // ICMP payload 2000 -> frame 14 + 20 + 8 + 2000 = 2042 bytes; payload 958 -> exactly 1000.
      spawnSync('ip', ['netns', 'exec', netns, 'ping', '-c', '1', '-W', '0.1', '-s', '2000', PEER_IP]);
      spawnSync('ip', ['netns', 'exec', netns, 'ping', '-c', '1', '-W', '0.1', '-s', '958', PEER_IP]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(lengths).toEqual([1000]);
      expect(tap.rxDroppedOversize).toBe(1);
    });

    it('counts a frame written while the kernel end is down as dropped, without throwing', async () => {
      const tap = openInNetns();
      spawnSync('ip', ['-n', netns, 'link', 'set', 'dev', tapName, 'down']);
      const frame = new Uint8Array(60);
      frame.fill(0xff, 0, 6);
      tap.transmit(frame, 0);
      await endOfTask();
      expect(tap.txFrames).toBe(0);
      expect(tap.txDroppedDown).toBe(1);
      expect(tap.lastErrno).toBe(-EIO);
    });

    it('counts a frame shorter than an Ethernet header as invalid, without throwing', async () => {
      const tap = openInNetns();
      tap.transmit(new Uint8Array(5), 0);
      await endOfTask();
      expect(tap.txFrames).toBe(0);
      expect(tap.txDroppedInvalid).toBe(1);
      expect(tap.lastErrno).toBe(-22); // EINVAL
    });

    /** A backend that records each writeBatch call: the frames it was given, copied. */
    function recordingWrites(): { backend: TapBackend; batches: number[][][] } {
      const real = loadTapBackend(kind);
      const batches: number[][][] = [];
      const backend: TapBackend = {
        ...real,
        writeBatch: (fd, slots, slotBytes, lengths, count, results) => {
          const frames: number[][] = [];
          for (let i = 0; i < count; i++) frames.push([...slots.subarray(i * slotBytes, i * slotBytes + lengths[i]!)]);
          batches.push(frames);
          real.writeBatch(fd, slots, slotBytes, lengths, count, results);
        },
        // A single write shows as a batch of one.
        write: (fd, frame) => {
          batches.push([[...frame]]);
          return real.write(fd, frame);
        },
      };
      return { backend, batches };
    }

    /** A broadcast frame of `length` bytes whose byte 14 is `tag`. */
    function taggedFrame(tag: number, length = 60): Uint8Array {
      const frame = new Uint8Array(length);
      frame.fill(0xff, 0, 6);
      frame.set([0x02, 0x77, 0, 0, 9, 2], 6);
      frame[12] = 0x88; // local experimental EtherType: the kernel counts and drops it
      frame[13] = 0xb5;
      frame[14] = tag;
      return frame;
    }

    it('queues transmitted frames (copied) and writes them in order in one call at the end of the task', async () => {
      const { backend, batches } = recordingWrites();
      const tap = openInNetns({ backend });
      const before = linkCounters(netns, tapName);
      const reused = taggedFrame(1);
      tap.transmit(reused, 0);
      reused[14] = 2; // the caller may reuse its buffer at once
      tap.transmit(reused, 0);
      tap.transmit(taggedFrame(3, 100), 0);
      expect(batches).toEqual([]);
      expect(tap.txFrames).toBe(0);
      await endOfTask();
      expect(batches.length).toBe(1);
      expect(batches[0]!.map((f) => [f[14], f.length])).toEqual([[1, 60], [2, 60], [3, 100]]);
      expect([tap.txFrames, tap.txBytes]).toEqual([3, 220]);
      expect(linkCounters(netns, tapName).rxPackets - before.rxPackets).toBe(3);
    });

    it('writes the queue at once when it holds txBatch frames, and close writes what is queued', async () => {
      const { backend, batches } = recordingWrites();
      const tap = openInNetns({ backend, txBatch: 2 });
      for (let tag = 1; tag <= 5; tag++) tap.transmit(taggedFrame(tag), 0);
      expect(batches.map((b) => b.map((f) => f[14]))).toEqual([[1, 2], [3, 4]]);
      expect(tap.txFrames).toBe(4);
      tap.close();
      expect(batches.map((b) => b.map((f) => f[14]))).toEqual([[1, 2], [3, 4], [5]]);
      expect(tap.txFrames).toBe(5);
      await endOfTask(); // the queued flush finds nothing left
      expect(batches.length).toBe(3);
    });

    it('writes a frame longer than a queue slot on its own, after the frames queued before it', () => {
      const { backend, batches } = recordingWrites();
      const tap = openInNetns({ backend, maxFrameBytes: 1000 });
      spawnSync('ip', ['-n', netns, 'link', 'set', 'dev', tapName, 'mtu', '3000']);
      tap.transmit(taggedFrame(1), 0);
      tap.transmit(taggedFrame(2, 1400), 0);
      expect(batches.map((b) => b.map((f) => [f[14], f.length]))).toEqual([[[1, 60]], [[2, 1400]]]);
      expect([tap.txFrames, tap.txBytes]).toEqual([2, 1460]);
    });

    // The writer thread is the addon's (koffi has none: its ports write every queue in this thread).
    if (kind === 'addon') it('hands busy queues to the writer thread: every frame reaches the kernel end, counted once written', async () => {
      const tap = openInNetns({ writerMinFrames: 4 });
      const before = linkCounters(netns, tapName);
      // 200 frames in one task: three full queues of 64 go to the writer, and the last 8 follow them at the end of the task.
      for (let k = 0; k < 200; k++) tap.transmit(taggedFrame(k & 0xff), 0);
      await endOfTask();
      tap.flush(); // waits for the writer
      expect([tap.txFrames, tap.txBytes]).toEqual([200, 200 * 60]);
      expect(linkCounters(netns, tapName).rxPackets - before.rxPackets).toBe(200);
      // A ping's single frames are written in this thread: counted at the end of the task.
      tap.transmit(taggedFrame(1), 0);
      await endOfTask();
      expect(tap.txFrames).toBe(201);
    });

    if (kind === 'addon') it('counts frames the writer thread could not write by reason', () => {
      const tap = openInNetns({ writerMinFrames: 4 });
      spawnSync('ip', ['-n', netns, 'link', 'set', 'dev', tapName, 'down']);
      for (let k = 0; k < 10; k++) tap.transmit(taggedFrame(k), 0);
      tap.transmit(new Uint8Array(5), 0);
      tap.flush();
      expect(tap.txFrames).toBe(0);
      expect(tap.txDroppedDown + tap.txDroppedInvalid).toBe(11);
      expect(tap.txDroppedDown).toBeGreaterThanOrEqual(10);
    });

    it('close is idempotent, deletes the interface and drops later transmits', () => {
      const tap = openInNetns();
      expect(linkNames(netns)).toContain(tapName);
      tap.close();
      tap.close();
      expect(linkNames(netns)).not.toContain(tapName);
      tap.transmit(new Uint8Array(60), 0);
      expect(tap.txDroppedClosed).toBe(1);
    });
  });

  it('refuses a second open of the same TAP name with a clear error', () => {
    const name = `${uniquePrefix('tpd')}d0`;
    const first = new TapPort({ name, backend: backends[0] });
    try {
      expect(() => new TapPort({ name, backend: backends[0] })).toThrow(/TUNSETIFF|busy/i);
    } finally {
      first.close();
    }
  });
});

/** Resolves after every microtask of the present task has run (a TapPort writes its send queue then). */
function endOfTask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** ping that does not block the event loop (the TAP must be read while it runs). */
function spawnPingAsync(netns: string): Promise<{ transmitted: number; received: number }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', netns, 'ping', '-n', '-c', '5', '-i', '0.02', '-w', '3', PEER_IP], (_error, stdout) => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
      resolve({ transmitted: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0 });
    });
  });
}
