/**
 * Promise-based client of the control API, used by the CLI and by host-side
 * controllers: `await client.targetAdd({...})`, `await client.targets()`,
 * `client.on('event', e => ...)` after `await client.subscribe()`.
 *
 * Like a genetlink user (libmnl, pyroute2) it first resolves the family by name
 * through the controller (CTRL_CMD_GETFAMILY), then numbers its requests and
 * matches answers by sequence number; notifications carry sequence 0.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { formatIpv4, parseIpv4 } from '../pipeline/wire/address.ts';
import {
  Cmd,
  commandSpec,
  ctrlAttrs,
  CTRL_NEWFAMILY_REPLY,
  FAILSAFE_MODES,
  FATRIOT_FAMILY_NAME,
  FATRIOT_FAMILY_VERSION,
  fatriotAttrs,
  type FailsafeMode,
} from './family.ts';
import {
  CTRL_CMD_GETFAMILY,
  decodeError,
  decodeGenlHeader,
  decodeMessage,
  encodeGenl,
  encodeMessage,
  Errno,
  GENL_HDRLEN,
  GENL_ID_CTRL,
  NetlinkFramer,
  NetlinkParseError,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  strerror,
  type NlMessage,
} from './netlink.ts';
import {
  configFromAttrs,
  configToAttrs,
  failsafeFromAttrs,
  heartbeatFromAttrs,
  heartbeatToAttrs,
  neighborFromAttrs,
  portFromAttrs,
  serviceFromAttrs,
  serviceToAttrs,
  targetFromAttrs,
  targetToAttrs,
  protoNumber,
  type ControlEvent,
  type CounterEntry,
  type FailsafeEntry,
  type Heartbeat,
  type HeartbeatEntry,
  type NeighborEntry,
  type NicConfig,
  type NicConfigState,
  type PortEntry,
  type Proto,
  type Service,
  type ServiceEntry,
  type Target,
  type TargetEntry,
} from './objects.ts';
import { encodeAttrs, validateAttrs, type AttrSet, type AttrValues, type MessagePolicy } from './policy.ts';

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Errno).map(([k, v]) => [v, k]));

/** An NLMSG_ERROR answer: errno (positive), its name, and the server's extended-ack text. */
export class ControlApiError extends Error {
  override readonly name = 'ControlApiError';
  readonly code: string;
  constructor(
    readonly errno: number,
    readonly detail: string | null,
    readonly offset: number,
  ) {
    super(detail !== null && detail !== '' ? detail : strerror(errno));
    this.code = ERRNO_NAMES[errno] ?? `E${errno}`;
  }
}

/** A copy of control traffic from the "tap" group. */
export interface TapRecord {
  /** 0: to the server, 1: from the server. */
  direction: number;
  clientId: number;
  message: Uint8Array;
  timeUs: number;
}

interface Pending {
  readonly items: AttrValues[];
  readonly policy: MessagePolicy;
  readonly set: AttrSet;
  readonly cmd: number;
  readonly expectAck: boolean;
  readonly dump: boolean;
  readonly resolve: (items: AttrValues[]) => void;
  readonly reject: (e: Error) => void;
}

export interface ClientOptions {
  /** Rejects a request with ETIMEDOUT after this long (default 10 s). */
  timeoutMs?: number;
}

export interface FatriotClientEvents {
  event: [ControlEvent];
  tap: [TapRecord];
  /** Every message received, raw (for captures). */
  message: [Uint8Array];
  close: [];
}

export class FatriotClient extends EventEmitter<FatriotClientEvents> {
  familyId = 0;
  readonly groups = new Map<string, number>();
  private readonly socket: net.Socket;
  private readonly framer = new NetlinkFramer(Number.MAX_SAFE_INTEGER);
  private readonly pending = new Map<number, Pending>();
  private seq = 1;
  private closed = false;
  private readonly timeoutMs: number;
  /** Every message sent, raw (for captures). */
  onSend: ((bytes: Uint8Array) => void) | null = null;

  private constructor(socket: net.Socket, options: ClientOptions) {
    super();
    this.socket = socket;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('close', () => this.onClose(new ControlApiError(Errno.EIO, 'control socket closed', -1)));
    socket.on('error', (e) => this.onClose(new ControlApiError(Errno.EIO, `control socket: ${e.message}`, -1)));
  }

  /** Connects to a NIC's control socket and resolves the "fatriot" family. */
  static async connect(socketPath: string, options: ClientOptions = {}): Promise<FatriotClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'ENOENT' ? 'no such socket (is the daemon running?)' : e.code === 'ECONNREFUSED' ? 'connection refused (stale socket?)' : e.message;
        reject(new Error(`cannot connect to ${socketPath}: ${why}`));
      });
    });
    const client = new FatriotClient(socket, options);
    try {
      await client.getFamily();
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  close(): void {
    if (this.closed) return;
    this.socket.end();
    this.socket.destroy();
    this.onClose(new ControlApiError(Errno.EIO, 'client closed', -1));
  }

  // ---- typed API -------------------------------------------------------------

  async targetAdd(t: Target, options: { replace?: boolean } = {}): Promise<void> {
    await this.request(Cmd.TARGET_NEW, targetToAttrs(t), options.replace === true ? NLM_F_REPLACE : 0);
  }

  async targetDel(sel: { svcId?: number; ip?: string; proto?: Proto; port?: number }): Promise<void> {
    const a: AttrValues = {};
    if (sel.svcId !== undefined) a.svcId = sel.svcId;
    if (sel.ip !== undefined) a.ip = ipNumber(sel.ip);
    if (sel.proto !== undefined) a.proto = protoNumber(sel.proto);
    if (sel.port !== undefined) a.port = sel.port;
    await this.request(Cmd.TARGET_DEL, a);
  }

  async targets(svcId?: number): Promise<TargetEntry[]> {
    return (await this.dump(Cmd.TARGET_GET, svcId === undefined ? {} : { svcId })).map(targetFromAttrs);
  }

  async heartbeatAdd(h: Heartbeat, options: { replace?: boolean } = {}): Promise<void> {
    await this.request(Cmd.HEARTBEAT_NEW, heartbeatToAttrs(h), options.replace === true ? NLM_F_REPLACE : 0);
  }

  async heartbeatDel(svcId: number): Promise<void> {
    await this.request(Cmd.HEARTBEAT_DEL, { svcId });
  }

  async heartbeats(svcId?: number): Promise<HeartbeatEntry[]> {
    return (await this.dump(Cmd.HEARTBEAT_GET, svcId === undefined ? {} : { svcId })).map(heartbeatFromAttrs);
  }

  async serviceAdd(s: Service, options: { replace?: boolean } = {}): Promise<void> {
    await this.request(Cmd.SERVICE_NEW, serviceToAttrs(s), options.replace === true ? NLM_F_REPLACE : 0);
  }

  async serviceDel(sel: { ip: string; proto?: Proto; port?: number }): Promise<void> {
    const a: AttrValues = { ip: ipNumber(sel.ip) };
    if (sel.proto !== undefined) a.proto = protoNumber(sel.proto);
    if (sel.port !== undefined) a.port = sel.port;
    await this.request(Cmd.SERVICE_DEL, a);
  }

  async services(): Promise<ServiceEntry[]> {
    return (await this.dump(Cmd.SERVICE_GET, {})).map(serviceFromAttrs);
  }

  async defaultBackupSet(ip: string): Promise<void> {
    await this.request(Cmd.DEFAULT_BACKUP_SET, { backupIp: ipNumber(ip) });
  }

  async defaultBackupDel(): Promise<void> {
    await this.request(Cmd.DEFAULT_BACKUP_DEL, {});
  }

  /** The default backup `*`, or null when none is set. */
  async defaultBackup(): Promise<string | null> {
    const [r] = await this.request(Cmd.DEFAULT_BACKUP_GET, {});
    return r?.backupIp === undefined ? null : formatIpv4(r.backupIp as number);
  }

  async failsafeSet(svcId: number, mode: FailsafeMode): Promise<void> {
    const m = FAILSAFE_MODES.indexOf(mode);
    if (m < 0) throw new RangeError(`fail-safe mode is one of ${FAILSAFE_MODES.join(', ')}`);
    await this.request(Cmd.FAILSAFE_SET, { svcId, failsafeMode: m });
  }

  async failsafe(svcId?: number): Promise<FailsafeEntry[]> {
    if (svcId !== undefined) return (await this.request(Cmd.FAILSAFE_GET, { svcId })).map(failsafeFromAttrs);
    return (await this.dump(Cmd.FAILSAFE_GET, {})).map(failsafeFromAttrs);
  }

  async counters(): Promise<CounterEntry[]> {
    return (await this.dump(Cmd.COUNTERS_GET, {})).map((a) => ({
      name: String(a.name),
      group: String(a.group),
      index: a.index as number,
      value: a.value as number,
    }));
  }

  async ports(): Promise<PortEntry[]> {
    return (await this.dump(Cmd.PORTS_GET, {})).map(portFromAttrs);
  }

  async regRead(addr: number): Promise<number> {
    const [r] = await this.request(Cmd.REG_READ, { addr });
    return r!.regValue as number;
  }

  async regWrite(addr: number, value: number): Promise<void> {
    await this.request(Cmd.REG_WRITE, { addr, regValue: value });
  }

  async neighbors(): Promise<NeighborEntry[]> {
    return (await this.dump(Cmd.NEIGHBORS_GET, {})).map(neighborFromAttrs);
  }

  async config(): Promise<NicConfigState> {
    const [r] = await this.request(Cmd.CONFIG_GET, {});
    return configFromAttrs(r!);
  }

  async configSet(c: Partial<NicConfig>): Promise<void> {
    await this.request(Cmd.CONFIG_SET, configToAttrs(c));
  }

  /** Clears targets, heartbeats, services, the default backup and forced fail-safe modes. */
  async flush(): Promise<void> {
    await this.request(Cmd.FLUSH, {});
  }

  /** Joins a multicast group ("events" by default); events then arrive as 'event' (or 'tap'). */
  async subscribe(group: 'events' | 'tap' = 'events'): Promise<void> {
    const id = this.groups.get(group);
    if (id === undefined) throw new Error(`the server has no multicast group ${group}`);
    await this.request(Cmd.JOIN_GROUP, { mcastGroup: id });
  }

  async unsubscribe(group: 'events' | 'tap' = 'events'): Promise<void> {
    const id = this.groups.get(group);
    if (id === undefined) throw new Error(`the server has no multicast group ${group}`);
    await this.request(Cmd.LEAVE_GROUP, { mcastGroup: id });
  }

  // ---- generic requests --------------------------------------------------------

  /**
   * Sends a fatriot request with NLM_F_ACK and resolves with its reply objects
   * (none for commands that only acknowledge). Rejects with ControlApiError.
   */
  request(cmd: number, attrs: AttrValues, extraFlags = 0): Promise<AttrValues[]> {
    const spec = commandSpec(cmd);
    if (spec === undefined) return Promise.reject(new Error(`unknown command ${cmd}`));
    return this.send(this.familyId, cmd, FATRIOT_FAMILY_VERSION, encodeAttrs(fatriotAttrs, attrs), NLM_F_REQUEST | NLM_F_ACK | extraFlags, fatriotAttrs, spec.reply, false);
  }

  /** Sends a dump request and resolves with every object up to NLMSG_DONE. */
  dump(cmd: number, attrs: AttrValues): Promise<AttrValues[]> {
    const spec = commandSpec(cmd);
    if (spec === undefined) return Promise.reject(new Error(`unknown command ${cmd}`));
    return this.send(this.familyId, cmd, FATRIOT_FAMILY_VERSION, encodeAttrs(fatriotAttrs, attrs), NLM_F_REQUEST | NLM_F_DUMP, fatriotAttrs, spec.reply, true);
  }

  /** Sends raw bytes (tests of malformed input); answers arrive as 'message'. */
  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Asks the controller for the family (CTRL_CMD_GETFAMILY): its id and multicast groups. */
  async getFamily(): Promise<void> {
    const [reply] = await this.send(
      GENL_ID_CTRL,
      CTRL_CMD_GETFAMILY,
      1,
      encodeAttrs(ctrlAttrs, { familyName: FATRIOT_FAMILY_NAME }),
      NLM_F_REQUEST | NLM_F_ACK,
      ctrlAttrs,
      CTRL_NEWFAMILY_REPLY,
      false,
    );
    if (reply === undefined || typeof reply.familyId !== 'number') throw new Error('the server did not name the fatriot family');
    this.familyId = reply.familyId;
    const groups = (reply.mcastGroups ?? {}) as AttrValues;
    for (const g of Object.values(groups)) {
      const grp = g as AttrValues;
      this.groups.set(String(grp.name), grp.id as number);
    }
  }

  private send(type: number, cmd: number, version: number, attrs: Uint8Array, flags: number, set: AttrSet, policy: MessagePolicy, dump: boolean): Promise<AttrValues[]> {
    if (this.closed) return Promise.reject(new ControlApiError(Errno.EIO, 'client is closed', -1));
    const seq = this.seq;
    this.seq = (this.seq % 0xfffffffe) + 1;
    const bytes = encodeMessage({ type, flags, seq, pid: process.pid, payload: encodeGenl(cmd, version, attrs) });
    return new Promise<AttrValues[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(seq)) reject(new ControlApiError(Errno.ETIMEDOUT, `no answer from the NIC within ${this.timeoutMs} ms`, -1));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(seq, {
        items: [],
        policy,
        set,
        cmd,
        expectAck: (flags & NLM_F_ACK) !== 0,
        dump,
        resolve: (items) => {
          clearTimeout(timer);
          resolve(items);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(bytes);
      this.onSend?.(bytes);
    });
  }

  private onData(chunk: Buffer): void {
    const { messages, error } = this.framer.push(chunk);
    for (const m of messages) this.onMessage(m);
    if (error !== null) this.onClose(new ControlApiError(Errno.EPROTO, `bad framing from the server: ${error.message}`, -1));
  }

  private onMessage(bytes: Uint8Array): void {
    this.emit('message', bytes);
    const msg = decodeMessage(bytes);
    if (msg instanceof NetlinkParseError) return;
    if (msg.seq === 0) {
      this.onNotification(msg);
      return;
    }
    const p = this.pending.get(msg.seq);
    if (p === undefined) return;
    if (msg.type === NLMSG_ERROR) {
      const e = decodeError(msg);
      this.pending.delete(msg.seq);
      if (e instanceof NetlinkParseError) p.reject(new ControlApiError(Errno.EPROTO, e.message, -1));
      else if (e.error === 0) p.resolve(p.items);
      else p.reject(new ControlApiError(-e.error, e.message, e.offset));
      return;
    }
    if (msg.type === NLMSG_DONE) {
      this.pending.delete(msg.seq);
      p.resolve(p.items);
      return;
    }
    const values = this.decodeGenl(msg, p.set, p.policy);
    if (values instanceof NetlinkParseError) {
      this.pending.delete(msg.seq);
      p.reject(new ControlApiError(Errno.EPROTO, `malformed reply: ${values.message}`, values.offset));
      return;
    }
    p.items.push(values);
    // A single reply with no ACK requested would end here; every request of ours asks for an ACK or a dump.
    if (!p.dump && !p.expectAck) {
      this.pending.delete(msg.seq);
      p.resolve(p.items);
    }
  }

  private decodeGenl(msg: NlMessage, set: AttrSet, policy: MessagePolicy): AttrValues | NetlinkParseError {
    const g = decodeGenlHeader(msg.payload);
    if (g instanceof NetlinkParseError) return g;
    return validateAttrs(set, policy, msg.payload.subarray(GENL_HDRLEN), NLMSG_HDRLEN + GENL_HDRLEN, 'reply');
  }

  private onNotification(msg: NlMessage): void {
    if (msg.type !== this.familyId) return;
    const g = decodeGenlHeader(msg.payload);
    if (g instanceof NetlinkParseError) return;
    const spec = commandSpec(g.cmd);
    if (spec === undefined || spec.notification !== true) return;
    const a = this.decodeGenl(msg, fatriotAttrs, spec.reply);
    if (a instanceof NetlinkParseError) return;
    const timeUs = typeof a.timeUs === 'number' ? a.timeUs : 0;
    switch (g.cmd) {
      case Cmd.EVENT_FAILSAFE:
        this.emit('event', { kind: 'failsafe', svcId: a.svcId as number, active: a.active === 1, cause: String(a.cause ?? ''), cycle: a.cycle as number, timeUs });
        break;
      case Cmd.EVENT_HEARTBEAT:
        this.emit('event', {
          kind: 'heartbeat',
          svcId: a.svcId as number,
          rttCycles: a.rttCycles as number,
          rttNs: typeof a.rttLastNs === 'number' ? a.rttLastNs : 0,
          rttAvgCycles: typeof a.rttAvgCycles === 'number' ? a.rttAvgCycles : 0,
          rttAvgNs: typeof a.rttAvgNs === 'number' ? a.rttAvgNs : 0,
          ratio: (a.ratioMilli as number) / 1000,
          timedOut: a.timedOut === true,
          cycle: a.cycle as number,
          timeUs,
        });
        break;
      case Cmd.EVENT_NEIGHBOR:
        this.emit('event', {
          kind: 'neighbor',
          ip: formatIpv4(a.ip as number),
          svcId: typeof a.svcId === 'number' ? a.svcId : 0,
          up: a.up === 1,
          cycle: a.cycle as number,
          timeUs,
        });
        break;
      case Cmd.TAP:
        this.emit('tap', { direction: a.tapDirection as number, clientId: a.tapClient as number, message: a.tapMessage as Uint8Array, timeUs });
        break;
    }
  }

  private onClose(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.emit('close');
  }
}

const ipNumber = parseIpv4;
