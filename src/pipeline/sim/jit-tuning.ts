import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags for processes that run the model. V8's inlining budget (how much bytecode
 * TurboFan inlines into one optimized function) suits web pages; the model's hot paths
 * are chains of small calls (a pump asks its neighbour's handshake, posts, writes a FIFO
 * timeline, counts), and with the default budget the big pumps stop inlining them part
 * way. Measured with tools/bench/instructions.sh at the commit that added this (64-byte
 * frames): reference NIC 15.8k -> 13.2k instructions a frame, Fatriot NIC 28.1k -> 22.3k;
 * wall clock over five alternating 600k-frame runs, medians: reference 0.64 -> 0.71
 * Mpps, Fatriot 0.33 -> 0.47 Mpps. A budget of 8000 then measured no better than 4000;
 * since the pumps call their neighbours' handshake answers at call sites of their own
 * (sim/channel.ts), which TurboFan inlines, 4000 ran out: with 8000 the reference NIC
 * costs 11.55k instructions a 64-byte frame against 11.64k, the Fatriot NIC 20.0k against
 * 22.5k (16000: 11.4k and 20.9k; 8000 with a per-function limit of 1500: 13.8k and 19.8k).
 */
/*
 * A process that runs the model must not detach an ArrayBuffer on its main thread (a
 * transfer list, ArrayBuffer.prototype.transfer, structuredClone with transfer): V8 then
 * drops a process-wide assumption (its ArrayBufferDetaching protector) and every
 * typed-array access in optimized code checks for a detached buffer. The model reads and
 * writes typed arrays at every beat: the reference NIC ran at 1.10 Mpps against 1.24
 * with one 8-byte buffer detached at start (tools/bench/frame-cost.ts, three alternated
 * pairs). tsx's CommonJS loader does it (`node --import tsx`, which loads both of tsx's
 * loaders; `--trace-protector-invalidation` shows it): the model bench ran 10% slower
 * under it than the CLI, whose bin/fatriot.mjs registers only tsx's ESM loader (it runs
 * on a thread of its own, whose detaching leaves the main thread's code alone). So the
 * processes that run the model load TypeScript through tsx's ESM loader only: the CLI
 * through tsx/esm/api, `npm run bench` and the tools/bench scripts through
 * `--import tsx/esm` (test/tools/model-processes.test.ts checks both).
 *
 * Measured and not adopted: --no-concurrent-recompilation (TurboFan compiling on the main
 * thread when a function gets hot, not on a helper thread while it goes on running). With
 * concurrent compilation about one model process in ten (3 of 36, 2 of 16, 1 of 36 in
 * three series of `tools/bench/main.ts --model reference`) comes out of its warm-up with
 * its pumps compiled worse, for good (a neighbour's pump guard called out of line, with
 * megamorphic loads): the reference NIC at 0.63-0.74 Mpps against 1.13-1.28. Compiled in
 * turn, forty processes of forty ran at 1.21-1.29 Mpps, and five alternated pairs gave
 * reference 1.245-1.26 against 1.175-1.281 Mpps, Fatriot 0.676-0.699 against 0.582-0.704.
 * But V8 reads the flag only at start (setFlagsFromString leaves the helper thread on), so
 * every command line would carry it, and the main thread stops for each compilation (up
 * to ~50 ms for a pump): `npm run demo`, many short runs, took 6.4-6.7 s against 5.0. The
 * bench takes the median of three processes instead (tools/bench/main.ts runModelRates).
 */
export const MODEL_V8_FLAGS: readonly string[] = [
  '--max-inlined-bytecode-size-cumulative=8000',
  '--max-inlined-bytecode-size=920',
];

/**
 * Applies MODEL_V8_FLAGS to this process (they take effect for functions optimized from
 * now on). Process-wide, so the entry points call it (the CLI, the benchmarks), not the
 * library; FATRIOT_V8_TUNING=0 leaves V8's defaults (to compare).
 */
export function tuneV8ForModel(): void {
  if (process.env.FATRIOT_V8_TUNING === '0') return;
  for (const flag of MODEL_V8_FLAGS) setFlagsFromString(flag);
}
