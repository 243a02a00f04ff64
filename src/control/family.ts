/**
 * The "fatriot" generic netlink family (SPEC 5): commands, attributes and the
 * per-command policies, all as data. Commands follow genetlink custom: a NEW,
 * DEL and GET per object, GET answering a dump (NLM_F_DUMP) or one object, and
 * replies carrying the request's command number.
 */
import { attrSet, type AttrDef, type AttrSet, type MessagePolicy } from './policy.ts';
import { GENL_ID_CTRL } from './netlink.ts';

export const FATRIOT_FAMILY_NAME = 'fatriot';
/** Our family id. Dynamic ids in Linux start at GENL_MIN_ID = GENL_ID_CTRL; 0x20 is clear of the static ones. */
export const FATRIOT_FAMILY_ID = 0x20;
export const FATRIOT_FAMILY_VERSION = 1;

/** Multicast groups: "events" (fail-safe, heartbeat samples, neighbors) and "tap" (a copy of all control traffic, as nlmon gives). */
export const FATRIOT_MCGRP_EVENTS = 1;
export const FATRIOT_MCGRP_TAP = 2;
export const FATRIOT_MCAST_GROUPS: readonly { id: number; name: string }[] = [
  { id: FATRIOT_MCGRP_EVENTS, name: 'events' },
  { id: FATRIOT_MCGRP_TAP, name: 'tap' },
];

export const Cmd = {
  TARGET_NEW: 1,
  TARGET_DEL: 2,
  TARGET_GET: 3,
  HEARTBEAT_NEW: 4,
  HEARTBEAT_DEL: 5,
  HEARTBEAT_GET: 6,
  SERVICE_NEW: 7,
  SERVICE_DEL: 8,
  SERVICE_GET: 9,
  DEFAULT_BACKUP_SET: 10,
  DEFAULT_BACKUP_DEL: 11,
  DEFAULT_BACKUP_GET: 12,
  FAILSAFE_SET: 13,
  FAILSAFE_GET: 14,
  COUNTERS_GET: 15,
  PORTS_GET: 16,
  REG_READ: 17,
  REG_WRITE: 18,
  NEIGHBORS_GET: 19,
  CONFIG_GET: 20,
  CONFIG_SET: 21,
  FLUSH: 22,
  JOIN_GROUP: 23,
  LEAVE_GROUP: 24,
  EVENT_FAILSAFE: 25,
  EVENT_HEARTBEAT: 26,
  EVENT_NEIGHBOR: 27,
  TAP: 28,
} as const;
export type CmdName = keyof typeof Cmd;

export const CMD_NAMES: Readonly<Record<number, CmdName>> = Object.fromEntries(
  Object.entries(Cmd).map(([k, v]) => [v, k as CmdName]),
) as Record<number, CmdName>;

export const IPPROTO = { icmp: 1, tcp: 6, udp: 17 } as const;
export type ProtoName = keyof typeof IPPROTO;
export const HEARTBEAT_KINDS = ['host', 'icmp', 'udp', 'raw'] as const;
export type HeartbeatKind = (typeof HEARTBEAT_KINDS)[number];
export const FAILSAFE_MODES = ['auto', 'on', 'off'] as const;
export type FailsafeMode = (typeof FAILSAFE_MODES)[number];
export const HEARTBEAT_STATES = ['learning', 'normal', 'failsafe'] as const;

/** Largest service ID (the 8-bit serviceId field of the register map). */
export const MAX_SERVICE_ID = 255;
/** Bytes of a heartbeat message (heartbeatPayload: 16 words). */
export const MAX_PAYLOAD_BYTES = 64;

const counterSet = attrSet('counter', [
  { id: 1, name: 'name', kind: 'string', minLen: 1, maxLen: 64 },
  { id: 2, name: 'value', kind: 'u64' },
]);

const ctrlGroupSet = attrSet('mcastGroup', [
  { id: 1, name: 'name', kind: 'string', minLen: 1, maxLen: 15 },
  { id: 2, name: 'id', kind: 'u32' },
]);

const A = (id: number, name: string, kind: AttrDef['kind'], extra: Partial<AttrDef> = {}): AttrDef => ({ id, name, kind, ...extra });

/** The family's one attribute space (FATRIOT_ATTR_*). Numbers are wire format: never renumber. */
export const fatriotAttrs: AttrSet = attrSet('fatriot', [
  A(1, 'svcId', 'u32', { max: MAX_SERVICE_ID }),
  A(2, 'ip', 'ipv4', { description: 'target / service / heartbeat / neighbor IPv4 address' }),
  A(3, 'proto', 'u8', { min: 1, max: 255 }),
  A(4, 'port', 'u16'),
  A(5, 'critical', 'flag'),
  A(6, 'index', 'u32', { description: 'table entry index' }),
  A(7, 'hbKind', 'u8', { max: 3 }),
  A(8, 'intervalNs', 'u64', { min: 1 }),
  A(9, 'thresholdMilli', 'u32', { min: 1, max: 1_000_000 }),
  A(10, 'learnSamples', 'u16', { min: 1 }),
  A(11, 'payload', 'binary', { maxLen: MAX_PAYLOAD_BYTES }),
  A(12, 'mac', 'binary', { minLen: 6, maxLen: 6 }),
  A(13, 'backupIp', 'ipv4'),
  A(14, 'backupPort', 'u16'),
  A(15, 'failsafeMode', 'u8', { max: 2 }),
  A(16, 'active', 'u8', { max: 1 }),
  A(17, 'rttAvgNs', 'u64'),
  A(18, 'rttLastNs', 'u64'),
  A(19, 'samples', 'u32'),
  A(20, 'hbState', 'u8', { max: 3 }),
  A(21, 'ratioMilli', 'u32'),
  A(22, 'counter', 'nested', { nested: counterSet, nestedRequired: ['name', 'value'] }),
  A(23, 'name', 'string', { minLen: 1, maxLen: 64 }),
  A(24, 'value', 'u64'),
  A(25, 'portKind', 'string', { minLen: 1, maxLen: 16 }),
  A(26, 'addr', 'u32'),
  A(27, 'regValue', 'u32'),
  A(28, 'capacity', 'u16'),
  A(29, 'load', 'u16'),
  A(30, 'lastSeenNs', 'u64'),
  A(31, 'alive', 'u8', { max: 1 }),
  A(32, 'cycle', 'u64'),
  A(33, 'up', 'u8', { max: 1 }),
  A(34, 'mcastGroup', 'u32', { min: 1, max: 2 }),
  A(35, 'tapDirection', 'u8', { max: 1, description: '0: to the server, 1: from the server' }),
  A(36, 'tapClient', 'u32'),
  A(37, 'tapMessage', 'binary', { minLen: 16, maxLen: 65536 }),
  A(38, 'timeUs', 'u64', { description: 'wall-clock time at the server, microseconds since the Unix epoch (ns would pass 2^53)' }),
  A(39, 'relayIp', 'ipv4'),
  A(40, 'relayPortBase', 'u16'),
  A(41, 'relayPortCount', 'u16'),
  A(42, 'nicMac', 'binary', { minLen: 6, maxLen: 6 }),
  A(43, 'hostIp', 'ipv4'),
  A(44, 'announcePort', 'u16'),
  A(45, 'announceIntervalNs', 'u64'),
  A(46, 'clockHz', 'u64'),
  A(47, 'rttCycles', 'u64'),
  A(48, 'intervalCycles', 'u64'),
  A(49, 'linkUp', 'u8', { max: 1 }),
  A(50, 'rxPackets', 'u64'),
  A(51, 'rxBytes', 'u64'),
  A(52, 'txPackets', 'u64'),
  A(53, 'txBytes', 'u64'),
  A(54, 'group', 'string', { minLen: 1, maxLen: 16, description: 'counter group: port, drop, event' }),
  A(55, 'failsafeActive', 'u8', { max: 1 }),
  A(56, 'cause', 'string', { minLen: 1, maxLen: 16, description: 'why fail-safe changed: heartbeat, host, forced, recovered, cleared' }),
  A(57, 'rttAvgCycles', 'u64'),
  A(58, 'timedOut', 'flag'),
]);

/** The controller's attributes (CTRL_ATTR_*), for CTRL_CMD_GETFAMILY. */
export const ctrlAttrs: AttrSet = attrSet('ctrl', [
  A(1, 'familyId', 'u16'),
  A(2, 'familyName', 'string', { minLen: 1, maxLen: 15 }),
  A(3, 'version', 'u32'),
  A(4, 'hdrsize', 'u32'),
  A(5, 'maxattr', 'u32'),
  A(7, 'mcastGroups', 'nested', { nested: attrSet('mcastGroups', FATRIOT_MCAST_GROUPS.map((g) => A(g.id, `group${g.id}`, 'nested', { nested: ctrlGroupSet, nestedRequired: ['name', 'id'] }))) }),
]);

export interface CommandSpec {
  readonly cmd: number;
  readonly name: CmdName;
  /** Attributes of a request. */
  readonly request: MessagePolicy;
  /** Attributes of a reply or notification with this command number. */
  readonly reply: MessagePolicy;
  /** Accepts NLM_F_DUMP. */
  readonly dump: boolean;
  /** Sent by the server only (events, tap copies). */
  readonly notification?: boolean;
}

const TARGET_ATTRS = ['index', 'ip', 'proto', 'port', 'svcId', 'critical'];
const HEARTBEAT_CONFIG = ['svcId', 'hbKind', 'ip', 'mac', 'port', 'payload', 'intervalNs', 'thresholdMilli', 'learnSamples'];
const HEARTBEAT_STATUS = ['index', 'intervalCycles', 'rttAvgNs', 'rttLastNs', 'samples', 'hbState', 'ratioMilli', 'failsafeActive'];
const SERVICE_ATTRS = ['index', 'ip', 'proto', 'port', 'backupIp', 'backupPort'];
const CONFIG_ATTRS = ['relayIp', 'relayPortBase', 'relayPortCount', 'nicMac', 'hostIp', 'announcePort', 'capacity', 'announceIntervalNs'];
const NONE: MessagePolicy = { allowed: [] };

function spec(name: CmdName, request: MessagePolicy, reply: MessagePolicy, dump = false, notification = false): CommandSpec {
  return { cmd: Cmd[name], name, request, reply, dump, notification };
}

export const COMMANDS: readonly CommandSpec[] = [
  spec('TARGET_NEW', { allowed: ['ip', 'proto', 'port', 'svcId', 'critical'], required: ['ip', 'proto', 'svcId'] }, NONE),
  spec('TARGET_DEL', { allowed: ['svcId', 'ip', 'proto', 'port'] }, NONE),
  spec('TARGET_GET', { allowed: ['svcId'] }, { allowed: TARGET_ATTRS }, true),
  spec('HEARTBEAT_NEW', { allowed: HEARTBEAT_CONFIG, required: ['svcId', 'hbKind', 'intervalNs', 'thresholdMilli'] }, NONE),
  spec('HEARTBEAT_DEL', { allowed: ['svcId'], required: ['svcId'] }, NONE),
  spec('HEARTBEAT_GET', { allowed: ['svcId'] }, { allowed: [...HEARTBEAT_CONFIG, ...HEARTBEAT_STATUS] }, true),
  spec('SERVICE_NEW', { allowed: ['ip', 'proto', 'port', 'backupIp', 'backupPort'], required: ['ip', 'proto', 'backupIp'] }, NONE),
  spec('SERVICE_DEL', { allowed: ['ip', 'proto', 'port'], required: ['ip'] }, NONE),
  spec('SERVICE_GET', NONE, { allowed: SERVICE_ATTRS }, true),
  spec('DEFAULT_BACKUP_SET', { allowed: ['backupIp'], required: ['backupIp'] }, NONE),
  spec('DEFAULT_BACKUP_DEL', NONE, NONE),
  spec('DEFAULT_BACKUP_GET', NONE, { allowed: ['backupIp'] }),
  spec('FAILSAFE_SET', { allowed: ['svcId', 'failsafeMode'], required: ['svcId', 'failsafeMode'] }, NONE),
  spec('FAILSAFE_GET', { allowed: ['svcId'] }, { allowed: ['svcId', 'failsafeMode', 'active'] }, true),
  spec('COUNTERS_GET', NONE, { allowed: ['name', 'group', 'index', 'value'] }, true),
  spec('PORTS_GET', NONE, { allowed: ['index', 'name', 'portKind', 'linkUp', 'rxPackets', 'rxBytes', 'txPackets', 'txBytes'] }, true),
  spec('REG_READ', { allowed: ['addr'], required: ['addr'] }, { allowed: ['addr', 'regValue'] }),
  spec('REG_WRITE', { allowed: ['addr', 'regValue'], required: ['addr', 'regValue'] }, NONE),
  spec('NEIGHBORS_GET', NONE, { allowed: ['index', 'ip', 'svcId', 'port', 'mac', 'capacity', 'load', 'lastSeenNs', 'alive'] }, true),
  spec('CONFIG_GET', NONE, { allowed: [...CONFIG_ATTRS, 'clockHz', 'cycle'] }),
  spec('CONFIG_SET', { allowed: CONFIG_ATTRS }, NONE),
  spec('FLUSH', NONE, NONE),
  spec('JOIN_GROUP', { allowed: ['mcastGroup'], required: ['mcastGroup'] }, NONE),
  spec('LEAVE_GROUP', { allowed: ['mcastGroup'], required: ['mcastGroup'] }, NONE),
  spec('EVENT_FAILSAFE', NONE, { allowed: ['svcId', 'active', 'cause', 'cycle', 'timeUs'], required: ['svcId', 'active', 'cycle'] }, false, true),
  spec(
    'EVENT_HEARTBEAT',
    NONE,
    { allowed: ['svcId', 'rttCycles', 'rttLastNs', 'rttAvgCycles', 'rttAvgNs', 'ratioMilli', 'timedOut', 'cycle', 'timeUs'], required: ['svcId', 'rttCycles', 'ratioMilli', 'cycle'] },
    false,
    true,
  ),
  spec('EVENT_NEIGHBOR', NONE, { allowed: ['ip', 'svcId', 'up', 'cycle', 'timeUs'], required: ['ip', 'up', 'cycle'] }, false, true),
  spec('TAP', NONE, { allowed: ['tapDirection', 'tapClient', 'tapMessage', 'timeUs'], required: ['tapDirection', 'tapClient', 'tapMessage'] }, false, true),
];

const BY_CMD = new Map<number, CommandSpec>(COMMANDS.map((c) => [c.cmd, c]));

export function commandSpec(cmd: number): CommandSpec | undefined {
  return BY_CMD.get(cmd);
}

/** The policy of CTRL_CMD_GETFAMILY requests and replies. */
export const CTRL_GETFAMILY_REQUEST: MessagePolicy = { allowed: ['familyId', 'familyName'] };
export const CTRL_NEWFAMILY_REPLY: MessagePolicy = { allowed: ['familyId', 'familyName', 'version', 'hdrsize', 'maxattr', 'mcastGroups'] };
export { GENL_ID_CTRL };
