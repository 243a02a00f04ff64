/**
 * SPEC 9: any control message (short, bad length, unknown type, unknown or
 * malformed attribute, oversize) gets an NLMSG_ERROR with the right errno, and
 * the server keeps serving other clients; a framing error closes only that client.
 */
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cmd, FATRIOT_FAMILY_ID } from '../../src/control/family.ts';
import {
  AttrWriter,
  decodeError,
  decodeMessage,
  encodeGenl,
  encodeMessage,
  Errno,
  NetlinkFramer,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  type NlMessage,
} from '../../src/control/netlink.ts';
import { connect, startServer } from './helpers.ts';

let env: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  env = await startServer();
});
afterAll(async () => {
  await env?.stop();
});

/** A client speaking raw bytes. */
class RawConn {
  private readonly framer = new NetlinkFramer(1 << 30);
  private readonly queue: NlMessage[] = [];
  private waiters: ((m: NlMessage) => void)[] = [];
  readonly closed: Promise<void>;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      for (const m of this.framer.push(chunk).messages) {
        const msg = decodeMessage(m) as NlMessage;
        const w = this.waiters.shift();
        if (w !== undefined) w(msg);
        else this.queue.push(msg);
      }
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }
  static open(path: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(path, () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }
  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }
  next(): Promise<NlMessage> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer within 3 s')), 3000);
      this.waiters.push((msg) => {
        clearTimeout(t);
        resolve(msg);
      });
    });
  }
  async expectError(): Promise<{ errno: number; message: string | null; offset: number; seq: number }> {
    const m = await this.next();
    expect(m.type).toBe(NLMSG_ERROR);
    const e = decodeError(m);
    if (!('error' in e)) throw new Error('undecodable NLMSG_ERROR');
    return { errno: e.error === 0 ? 0 : -e.error, message: e.message, offset: e.offset, seq: m.seq };
  }
  close(): void {
    this.socket.destroy();
  }
}

function fatriot(cmd: number, attrs: Uint8Array, flags = NLM_F_REQUEST | NLM_F_ACK, seq = 7): Uint8Array {
  return encodeMessage({ type: FATRIOT_FAMILY_ID, flags, seq, pid: 1, payload: encodeGenl(cmd, 1, attrs) });
}

function header(len: number, type: number, flags = NLM_F_REQUEST, seq = 9): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  return b;
}

async function secondClientStillServed(): Promise<void> {
  const c = await connect(env.socketPath);
  try {
    expect(await c.regRead(0x44090004)).toBe(1);
  } finally {
    c.close();
  }
}

/** Cases that leave the connection usable: [name, bytes, errno, offset or -1]. */
const recoverable: [string, Uint8Array, number, number][] = [
  ['payload shorter than the genl header', header(16, FATRIOT_FAMILY_ID), Errno.EINVAL, 16],
  ['a message without NLM_F_REQUEST', fatriot(Cmd.TARGET_GET, new Uint8Array(0), NLM_F_ACK), Errno.EINVAL, -1],
  ['a control message type (NLMSG_NOOP)', encodeMessage({ type: 1, flags: NLM_F_REQUEST, seq: 7, pid: 0, payload: new Uint8Array(4) }), Errno.EINVAL, -1],
  ['an unknown message type / family', encodeMessage({ type: 0x99, flags: NLM_F_REQUEST, seq: 7, pid: 0, payload: new Uint8Array(4) }), Errno.ENOENT, -1],
  ['an unknown command', fatriot(200, new Uint8Array(0)), Errno.EOPNOTSUPP, -1],
  ['a notification sent as a request', fatriot(Cmd.EVENT_FAILSAFE, new Uint8Array(0)), Errno.EOPNOTSUPP, -1],
  ['a dump of a command that has none', fatriot(Cmd.REG_READ, new AttrWriter().u32(26, 0).bytes(), NLM_F_REQUEST | NLM_F_DUMP), Errno.EOPNOTSUPP, -1],
  ['an unknown attribute type', fatriot(Cmd.TARGET_GET, new AttrWriter().u32(999, 1).bytes()), Errno.EINVAL, 20],
  ['an attribute not valid for the command', fatriot(Cmd.TARGET_GET, new AttrWriter().u32(1, 1).u32(26, 5).bytes()), Errno.EINVAL, 28],
  ['an attribute of the wrong length', fatriot(Cmd.REG_READ, new AttrWriter().u16(26, 4).bytes()), Errno.EINVAL, 20],
  ['an attribute length past the message', fatriot(Cmd.REG_READ, Uint8Array.of(40, 0, 26, 0, 0, 0, 0, 0)), Errno.EINVAL, 20],
  ['an attribute length below its header', fatriot(Cmd.REG_READ, Uint8Array.of(2, 0, 26, 0)), Errno.EINVAL, 20],
  ['an integer out of its range', fatriot(Cmd.FAILSAFE_SET, new AttrWriter().u32(1, 300).u8(15, 1).bytes()), Errno.ERANGE, 20],
  ['a missing required attribute', fatriot(Cmd.FAILSAFE_SET, new AttrWriter().u32(1, 3).bytes()), Errno.EINVAL, -1],
  ['an attribute given twice', fatriot(Cmd.REG_READ, new AttrWriter().u32(26, 0).u32(26, 4).bytes()), Errno.EINVAL, 28],
  ['a plain attribute marked nested', fatriot(Cmd.REG_READ, new AttrWriter().raw(26, new Uint8Array(4), true).bytes()), Errno.EINVAL, 20],
  [
    'a string attribute with unprintable bytes (CTRL_CMD_GETFAMILY)',
    encodeMessage({ type: 0x10, flags: NLM_F_REQUEST, seq: 7, pid: 0, payload: encodeGenl(3, 1, new AttrWriter().raw(2, Uint8Array.of(0x66, 0x01, 0)).bytes()) }),
    Errno.EINVAL,
    20,
  ],
  ['a family name nobody registered', encodeMessage({ type: 0x10, flags: NLM_F_REQUEST, seq: 7, pid: 0, payload: encodeGenl(3, 1, new AttrWriter().string(2, 'nl80211').bytes()) }), Errno.ENOENT, -1],
  ['a register address no block decodes', fatriot(Cmd.REG_READ, new AttrWriter().u32(26, 0x10).bytes()), Errno.EFAULT, -1],
];

describe('control server under malformed input', () => {
  for (const [name, bytes, errno, offset] of recoverable) {
    it(`answers ${name} with NLMSG_ERROR -${Object.entries(Errno).find(([, v]) => v === errno)![0]} and keeps serving`, async () => {
      const c = await RawConn.open(env.socketPath);
      try {
        c.send(bytes);
        const e = await c.expectError();
        expect(e.errno).toBe(errno);
        expect(e.message).not.toBeNull();
        expect(e.offset).toBe(offset);
        // Same connection still answers.
        c.send(fatriot(Cmd.REG_READ, new AttrWriter().u32(26, 0x44090004).bytes(), NLM_F_REQUEST | NLM_F_ACK, 8));
        const reply = await c.next();
        expect(reply.seq).toBe(8);
        expect(reply.type).toBe(FATRIOT_FAMILY_ID);
        expect((await c.expectError()).errno).toBe(0);
        await secondClientStillServed();
      } finally {
        c.close();
      }
    });
  }

  it('answers nlmsg_len below the header with -EINVAL and closes only that client', async () => {
    const bystander = await connect(env.socketPath);
    const c = await RawConn.open(env.socketPath);
    c.send(header(8, FATRIOT_FAMILY_ID));
    const e = await c.expectError();
    expect(e.errno).toBe(Errno.EINVAL);
    await c.closed;
    expect(await bystander.regRead(0x44090004)).toBe(1);
    bystander.close();
    await secondClientStillServed();
  });

  it('answers an oversize message (> 64 KiB) with -EMSGSIZE and closes only that client', async () => {
    const c = await RawConn.open(env.socketPath);
    c.send(header(70_000, FATRIOT_FAMILY_ID, NLM_F_REQUEST, 11));
    const e = await c.expectError();
    expect(e.errno).toBe(Errno.EMSGSIZE);
    expect(e.seq).toBe(11);
    await c.closed;
    await secondClientStillServed();
  });

  it('answers valid requests that arrive split across many chunks and glued together', async () => {
    const c = await RawConn.open(env.socketPath);
    const a = fatriot(Cmd.REG_READ, new AttrWriter().u32(26, 0x44090000).bytes(), NLM_F_REQUEST, 21);
    const b = fatriot(Cmd.REG_READ, new AttrWriter().u32(26, 0x440a0000).bytes(), NLM_F_REQUEST, 22);
    const stream = new Uint8Array([...a, ...b]);
    for (let i = 0; i < stream.length; i += 3) {
      c.send(stream.subarray(i, i + 3));
      await new Promise((r) => setImmediate(r));
    }
    const r1 = await c.next();
    const r2 = await c.next();
    expect([r1.seq, r2.seq]).toEqual([21, 22]);
    expect(Array.from(r1.payload.subarray(4 + 12, 4 + 16))).toEqual([0x01, 0x00, 0x71, 0xfa]);
    c.close();
  });

  it('survives a client that vanishes mid-message and mid-dump', async () => {
    const c = await RawConn.open(env.socketPath);
    c.send(fatriot(Cmd.COUNTERS_GET, new Uint8Array(0), NLM_F_REQUEST | NLM_F_DUMP).subarray(0, 10));
    c.close();
    const d = await RawConn.open(env.socketPath);
    d.send(fatriot(Cmd.COUNTERS_GET, new Uint8Array(0), NLM_F_REQUEST | NLM_F_DUMP));
    d.close();
    await secondClientStillServed();
  });
});
