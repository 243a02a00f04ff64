/**
 * The control server inside the NIC process (SPEC 5): one Unix stream socket
 * per NIC, generic netlink messages framed by nlmsg_len, many clients at once.
 *
 * Every request gets an answer: an ACK (NLM_F_ACK), a reply, a dump
 * (NLM_F_MULTI ... NLMSG_DONE) or an NLMSG_ERROR with a negative errno and an
 * extended-ack text (SPEC 9). A framing error (nlmsg_len below the header or
 * above 64 KiB) is answered and then closes that client only. Commands run one
 * at a time and reach the NIC only through the register map on its AXI-Lite
 * bus (RegisterDriver); the server knows nothing of module internals.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { AxiLiteError } from '../pipeline/regs/axi-lite-bus.ts';
import {
  enumValue,
  fatriotRegisterMap,
  fieldsToMac,
  macToFields,
  packEntry,
  payloadToWords,
  tableSpec,
  unpackEntry,
  wordsToPayload,
  type EntryFields,
  type TableSpec,
} from '../pipeline/regs/register-map.ts';
import { RegisterDriver, TableAccessError } from './driver.ts';
import { heartbeatEntryWords, serviceEntryWords, targetEntryWords } from './entries.ts';
import {
  Cmd,
  commandSpec,
  COMMANDS,
  ctrlAttrs,
  CTRL_GETFAMILY_REQUEST,
  FATRIOT_FAMILY_ID,
  FATRIOT_FAMILY_NAME,
  FATRIOT_FAMILY_VERSION,
  FATRIOT_MCAST_GROUPS,
  FATRIOT_MCGRP_EVENTS,
  FATRIOT_MCGRP_TAP,
  fatriotAttrs,
  IPPROTO,
  type CommandSpec,
} from './family.ts';
import {
  CTRL_CMD_GETFAMILY,
  CTRL_CMD_NEWFAMILY,
  decodeGenlHeader,
  decodeMessage,
  encodeDone,
  encodeError,
  encodeGenl,
  encodeMessage,
  Errno,
  GENL_HDRLEN,
  GENL_ID_CTRL,
  NetlinkFramer,
  NetlinkParseError,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_ECHO,
  NLM_F_MULTI,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  NLMSG_HDRLEN,
  NLMSG_MIN_TYPE,
  readHeader,
  type NlHeader,
} from './netlink.ts';
import type { ControlledNic, NicEvent } from './nic.ts';
import { encodeAttrs, validateAttrs, type AttrValues } from './policy.ts';

/** An error a command answers with: errno, extended-ack text, and the offending attribute's offset. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly errno: number,
    message: string,
    readonly offset = -1,
  ) {
    super(message);
  }
}

export interface ControlServerOptions {
  socketPath: string;
  nic: ControlledNic;
  /** File mode of the socket (SPEC 5: 0660). */
  mode?: number;
  /** Diagnostics (client errors, not requests). */
  log?: (line: string) => void;
  /** Heartbeat learning samples when a request gives none. */
  defaultLearnSamples?: number;
}

/** A client's queued output above this is not sent multicast copies (netlink's ENOBUFS, in spirit). */
const MAX_QUEUED_MULTICAST_BYTES = 4 << 20;

interface Client {
  readonly id: number;
  readonly socket: net.Socket;
  readonly framer: NetlinkFramer;
  readonly groups: Set<number>;
  closing: boolean;
  droppedNotifications: number;
}

interface Request {
  readonly client: Client;
  readonly header: NlHeader;
  readonly spec: CommandSpec;
  readonly attrs: AttrValues;
}

type Reply = AttrValues[] | AttrValues | null;

export class ControlServer {
  readonly socketPath: string;
  readonly nic: ControlledNic;
  readonly driver: RegisterDriver;
  private readonly server: net.Server;
  private readonly clients = new Map<number, Client>();
  private nextClientId = 1;
  private queue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  private readonly log: (line: string) => void;
  private readonly defaultLearnSamples: number;
  /** Requests answered (including errors), for tests and stats. */
  requestCount = 0;

  private constructor(options: ControlServerOptions, server: net.Server) {
    this.socketPath = options.socketPath;
    this.nic = options.nic;
    this.driver = new RegisterDriver(options.nic.bus);
    this.server = server;
    this.log = options.log ?? (() => {});
    this.defaultLearnSamples = options.defaultLearnSamples ?? 10;
  }

  /**
   * Listens on `socketPath` (mode 0660). The caller removes a stale socket
   * first (see daemon.ts); an existing path makes listen fail with EADDRINUSE.
   */
  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const server = net.createServer({ allowHalfOpen: false });
    const cs = new ControlServer(options, server);
    server.on('connection', (socket) => cs.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => cs.log(`control server: ${e.message}`));
    fs.chmodSync(options.socketPath, options.mode ?? 0o660);
    cs.unsubscribe = options.nic.events.subscribe((e) => cs.publishEvent(e));
    return cs;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Stops listening, closes every client and removes the socket file. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const c of this.clients.values()) c.socket.destroy();
    this.clients.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
  }

  private accept(socket: net.Socket): void {
    const client: Client = { id: this.nextClientId++, socket, framer: new NetlinkFramer(), groups: new Set(), closing: false, droppedNotifications: 0 };
    this.clients.set(client.id, client);
    socket.on('data', (chunk) => {
      try {
        this.onData(client, chunk);
      } catch (e) {
        // Never let one client's input take the NIC down (SPEC 9).
        this.log(`client ${client.id}: internal error: ${String(e)}`);
        client.closing = true;
        socket.destroy();
      }
    });
    socket.on('error', (e) => this.log(`client ${client.id}: ${e.message}`));
    socket.on('close', () => this.clients.delete(client.id));
  }

  private onData(client: Client, chunk: Buffer): void {
    if (client.closing) return;
    const { messages, error, errorHeader } = client.framer.push(chunk);
    for (const m of messages) this.receive(client, m);
    if (error !== null) {
      // The stream cannot be resynchronised: answer, then close this client only.
      const h = errorHeader ?? { len: 0, type: 0, flags: 0, seq: 0, pid: 0 };
      this.queue = this.queue.then(() => {
        this.send(client, encodeError(h, error.errno, error.message, error.offset));
        client.closing = true;
        client.socket.end();
      });
    }
  }

  /** Answers in arrival order: every request goes through the one command queue. */
  private receive(client: Client, bytes: Uint8Array): void {
    this.tap(client, 0, bytes);
    this.queue = this.queue.then(() => this.handle(client, bytes)).catch((e: unknown) => this.log(`internal error: ${String(e)}`));
  }

  private async handle(client: Client, bytes: Uint8Array): Promise<void> {
    this.requestCount++;
    const header = readHeader(bytes);
    const fail = (e: NetlinkParseError | ControlError): void => {
      this.send(client, encodeError(header, e.errno, e.message, e.offset));
    };
    const msg = decodeMessage(bytes);
    if (msg instanceof NetlinkParseError) return fail(msg);
    if ((msg.flags & NLM_F_REQUEST) === 0) return fail(new ControlError(Errno.EINVAL, 'message is not a request (NLM_F_REQUEST missing)'));
    if (msg.type < NLMSG_MIN_TYPE) return fail(new ControlError(Errno.EINVAL, `message type ${msg.type} is a control message, not a request`));
    const genl = decodeGenlHeader(msg.payload);
    if (genl instanceof NetlinkParseError) return fail(genl);
    const attrBytes = msg.payload.subarray(GENL_HDRLEN);
    const attrOffset = NLMSG_HDRLEN + GENL_HDRLEN;

    if (msg.type === GENL_ID_CTRL) {
      if (genl.cmd !== CTRL_CMD_GETFAMILY) return fail(new ControlError(Errno.EOPNOTSUPP, `nlctrl command ${genl.cmd} is not supported`));
      const attrs = validateAttrs(ctrlAttrs, CTRL_GETFAMILY_REQUEST, attrBytes, attrOffset, 'CTRL_CMD_GETFAMILY');
      if (attrs instanceof NetlinkParseError) return fail(attrs);
      return this.answerGetFamily(client, header, attrs);
    }
    if (msg.type !== FATRIOT_FAMILY_ID) return fail(new ControlError(Errno.ENOENT, `no generic netlink family with id ${msg.type}`));

    const spec = commandSpec(genl.cmd);
    if (spec === undefined || spec.notification === true) {
      return fail(new ControlError(Errno.EOPNOTSUPP, `fatriot has no command ${genl.cmd}`));
    }
    const isDump = (msg.flags & NLM_F_DUMP) === NLM_F_DUMP;
    if (isDump && !spec.dump) return fail(new ControlError(Errno.EOPNOTSUPP, `${spec.name} cannot be dumped`));
    const attrs = validateAttrs(fatriotAttrs, spec.request, attrBytes, attrOffset, spec.name);
    if (attrs instanceof NetlinkParseError) return fail(attrs);

    let reply: Reply;
    try {
      reply = await this.execute({ client, header, spec, attrs });
    } catch (e) {
      return fail(toControlError(e));
    }
    if ((msg.flags & NLM_F_ECHO) !== 0) this.send(client, bytes);
    if (isDump) {
      const list = reply === null ? [] : Array.isArray(reply) ? reply : [reply];
      for (const item of list) this.sendGenl(client, spec.cmd, NLM_F_MULTI, header.seq, item);
      this.send(client, encodeDone(header.seq));
      return;
    }
    if (reply !== null) {
      const list = Array.isArray(reply) ? reply : [reply];
      if (list.length === 0) return fail(new ControlError(Errno.ENOENT, `${spec.name}: no such object`));
      this.sendGenl(client, spec.cmd, 0, header.seq, list[0]!);
    }
    if ((msg.flags & NLM_F_ACK) !== 0) this.send(client, encodeError(header, 0, null, -1));
  }

  private answerGetFamily(client: Client, header: NlHeader, attrs: AttrValues): void {
    const byName = attrs.familyName;
    const byId = attrs.familyId;
    if ((byName !== undefined && byName !== FATRIOT_FAMILY_NAME) || (byId !== undefined && byId !== FATRIOT_FAMILY_ID)) {
      this.send(client, encodeError(header, Errno.ENOENT, `no generic netlink family ${String(byName ?? byId)}`, -1));
      return;
    }
    const groups: AttrValues = {};
    for (const g of FATRIOT_MCAST_GROUPS) groups[`group${g.id}`] = { name: g.name, id: g.id };
    const reply = encodeAttrs(ctrlAttrs, {
      familyId: FATRIOT_FAMILY_ID,
      familyName: FATRIOT_FAMILY_NAME,
      version: FATRIOT_FAMILY_VERSION,
      hdrsize: 0,
      maxattr: Math.max(...fatriotAttrs.defs.map((d) => d.id)),
      mcastGroups: groups,
    });
    const isDump = (header.flags & NLM_F_DUMP) === NLM_F_DUMP;
    this.send(client, encodeMessage({ type: GENL_ID_CTRL, flags: isDump ? NLM_F_MULTI : 0, seq: header.seq, pid: 0, payload: encodeGenl(CTRL_CMD_NEWFAMILY, 2, reply) }));
    if (isDump) this.send(client, encodeDone(header.seq));
    else if ((header.flags & NLM_F_ACK) !== 0) this.send(client, encodeError(header, 0, null, -1));
  }

  private sendGenl(client: Client, cmd: number, flags: number, seq: number, values: AttrValues): void {
    this.send(client, genlMessage(cmd, flags, seq, values));
  }

  private send(client: Client, bytes: Uint8Array): void {
    if (client.socket.destroyed || client.closing) return;
    client.socket.write(bytes);
    this.tap(client, 1, bytes);
  }

  /** Sends a copy of control traffic to members of the "tap" group (LINKTYPE_NETLINK captures). */
  private tap(client: Client, direction: 0 | 1, bytes: Uint8Array): void {
    let members = 0;
    for (const c of this.clients.values()) if (c.groups.has(FATRIOT_MCGRP_TAP)) members++;
    if (members === 0) return;
    const copy = genlMessage(Cmd.TAP, 0, 0, {
      tapDirection: direction,
      tapClient: client.id,
      tapMessage: bytes.slice(0, readHeader(bytes).len),
      timeUs: wallClockUs(),
    });
    this.multicast(FATRIOT_MCGRP_TAP, copy, client.groups.has(FATRIOT_MCGRP_TAP) ? client.id : -1);
  }

  private multicast(group: number, bytes: Uint8Array, exceptClient = -1): void {
    for (const c of this.clients.values()) {
      if (!c.groups.has(group) || c.id === exceptClient || c.closing || c.socket.destroyed) continue;
      if (c.socket.writableLength > MAX_QUEUED_MULTICAST_BYTES) {
        c.droppedNotifications++;
        continue;
      }
      c.socket.write(bytes);
    }
  }

  private publishEvent(e: NicEvent): void {
    const timeUs = wallClockUs();
    let bytes: Uint8Array;
    if (e.kind === 'failsafe') {
      bytes = genlMessage(Cmd.EVENT_FAILSAFE, 0, 0, { svcId: e.serviceId, active: e.active ? 1 : 0, cause: e.cause, cycle: e.cycle, timeUs });
    } else if (e.kind === 'heartbeat') {
      const ratioMilli = Math.min(0xffffffff, Math.max(0, Math.round(e.ratio * 1000)));
      const values: AttrValues = {
        svcId: e.serviceId,
        rttCycles: e.rttCycles,
        rttLastNs: this.cyclesToNs(e.rttCycles),
        rttAvgCycles: e.rttAvgCycles,
        rttAvgNs: this.cyclesToNs(e.rttAvgCycles),
        ratioMilli,
        cycle: e.cycle,
        timeUs,
      };
      if (e.timedOut) values.timedOut = true;
      bytes = genlMessage(Cmd.EVENT_HEARTBEAT, 0, 0, values);
    } else {
      bytes = genlMessage(Cmd.EVENT_NEIGHBOR, 0, 0, { ip: e.ip >>> 0, svcId: e.serviceId, up: e.up ? 1 : 0, cycle: e.cycle, timeUs });
    }
    this.multicast(FATRIOT_MCGRP_EVENTS, bytes);
    let tapMembers = false;
    for (const c of this.clients.values()) if (c.groups.has(FATRIOT_MCGRP_TAP)) tapMembers = true;
    if (tapMembers) {
      const copy = genlMessage(Cmd.TAP, 0, 0, { tapDirection: 1, tapClient: 0, tapMessage: bytes.slice(0, readHeader(bytes).len), timeUs });
      this.multicast(FATRIOT_MCGRP_TAP, copy);
    }
  }

  // ---- commands ------------------------------------------------------------

  private async execute(r: Request): Promise<Reply> {
    const a = r.attrs;
    const replace = (r.header.flags & NLM_F_REPLACE) !== 0;
    switch (r.spec.cmd) {
      case Cmd.TARGET_NEW:
        return this.targetNew(a, replace);
      case Cmd.TARGET_DEL:
        return this.targetDel(a);
      case Cmd.TARGET_GET:
        return this.targetGet(a);
      case Cmd.HEARTBEAT_NEW:
        return this.heartbeatNew(a, replace);
      case Cmd.HEARTBEAT_DEL:
        return this.heartbeatDel(a);
      case Cmd.HEARTBEAT_GET:
        return this.heartbeatGet(a);
      case Cmd.SERVICE_NEW:
        return this.serviceNew(a, replace);
      case Cmd.SERVICE_DEL:
        return this.serviceDel(a);
      case Cmd.SERVICE_GET:
        return this.serviceGet();
      case Cmd.DEFAULT_BACKUP_SET:
        await this.driver.writeRegisterSet(tableSpec('defaultBackup'), packEntry(tableSpec('defaultBackup'), { ip: num(a.backupIp), valid: 1 }));
        return null;
      case Cmd.DEFAULT_BACKUP_DEL:
        await this.driver.writeRegisterSet(tableSpec('defaultBackup'), packEntry(tableSpec('defaultBackup'), { ip: 0, valid: 0 }));
        return null;
      case Cmd.DEFAULT_BACKUP_GET: {
        const f = unpackEntry(tableSpec('defaultBackup'), await this.driver.readRegisterSet(tableSpec('defaultBackup')));
        return f.valid === 1 ? { backupIp: f.ip! } : {};
      }
      case Cmd.FAILSAFE_SET: {
        const spec = tableSpec('failsafeMode');
        await this.driver.writeEntry(spec, num(a.svcId), packEntry(spec, { mode: num(a.failsafeMode) }));
        return null;
      }
      case Cmd.FAILSAFE_GET:
        return this.failsafeGet(a);
      case Cmd.COUNTERS_GET:
        return this.countersGet();
      case Cmd.PORTS_GET:
        return this.portsGet();
      case Cmd.REG_READ:
        return { addr: num(a.addr), regValue: await this.driver.read(num(a.addr)) };
      case Cmd.REG_WRITE:
        await this.driver.write(num(a.addr), num(a.regValue));
        return null;
      case Cmd.NEIGHBORS_GET:
        return this.neighborsGet();
      case Cmd.CONFIG_GET:
        return this.configGet();
      case Cmd.CONFIG_SET:
        return this.configSet(a);
      case Cmd.FLUSH:
        return this.flush();
      case Cmd.JOIN_GROUP:
        r.client.groups.add(num(a.mcastGroup));
        return null;
      case Cmd.LEAVE_GROUP:
        r.client.groups.delete(num(a.mcastGroup));
        return null;
    }
    throw new ControlError(Errno.EOPNOTSUPP, `${r.spec.name} is not implemented`);
  }

  private async validEntries(spec: TableSpec): Promise<{ index: number; f: EntryFields }[]> {
    const words = await this.driver.readEntries(spec);
    const out: { index: number; f: EntryFields }[] = [];
    words.forEach((w, index) => {
      const f = unpackEntry(spec, w);
      if (f.valid === 1) out.push({ index, f });
    });
    return out;
  }

  private async freeIndex(spec: TableSpec, used: { index: number }[], what: string): Promise<number> {
    const taken = new Set(used.map((u) => u.index));
    for (let i = 0; i < spec.depth; i++) if (!taken.has(i)) return i;
    throw new ControlError(Errno.ENOSPC, `${what} table is full (${spec.depth} entries)`);
  }

  private async targetNew(a: AttrValues, replace: boolean): Promise<Reply> {
    const spec = tableSpec('targetTable');
    const ip = num(a.ip);
    const proto = num(a.proto);
    const port = a.port === undefined ? 0 : num(a.port);
    if (proto === IPPROTO.icmp && port !== 0) throw new ControlError(Errno.EINVAL, 'an ICMP target has no port');
    const entries = await this.validEntries(spec);
    const same = entries.find((e) => e.f.dstIp === ip && e.f.proto === proto && e.f.dstPort === port);
    if (same !== undefined && !replace) {
      throw new ControlError(Errno.EEXIST, `target ${ipText(ip)} proto ${proto} port ${port} exists (svc ${same.f.serviceId})`);
    }
    const index = same?.index ?? (await this.freeIndex(spec, entries, 'target'));
    await this.driver.writeEntry(spec, index, targetEntryWords({ ip, proto, port, svcId: num(a.svcId), critical: a.critical === true }));
    return null;
  }

  private async targetDel(a: AttrValues): Promise<Reply> {
    if (a.svcId === undefined && (a.ip === undefined || a.proto === undefined)) {
      throw new ControlError(Errno.EINVAL, 'TARGET_DEL needs svcId, or ip and proto');
    }
    const spec = tableSpec('targetTable');
    const port = a.port === undefined ? undefined : num(a.port);
    const victims = (await this.validEntries(spec)).filter(
      (e) =>
        (a.svcId === undefined || e.f.serviceId === a.svcId) &&
        (a.ip === undefined || e.f.dstIp === a.ip) &&
        (a.proto === undefined || e.f.proto === a.proto) &&
        (port === undefined || e.f.dstPort === port),
    );
    if (victims.length === 0) throw new ControlError(Errno.ENOENT, 'no such target');
    await this.driver.clearEntries(spec, victims.map((v) => v.index));
    return null;
  }

  private async targetGet(a: AttrValues): Promise<Reply> {
    const entries = await this.validEntries(tableSpec('targetTable'));
    return entries
      .filter((e) => a.svcId === undefined || e.f.serviceId === a.svcId)
      .map(({ index, f }) => ({
        index,
        ip: f.dstIp!,
        proto: f.proto!,
        port: f.dstPort!,
        svcId: f.serviceId!,
        ...(f.critical === 1 ? { critical: true } : {}),
      }));
  }

  private async heartbeatNew(a: AttrValues, replace: boolean): Promise<Reply> {
    const spec = tableSpec('heartbeatTable');
    const kind = num(a.hbKind);
    const kindName = (['host', 'icmp', 'udp', 'raw'] as const)[kind]!;
    const svcId = num(a.svcId);
    if (kind === enumValue(spec, 'kind', 'udp') && a.port === undefined) throw new ControlError(Errno.EINVAL, 'a udp heartbeat needs a port');
    if (kind !== enumValue(spec, 'kind', 'udp') && a.port !== undefined) throw new ControlError(Errno.EINVAL, `a ${kindName} heartbeat has no port`);
    const payload = a.payload instanceof Uint8Array ? a.payload : new Uint8Array(0);
    if (kind === enumValue(spec, 'kind', 'raw') && payload.length === 0) throw new ControlError(Errno.EINVAL, 'a raw heartbeat needs its message bytes');
    if (kind === enumValue(spec, 'kind', 'host') && payload.length > 0) throw new ControlError(Errno.EINVAL, 'a host heartbeat is an ICMP echo and takes no payload');
    let ip = a.ip === undefined ? -1 : num(a.ip);
    if (ip < 0) {
      if (kind === enumValue(spec, 'kind', 'host')) {
        const cfg = unpackEntry(tableSpec('nicConfig'), await this.driver.readRegisterSet(tableSpec('nicConfig')));
        if (cfg.hostIp === 0) throw new ControlError(Errno.EINVAL, 'a host heartbeat needs a target: give one or set the config host address');
        ip = cfg.hostIp!;
      } else {
        const target = (await this.validEntries(tableSpec('targetTable'))).find((e) => e.f.serviceId === svcId);
        if (target === undefined) throw new ControlError(Errno.EINVAL, `no target address for svc ${svcId}: add a target for it or give one`);
        ip = target.f.dstIp!;
      }
    }
    const intervalCycles = this.nsToCycles(num(a.intervalNs));
    if (intervalCycles < 1) throw new ControlError(Errno.ERANGE, 'interval is shorter than one clock cycle');
    const entries = await this.validEntries(spec);
    const same = entries.find((e) => e.f.serviceId === svcId);
    if (same !== undefined && !replace) throw new ControlError(Errno.EEXIST, `a heartbeat for svc ${svcId} exists`);
    const index = same?.index ?? (await this.freeIndex(spec, entries, 'heartbeat'));
    const mac = a.mac instanceof Uint8Array ? macToFields(a.mac) : { hi: 0, lo: 0 };
    const payloadSpec = tableSpec('heartbeatPayload');
    // Payload first, the entry (with valid) last: the manager never sees a valid entry with a stale message.
    await this.driver.writeEntry(payloadSpec, index, payloadToWords(payload, payloadSpec.wordsPerEntry));
    const words = heartbeatEntryWords({
      svcId,
      kind,
      targetIp: ip,
      targetMac: mac,
      udpPort: a.port === undefined ? 0 : num(a.port),
      intervalCycles,
      thresholdMilli: num(a.thresholdMilli),
      learnSamples: a.learnSamples === undefined ? this.defaultLearnSamples : num(a.learnSamples),
      payloadLength: payload.length,
    });
    await this.driver.writeEntry(spec, index, words);
    return null;
  }

  private async heartbeatDel(a: AttrValues): Promise<Reply> {
    const spec = tableSpec('heartbeatTable');
    const victims = (await this.validEntries(spec)).filter((e) => e.f.serviceId === a.svcId);
    if (victims.length === 0) throw new ControlError(Errno.ENOENT, `no heartbeat for svc ${String(a.svcId)}`);
    const indices = victims.map((v) => v.index);
    await this.driver.clearEntries(spec, indices);
    await this.driver.clearEntries(tableSpec('heartbeatPayload'), indices);
    return null;
  }

  private async heartbeatGet(a: AttrValues): Promise<Reply> {
    const spec = tableSpec('heartbeatTable');
    const entries = (await this.validEntries(spec)).filter((e) => a.svcId === undefined || e.f.serviceId === a.svcId);
    const payloads = await this.driver.readEntries(tableSpec('heartbeatPayload'), entries.map((e) => e.index));
    return entries.map(({ index, f }, k) => {
      const out: AttrValues = {
        index,
        svcId: f.serviceId!,
        hbKind: f.kind!,
        ip: f.targetIp!,
        intervalNs: this.cyclesToNs(f.intervalCycles!),
        intervalCycles: f.intervalCycles!,
        thresholdMilli: f.thresholdMilli!,
        learnSamples: f.learnSamples!,
        rttAvgNs: this.cyclesToNs(f.rttAvgCycles!),
        rttLastNs: this.cyclesToNs(f.rttLastCycles!),
        samples: f.samples!,
        hbState: f.state!,
        ratioMilli: f.ratioMilli!,
        failsafeActive: f.failsafeActive!,
      };
      if (f.targetMacHi !== 0 || f.targetMacLo !== 0) out.mac = fieldsToMac(f.targetMacHi!, f.targetMacLo!);
      if (f.kind === enumValue(spec, 'kind', 'udp')) out.port = f.udpPort!;
      if (f.payloadLength! > 0) out.payload = wordsToPayload(payloads[k]!, f.payloadLength!);
      return out;
    });
  }

  private async serviceNew(a: AttrValues, replace: boolean): Promise<Reply> {
    const spec = tableSpec('serviceTable');
    const ip = num(a.ip);
    const proto = num(a.proto);
    const port = a.port === undefined ? 0 : num(a.port);
    if (proto === IPPROTO.icmp && (port !== 0 || (a.backupPort ?? 0) !== 0)) throw new ControlError(Errno.EINVAL, 'an ICMP service has no port');
    const entries = await this.validEntries(spec);
    const same = entries.find((e) => e.f.svcIp === ip && e.f.proto === proto && e.f.svcPort === port);
    if (same !== undefined && !replace) throw new ControlError(Errno.EEXIST, `service ${ipText(ip)} proto ${proto} port ${port} exists`);
    const index = same?.index ?? (await this.freeIndex(spec, entries, 'service'));
    const words = serviceEntryWords({ ip, proto, port, backupIp: num(a.backupIp), backupPort: a.backupPort === undefined ? 0 : num(a.backupPort) });
    await this.driver.writeEntry(spec, index, words);
    return null;
  }

  private async serviceDel(a: AttrValues): Promise<Reply> {
    const spec = tableSpec('serviceTable');
    const victims = (await this.validEntries(spec)).filter(
      (e) =>
        e.f.svcIp === a.ip && (a.proto === undefined || e.f.proto === a.proto) && (a.port === undefined || e.f.svcPort === a.port),
    );
    if (victims.length === 0) throw new ControlError(Errno.ENOENT, 'no such service');
    await this.driver.clearEntries(spec, victims.map((v) => v.index));
    return null;
  }

  private async serviceGet(): Promise<Reply> {
    return (await this.validEntries(tableSpec('serviceTable'))).map(({ index, f }) => ({
      index,
      ip: f.svcIp!,
      proto: f.proto!,
      port: f.svcPort!,
      backupIp: f.backupIp!,
      backupPort: f.backupPort!,
    }));
  }

  private async failsafeGet(a: AttrValues): Promise<Reply> {
    const spec = tableSpec('failsafeMode');
    if (a.svcId !== undefined) {
      const f = unpackEntry(spec, await this.driver.readEntry(spec, num(a.svcId)));
      return { svcId: num(a.svcId), failsafeMode: f.mode!, active: f.active! };
    }
    const all = await this.driver.readEntries(spec);
    const known = new Set<number>();
    for (const e of await this.validEntries(tableSpec('targetTable'))) known.add(e.f.serviceId!);
    for (const e of await this.validEntries(tableSpec('heartbeatTable'))) known.add(e.f.serviceId!);
    const out: AttrValues[] = [];
    all.forEach((w, svcId) => {
      const f = unpackEntry(spec, w);
      if (f.mode !== 0 || f.active !== 0 || known.has(svcId)) out.push({ svcId, failsafeMode: f.mode!, active: f.active! });
    });
    return out;
  }

  private async countersGet(): Promise<Reply> {
    const values = await this.driver.readCounters();
    return fatriotRegisterMap.counters.named.map((c) => ({ name: c.name, group: c.group, index: c.index, value: values[c.index]! }));
  }

  private async portsGet(): Promise<Reply> {
    const values = await this.driver.readCounters();
    const named = new Map(fatriotRegisterMap.counters.named.map((c) => [c.name, c.index]));
    const get = (port: string, what: string): number => {
      const i = named.get(`${port}.${what}`);
      return i === undefined ? 0 : values[i]!;
    };
    return this.nic.ports().map((p, index) => ({
      index,
      name: p.name,
      portKind: p.kind,
      linkUp: p.up ? 1 : 0,
      rxPackets: get(p.name, 'rxPackets'),
      rxBytes: get(p.name, 'rxBytes'),
      txPackets: get(p.name, 'txPackets'),
      txBytes: get(p.name, 'txBytes'),
    }));
  }

  private async neighborsGet(): Promise<Reply> {
    return (await this.validEntries(tableSpec('neighborTable'))).map(({ index, f }) => ({
      index,
      ip: f.ip!,
      svcId: f.serviceId!,
      port: f.svcPort!,
      mac: fieldsToMac(f.macHi!, f.macLo!),
      capacity: f.capacity!,
      load: f.load!,
      lastSeenNs: this.cyclesToNs(f.lastSeenCycle!),
      alive: f.alive!,
    }));
  }

  private async configGet(): Promise<Reply> {
    const f = unpackEntry(tableSpec('nicConfig'), await this.driver.readRegisterSet(tableSpec('nicConfig')));
    return {
      relayIp: f.relayIp!,
      relayPortBase: f.relayPortBase!,
      relayPortCount: f.relayPortCount!,
      nicMac: fieldsToMac(f.nicMacHi!, f.nicMacLo!),
      hostIp: f.hostIp!,
      announcePort: f.announcePort!,
      capacity: f.capacity!,
      announceIntervalNs: this.cyclesToNs(f.announceIntervalCycles!),
      clockHz: this.nic.clockHz,
      cycle: this.nic.sim.now,
    };
  }

  private async configSet(a: AttrValues): Promise<Reply> {
    const spec = tableSpec('nicConfig');
    const f = unpackEntry(spec, await this.driver.readRegisterSet(spec));
    if (a.relayIp !== undefined) f.relayIp = num(a.relayIp);
    if (a.relayPortBase !== undefined) f.relayPortBase = num(a.relayPortBase);
    if (a.relayPortCount !== undefined) f.relayPortCount = num(a.relayPortCount);
    if (a.relayPortBase !== undefined || a.relayPortCount !== undefined) {
      if (f.relayPortBase! + f.relayPortCount! > 0x10000) throw new ControlError(Errno.ERANGE, 'relay ports run past 65535');
    }
    if (a.nicMac instanceof Uint8Array) {
      const m = macToFields(a.nicMac);
      f.nicMacHi = m.hi;
      f.nicMacLo = m.lo;
    }
    if (a.hostIp !== undefined) f.hostIp = num(a.hostIp);
    if (a.announcePort !== undefined) f.announcePort = num(a.announcePort);
    if (a.capacity !== undefined) f.capacity = num(a.capacity);
    if (a.announceIntervalNs !== undefined) f.announceIntervalCycles = this.nsToCycles(num(a.announceIntervalNs));
    await this.driver.writeRegisterSet(spec, packEntry(spec, f));
    return null;
  }

  /** Clears every host-written table: targets, heartbeats, services, default backup, forced fail-safe modes. */
  private async flush(): Promise<Reply> {
    for (const name of ['targetTable', 'heartbeatTable', 'serviceTable'] as const) {
      const spec = tableSpec(name);
      const victims = (await this.validEntries(spec)).map((e) => e.index);
      if (victims.length > 0) await this.driver.clearEntries(spec, victims);
      if (name === 'heartbeatTable' && victims.length > 0) await this.driver.clearEntries(tableSpec('heartbeatPayload'), victims);
    }
    await this.driver.writeRegisterSet(tableSpec('defaultBackup'), packEntry(tableSpec('defaultBackup'), { ip: 0, valid: 0 }));
    const modeSpec = tableSpec('failsafeMode');
    const forced: { index: number; words: Uint32Array }[] = [];
    (await this.driver.readEntries(modeSpec)).forEach((w, index) => {
      if (unpackEntry(modeSpec, w).mode !== 0) forced.push({ index, words: packEntry(modeSpec, { mode: 0 }) });
    });
    if (forced.length > 0) await this.driver.writeEntries(modeSpec, forced);
    return null;
  }

  private nsToCycles(ns: number): number {
    return Number((BigInt(ns) * BigInt(Math.round(this.nic.clockHz)) + 500_000_000n) / 1_000_000_000n);
  }

  private cyclesToNs(cycles: number): number {
    const hz = BigInt(Math.round(this.nic.clockHz));
    return Number((BigInt(cycles) * 1_000_000_000n + hz / 2n) / hz);
  }
}

function genlMessage(cmd: number, flags: number, seq: number, values: AttrValues): Uint8Array {
  return encodeMessage({ type: FATRIOT_FAMILY_ID, flags, seq, pid: 0, payload: encodeGenl(cmd, FATRIOT_FAMILY_VERSION, encodeAttrs(fatriotAttrs, values)) });
}

function num(v: unknown): number {
  return v as number;
}

function ipText(ip: number): string {
  return `${(ip >>> 24) & 255}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Wall-clock microseconds since the epoch, from the high-resolution clock. */
function wallClockUs(): number {
  return Math.floor(performance.timeOrigin * 1000 + performance.now() * 1000);
}

function toControlError(e: unknown): ControlError {
  if (e instanceof ControlError) return e;
  if (e instanceof AxiLiteError) return new ControlError(e.response === 'DECERR' ? Errno.EFAULT : Errno.EINVAL, `${e.response}: ${e.message}`);
  if (e instanceof TableAccessError) return new ControlError(Errno.EIO, e.message);
  if (e instanceof RangeError) return new ControlError(Errno.ERANGE, e.message);
  return new ControlError(Errno.EIO, e instanceof Error ? e.message : String(e));
}

/** Removes `socketPath` if it is a socket nobody answers on; throws if a daemon is listening or it is not a socket. */
export async function claimSocketPath(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch {
    fs.mkdirSync(path.dirname(socketPath), { recursive: true });
    return;
  }
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket; not touching it`);
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new Error(`another fatriot daemon is serving ${socketPath}`);
  fs.unlinkSync(socketPath);
}

export { COMMANDS };
