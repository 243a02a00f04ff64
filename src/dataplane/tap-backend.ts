/**
 * The system calls a TAP port needs, behind one interface with two implementations:
 * - `addon`: a Node-API C addon (src/dataplane/native) that watches the fd with a libuv
 *   uv_poll_t on Node's own event loop and reads a whole burst in C;
 * - `koffi`: libc through koffi; readability comes from one shared `poll()` running as a
 *   koffi async call on the libuv thread pool.
 * `auto` takes the addon when it has been built and koffi otherwise. The numbers behind
 * that order are in tools/bench/tap.ts and the report quoted by README.md.
 */
import { addonTapBackend } from './tap-addon.ts';
import { koffiTapBackend } from './tap-koffi.ts';

export type TapBackendKind = 'addon' | 'koffi';

/**
 * Called once per wake-up with the frames read in it: frame i lies in
 * slots[i * slotBytes, i * slotBytes + lengths[i]). `error` is 0 or a negative errno;
 * after a non-zero error the watch has stopped.
 */
export type TapBurstHandler = (count: number, error: number) => void;

export interface TapWatch {
  stop(): void;
  /** Whether an idle watch keeps the Node process alive (default true, like a socket). */
  ref(on: boolean): void;
}

/**
 * Frames written by a thread of their own (addon only): batch b of the arrays given to
 * `startWriter` holds frames b * batchFrames ..; jobs are written in the order submitted,
 * job j using batch j % batchCount, and a batch may be refilled only once the job that used
 * it last has completed.
 */
export interface TapWriter {
  /** Queues the next job: frames 0..count-1 of batch (jobs submitted so far) % batchCount. */
  submit(count: number): void;
  /** Jobs completed since the start, after waiting until at least `until` have (0: no wait). */
  completed(until: number): number;
  /** Writes every submitted job, then ends the thread. Idempotent. */
  stop(): void;
}

export interface TapBackend {
  readonly kind: TapBackendKind;
  /** Opens /dev/net/tun and attaches it to TAP `name` (IFF_TAP | IFF_NO_PI), non-blocking. */
  open(name: string): number;
  /** Writes one frame; returns the bytes written or a negative errno (-EAGAIN, -EIO when down). */
  write(fd: number, frame: Uint8Array): number;
  /**
   * Writes frames 0..count-1 of a batch in order, frame i lying in
   * slots[i * slotBytes, i * slotBytes + lengths[i]); results[i] receives what `write`
   * would have returned for it.
   */
  writeBatch(fd: number, slots: Uint8Array, slotBytes: number, lengths: Int32Array, count: number, results: Int32Array): void;
  /** Reads one frame; returns its length or a negative errno (-EAGAIN when none waits). */
  read(fd: number, buffer: Uint8Array): number;
  /** Starts reading bursts of up to `maxBatch` frames whenever `fd` turns readable. */
  watch(
    fd: number,
    slots: Uint8Array,
    slotBytes: number,
    lengths: Int32Array,
    maxBatch: number,
    onBurst: TapBurstHandler,
  ): TapWatch;
  close(fd: number): void;
  /**
   * Starts a writer thread for `fd` over the batches in `slots`, `lengths` and `results`
   * (see TapWriter). Absent where the backend has none (koffi).
   */
  startWriter?(
    fd: number,
    slots: Uint8Array,
    slotBytes: number,
    lengths: Int32Array,
    results: Int32Array,
    batchFrames: number,
    batchCount: number,
  ): TapWriter;
}

export const EAGAIN = 11;
export const EIO = 5;

/** Picks a backend: an explicit kind, else env FATRIOT_TAP_BACKEND, else the addon when built. */
export function loadTapBackend(kind: TapBackendKind | 'auto' = 'auto'): TapBackend {
  const wanted = kind === 'auto' ? (process.env.FATRIOT_TAP_BACKEND as TapBackendKind | undefined) : kind;
  if (wanted === 'koffi') return koffiTapBackend();
  if (wanted === 'addon') {
    const addon = addonTapBackend();
    if (addon === null) {
      throw new Error(
        'TAP addon not built: run `npx node-gyp rebuild -C src/dataplane/native` (or npm ci with the install script)',
      );
    }
    return addon;
  }
  if (wanted !== undefined && wanted !== ('auto' as string)) {
    throw new Error(`FATRIOT_TAP_BACKEND must be addon or koffi, got ${String(wanted)}`);
  }
  return addonTapBackend() ?? koffiTapBackend();
}
