import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags for processes that run the model. V8's inlining budget (how much bytecode
 * TurboFan inlines into one optimized function) suits web pages; the model's hot paths
 * are chains of small calls (a pump asks its neighbour's handshake, posts, writes a FIFO
 * timeline, counts), and with the default budget the big pumps stop inlining them part
 * way. Measured with tools/bench/instructions.sh at the commit that added this (64-byte
 * frames): reference NIC 15.8k -> 13.2k instructions a frame, Fatriot NIC 28.1k -> 22.3k;
 * wall clock over five alternating 600k-frame runs, medians: reference 0.64 -> 0.71
 * Mpps, Fatriot 0.33 -> 0.47 Mpps. A budget of 8000 measured no better than 4000.
 */
export const MODEL_V8_FLAGS: readonly string[] = [
  '--max-inlined-bytecode-size-cumulative=4000',
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
