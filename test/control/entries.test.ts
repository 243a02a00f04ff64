import { describe, expect, it } from 'vitest';
import { heartbeatEntryWords, serviceEntryWords, targetEntryWords } from '../../src/control/entries.ts';
import { IPPROTO } from '../../src/control/family.ts';
import { enumValue, tableSpec, unpackEntry } from '../../src/pipeline/regs/register-map.ts';
import { parseIpv4 } from '../../src/pipeline/wire/address.ts';

describe('control table entries', () => {
  it('pack every field of a target, service and heartbeat entry, marked valid, as the register map reads them back', () => {
    const ip = parseIpv4('10.0.0.11');
    expect(unpackEntry(tableSpec('targetTable'), targetEntryWords({ ip, proto: IPPROTO.udp, port: 7007, svcId: 3, critical: true }))).toMatchObject({
      dstIp: ip,
      proto: IPPROTO.udp,
      dstPort: 7007,
      serviceId: 3,
      critical: 1,
      valid: 1,
    });
    const backupIp = parseIpv4('10.0.0.21');
    expect(unpackEntry(tableSpec('serviceTable'), serviceEntryWords({ ip, proto: IPPROTO.tcp, port: 80, backupIp, backupPort: 8080 }))).toMatchObject({
      svcIp: ip,
      proto: IPPROTO.tcp,
      svcPort: 80,
      backupIp,
      backupPort: 8080,
      valid: 1,
    });
    const spec = tableSpec('heartbeatTable');
    const fields = unpackEntry(
      spec,
      heartbeatEntryWords({
        svcId: 5,
        kind: enumValue(spec, 'kind', 'udp'),
        targetIp: ip,
        targetMac: { hi: 0x0200, lo: 0x0000000b },
        udpPort: 7007,
        intervalCycles: 100_000_000,
        thresholdMilli: 1500,
        learnSamples: 8,
        payloadLength: 12,
      }),
    );
    expect(fields).toMatchObject({
      serviceId: 5,
      kind: enumValue(spec, 'kind', 'udp'),
      valid: 1,
      targetIp: ip,
      targetMacHi: 0x0200,
      targetMacLo: 0x0000000b,
      udpPort: 7007,
      intervalCycles: 100_000_000,
      thresholdMilli: 1500,
      learnSamples: 8,
      payloadLength: 12,
    });
  });
});
