/**
 * Properties of the control codec (seed fixed, printed by fast-check on failure):
 * every command's request and reply round-trips through encode -> frame ->
 * decode -> validate; arbitrary chunking of a stream yields the same messages;
 * NLMSG_ERROR and NLMSG_DONE round-trip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMANDS, fatriotAttrs, FATRIOT_FAMILY_ID } from '../../src/control/family.ts';
import {
  decodeError,
  decodeGenlHeader,
  decodeMessage,
  encodeDone,
  encodeError,
  encodeGenl,
  encodeMessage,
  GENL_HDRLEN,
  NetlinkFramer,
  NetlinkParseError,
  NLMSG_DONE,
  NLMSG_HDRLEN,
  NLM_F_MULTI,
  type NlMessage,
} from '../../src/control/netlink.ts';
import { encodeAttrs, validateAttrs, type AttrDef, type AttrValues, type MessagePolicy } from '../../src/control/policy.ts';

const SEED = 20240917;

function valueArb(def: AttrDef): fc.Arbitrary<unknown> {
  const maxOf: Record<string, number> = { u8: 0xff, u16: 0xffff, u32: 0xffffffff, u64: Number.MAX_SAFE_INTEGER, ipv4: 0xffffffff };
  switch (def.kind) {
    case 'flag':
      return fc.constant(true);
    case 'u8':
    case 'u16':
    case 'u32':
    case 'u64':
    case 'ipv4':
      return fc.integer({ min: def.min ?? 0, max: def.max ?? maxOf[def.kind]! });
    case 'string':
      return fc.string({ minLength: def.minLen ?? 0, maxLength: Math.min(def.maxLen ?? 32, 32), unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._-'.split('')) });
    case 'binary':
      return fc.uint8Array({ minLength: def.minLen ?? 0, maxLength: Math.min(def.maxLen ?? 64, 96) });
    case 'nested': {
      const set = def.nested!;
      const required = new Set(def.nestedRequired ?? []);
      return fc.record(
        Object.fromEntries(set.defs.map((d) => [d.name, valueArb(d)])),
        { requiredKeys: set.defs.filter((d) => required.has(d.name)).map((d) => d.name) },
      );
    }
  }
}

function valuesArb(policy: MessagePolicy): fc.Arbitrary<AttrValues> {
  const defs = policy.allowed.map((n) => fatriotAttrs.byName.get(n)!);
  return fc.record(Object.fromEntries(defs.map((d) => [d.name, valueArb(d)])), { requiredKeys: [...(policy.required ?? [])] }) as fc.Arbitrary<AttrValues>;
}

function roundTrip(cmd: number, policy: MessagePolicy, values: AttrValues, flags: number, seq: number): AttrValues | NetlinkParseError {
  const bytes = encodeMessage({ type: FATRIOT_FAMILY_ID, flags, seq, pid: 1234, payload: encodeGenl(cmd, 1, encodeAttrs(fatriotAttrs, values)) });
  expect(bytes.length % 4).toBe(0);
  const msg = decodeMessage(bytes) as NlMessage;
  expect(msg.type).toBe(FATRIOT_FAMILY_ID);
  expect(msg.flags).toBe(flags);
  expect(msg.seq).toBe(seq);
  expect(msg.pid).toBe(1234);
  const g = decodeGenlHeader(msg.payload);
  expect(g).toEqual({ cmd, version: 1 });
  return validateAttrs(fatriotAttrs, policy, msg.payload.subarray(GENL_HDRLEN), NLMSG_HDRLEN + GENL_HDRLEN, 'test');
}

describe('control codec properties', () => {
  for (const spec of COMMANDS) {
    if (spec.request.allowed.length > 0 || spec.notification !== true) {
      it(`${spec.name} requests round-trip`, () => {
        fc.assert(
          fc.property(valuesArb(spec.request), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xffffffff }), (values, flags, seq) => {
            expect(roundTrip(spec.cmd, spec.request, values, flags, seq)).toEqual(values);
          }),
          { seed: SEED, numRuns: 100 },
        );
      });
    }
    if (spec.reply.allowed.length > 0) {
      it(`${spec.name} ${spec.notification === true ? 'notifications' : 'replies'} round-trip`, () => {
        fc.assert(
          fc.property(valuesArb(spec.reply), fc.integer({ min: 0, max: 0xffffffff }), (values, seq) => {
            expect(roundTrip(spec.cmd, spec.reply, values, NLM_F_MULTI, seq)).toEqual(values);
          }),
          { seed: SEED, numRuns: 100 },
        );
      });
    }
  }

  it('NLMSG_ERROR round-trips errno, request header, text and offset', () => {
    fc.assert(
      fc.property(
        fc.record({ len: fc.integer({ min: 16, max: 65536 }), type: fc.integer({ min: 0, max: 0xffff }), flags: fc.integer({ min: 0, max: 0xffff }), seq: fc.nat(), pid: fc.nat() }),
        fc.integer({ min: 0, max: 4095 }),
        fc.option(fc.string({ minLength: 1, maxLength: 80, unit: fc.constantFrom(...'abc xyz:0123'.split('')) }), { nil: null }),
        fc.integer({ min: -1, max: 65535 }),
        (request, errno, text, offset) => {
          const msg = decodeMessage(encodeError(request, errno, text, offset)) as NlMessage;
          const e = decodeError(msg);
          expect(e).toEqual({ error: errno === 0 ? 0 : -errno, request, message: text, offset });
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('NLMSG_DONE carries the sequence number and NLM_F_MULTI', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seq) => {
        const m = decodeMessage(encodeDone(seq)) as NlMessage;
        expect([m.type, m.flags, m.seq, m.payload.length]).toEqual([NLMSG_DONE, NLM_F_MULTI, seq, 4]);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('framing by nlmsg_len yields the same messages however the stream is cut', () => {
    const message = fc
      .uint8Array({ minLength: 0, maxLength: 200 })
      .map((payload) => encodeMessage({ type: 0x20, flags: 1, seq: payload.length, pid: 0, payload }));
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 40 }), (messages, cuts) => {
        const stream = new Uint8Array(messages.reduce((n, m) => n + m.length, 0));
        let at = 0;
        for (const m of messages) {
          stream.set(m, at);
          at += m.length;
        }
        const framer = new NetlinkFramer();
        const got: Uint8Array[] = [];
        let pos = 0;
        let k = 0;
        while (pos < stream.length) {
          const n = cuts[k++ % cuts.length]!;
          const r = framer.push(stream.subarray(pos, pos + n));
          expect(r.error).toBeNull();
          got.push(...r.messages);
          pos += n;
        }
        expect(framer.pendingBytes).toBe(0);
        expect(got.map((m) => Array.from(m))).toEqual(messages.map((m) => Array.from(m.subarray(0, new DataView(m.buffer, m.byteOffset).getUint32(0, true)))));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('decoding arbitrary bytes never throws: it returns values or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const spec of COMMANDS) {
          const r = validateAttrs(fatriotAttrs, spec.request, bytes, 20, spec.name);
          if (r instanceof NetlinkParseError) expect(r.errno).toBeGreaterThan(0);
        }
        const m = decodeMessage(bytes);
        if (!(m instanceof NetlinkParseError)) decodeError(m);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
