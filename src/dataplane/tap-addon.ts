/**
 * Loads the Node-API TAP addon (src/dataplane/native/tap_addon.c) when it has been
 * built; returns null otherwise so callers can fall back to koffi.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TapBackend, TapBurstHandler, TapWatch, TapWriter } from './tap-backend.ts';

interface AddonExports {
  tapOpen(name: string): number;
  tapWrite(fd: number, frame: Uint8Array): number;
  tapWriteBatch(fd: number, slots: Uint8Array, slotBytes: number, lengths: Int32Array, count: number, results: Int32Array): number;
  tapRead(fd: number, buffer: Uint8Array): number;
  tapClose(fd: number): number;
  tapWatch(
    fd: number,
    slots: Uint8Array,
    slotBytes: number,
    lengths: Int32Array,
    maxBatch: number,
    onBurst: TapBurstHandler,
  ): object;
  tapUnwatch(watch: object): void;
  tapRef(watch: object, on: boolean): void;
  /** TapBackend.startWriter's arguments; returns the writer's handle. */
  tapWriterStart(...args: Parameters<NonNullable<TapBackend['startWriter']>>): object;
  tapWriterSubmit(writer: object, count: number): void;
  tapWriterCompleted(writer: object, until: number): number;
  tapWriterStop(writer: object): void;
}

export const TAP_ADDON_PATH = fileURLToPath(
  new URL('./native/build/Release/fatriot_tap.node', import.meta.url),
);

let cached: TapBackend | null | undefined;

export function addonTapBackend(): TapBackend | null {
  if (cached !== undefined) return cached;
  if (!existsSync(TAP_ADDON_PATH)) {
    cached = null;
    return cached;
  }
  const addon = createRequire(import.meta.url)(TAP_ADDON_PATH) as AddonExports;
  cached = {
    kind: 'addon',
    open: (name) => addon.tapOpen(name),
    write: (fd, frame) => addon.tapWrite(fd, frame),
    writeBatch: (fd, slots, slotBytes, lengths, count, results) => {
      addon.tapWriteBatch(fd, slots, slotBytes, lengths, count, results);
    },
    read: (fd, buffer) => addon.tapRead(fd, buffer),
    close: (fd) => {
      addon.tapClose(fd);
    },
    startWriter(fd, slots, slotBytes, lengths, results, batchFrames, batchCount): TapWriter {
      const handle = addon.tapWriterStart(fd, slots, slotBytes, lengths, results, batchFrames, batchCount);
      return {
        submit: (count) => addon.tapWriterSubmit(handle, count),
        completed: (until) => addon.tapWriterCompleted(handle, until),
        stop: () => addon.tapWriterStop(handle),
      };
    },
    watch(fd, slots, slotBytes, lengths, maxBatch, onBurst): TapWatch {
      const handle = addon.tapWatch(fd, slots, slotBytes, lengths, maxBatch, onBurst);
      let stopped = false;
      return {
        stop() {
          if (stopped) return;
          stopped = true;
          addon.tapUnwatch(handle);
        },
        ref(on) {
          if (!stopped) addon.tapRef(handle, on);
        },
      };
    },
  };
  return cached;
}
