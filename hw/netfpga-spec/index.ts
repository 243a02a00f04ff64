// Hardware facts of the NetFPGA-SUME Reference NIC as typed data (SPEC.md section 2).
// Every number lives in reference-nic.json with its source; this file only loads,
// validates and derives. See README.md for the cycle behaviour of each module.
import { z } from 'zod';
import rawSpec from './reference-nic.json' with { type: 'json' };

const factValueSchema = z.union([z.number(), z.string(), z.boolean()]);

/** One recorded hardware fact: a value, its unit, and where it comes from (or why it is assumed). */
export const factSchema = z
  .object({
    value: factValueSchema,
    unit: z.string().min(1),
    source: z.string().min(1).optional(),
    assumed: z.string().min(1).optional(),
    note: z.string().min(1).optional(),
  })
  .strict()
  .refine((fact) => (fact.source === undefined) !== (fact.assumed === undefined), {
    message: 'a fact needs exactly one of source or assumed',
  });

export type Fact = z.infer<typeof factSchema>;

type FactTree = { [key: string]: Fact | FactTree };

const factTreeSchema: z.ZodType<FactTree> = z.lazy(() =>
  z.record(z.string().regex(/^[a-z][A-Za-z0-9_]*$/), z.union([factSchema, factTreeSchema])),
);

function isFactLike(node: unknown): boolean {
  return typeof node === 'object' && node !== null && 'value' in node && 'unit' in node;
}

/** Walks the tree and returns [dotted path, fact] for every leaf. */
export function listFacts(tree: unknown, prefix = ''): Array<[string, Fact]> {
  const out: Array<[string, Fact]> = [];
  if (typeof tree !== 'object' || tree === null) return out;
  for (const [key, node] of Object.entries(tree)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (isFactLike(node)) out.push([path, node as Fact]);
    else out.push(...listFacts(node, path));
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Validates a spec object (the parsed JSON); throws with every offending path at load time. */
export function validateSpec(spec: unknown): void {
  const result = factTreeSchema.safeParse(spec);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`hw/netfpga-spec/reference-nic.json is invalid:\n${problems.join('\n')}`);
  }
}

validateSpec(rawSpec);

export type NetfpgaSpec = typeof rawSpec;

/** The Reference NIC facts, validated and frozen. Read values as `netfpgaSpec.axis.beatBytes.value`. */
export const netfpgaSpec: NetfpgaSpec = deepFreeze(structuredClone(rawSpec));

const spec = netfpgaSpec;

export type CoreClockVariant = keyof NetfpgaSpec['clock']['coreClockHz'] & ('nf_datapath_200' | 'block_design_160');
export type OutputQueuesVariant = 'tail_drop' | 'global_backpressure';
export type PortName = keyof NetfpgaSpec['ports']['oneHotBit'];
export const portNames = Object.freeze(Object.keys(spec.ports.oneHotBit) as PortName[]);

export const defaultCoreClockVariant = spec.clock.coreClockHz.defaultVariant.value as CoreClockVariant;
export const defaultOutputQueuesVariant = spec.outputQueues.variant.defaultVariant.value as OutputQueuesVariant;

export function coreClockHz(which: CoreClockVariant = defaultCoreClockVariant): number {
  return spec.clock.coreClockHz[which].value;
}

/** Clock period in ns (float): 5 at 200 MHz, 6.25 at 160 MHz. */
export function clockPeriodNs(which: CoreClockVariant = defaultCoreClockVariant): number {
  return 1e9 / coreClockHz(which);
}

export const beatBytes: number = spec.axis.beatBytes.value;

export function portOneHot(name: PortName): number {
  return 1 << spec.ports.oneHotBit[name].value;
}

/** Port name of a one-hot value with exactly one bit set, else undefined. */
export function portNameOfOneHot(oneHot: number): PortName | undefined {
  return portNames.find((name) => portOneHot(name) === oneHot);
}

/** 256-bit beats a frame (without FCS) occupies in the core. */
export function beatsPerFrame(frameLenNoFcs: number): number {
  return Math.ceil(frameLenNoFcs / beatBytes);
}

// Read once: the model asks wireBytesPerFrame for every frame, and `.value` loads across
// the spec's fact objects (each of its own shape) go megamorphic.
const FCS_BYTES = spec.ethernet.fcsBytes.value;
const MIN_FRAME_BYTES_WITH_FCS = spec.ethernet.minFrameBytesWithFcs.value;
const PREAMBLE_IFG_BYTES = spec.ethernet.preambleSfdBytes.value + spec.ethernet.interFrameGapBytes.value;

/** Bytes of a frame with its FCS as the MAC sends it: max(len + FCS, 64) (short frames padded). */
export function frameBytesWithFcs(frameLenNoFcs: number): number {
  return Math.max(frameLenNoFcs + FCS_BYTES, MIN_FRAME_BYTES_WITH_FCS);
}

/** Bytes a frame occupies on the wire: max(len + FCS, 64) + preamble/SFD + inter-frame gap. */
export function wireBytesPerFrame(frameLenNoFcs: number): number {
  return frameBytesWithFcs(frameLenNoFcs) + PREAMBLE_IFG_BYTES;
}

/** Maximum frames per second one 10G port carries (float): 14 880 952.38 for 60/64-byte frames. */
export function lineRateFramesPerSecond(frameLenNoFcs: number): number {
  return spec.ethernet.lineRateBps.value / (wireBytesPerFrame(frameLenNoFcs) * 8);
}

export interface Rational {
  readonly numerator: number;
  readonly denominator: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Core cycles one frame occupies at 10 Gb/s line rate, as an EXACT reduced rational
 * (wireBits * coreHz / lineRateBps). 64-byte frames at 160 MHz: 672 * 160e6 / 10e9 = 1344/125.
 * All terms are integers well below 2^53, so the arithmetic is exact.
 */
export function lineRateCyclesPerFrame(frameLenNoFcs: number, coreHz: number = coreClockHz()): Rational {
  const numerator = wireBytesPerFrame(frameLenNoFcs) * 8 * coreHz;
  const denominator = spec.ethernet.lineRateBps.value;
  const divisor = gcd(numerator, denominator);
  return Object.freeze({ numerator: numerator / divisor, denominator: denominator / divisor });
}

/** Same as lineRateCyclesPerFrame, as a float. */
export function lineRateCyclesPerFrameFloat(frameLenNoFcs: number, coreHz: number = coreClockHz()): number {
  const { numerator, denominator } = lineRateCyclesPerFrame(frameLenNoFcs, coreHz);
  return numerator / denominator;
}



/** Output-queue latency in cycles for a variant of output_queues.v. */
export function outputQueuesLatencyCycles(variant: OutputQueuesVariant = defaultOutputQueuesVariant): number {
  return spec.outputQueues.variant[variant].latencyCycles.value;
}

/** Absolute AXI-Lite address of output_queues per-port counter `field` of queue `queueIndex`. */
export function outputQueuesCounterAddress(
  queueIndex: number,
  field: Exclude<keyof NetfpgaSpec['registers']['outputQueuesPerPort'], 'firstPortOffset' | 'portStrideBytes'>,
): number {
  const r = spec.registers;
  const perPort = r.outputQueuesPerPort;
  return (
    r.base.outputQueues.value +
    perPort.firstPortOffset.value +
    queueIndex * perPort.portStrideBytes.value +
    perPort[field].value
  );
}
