/**
 * Fatriot's use of the AXI4-Stream sideband beyond the NetFPGA fields.
 *
 * The reference NIC's tuser carries len [15:0], src [23:16] and dst [31:24]
 * (hw/netfpga-spec `axis`). Fatriot needs destinations that are modules inside
 * the NIC, and the sub-queue's flag and service ID (Fatriot 3.3). They live in
 * the unused tuser bits above 31, modelled as fields of `Packet`:
 * - `dstPort` bits 8..10 are internal destinations (tuser [34:32]);
 * - `critical`, `serviceId`: the classifier's verdict (tuser [35], [51:36]);
 * - `flags`: origin marks (tuser [55:52]), so a packet Fatriot made is never
 *   classified again.
 * The bit positions are our design, not NetFPGA's (hw/netfpga-spec has no Fatriot RTL).
 */
export const DST_HEARTBEAT_MANAGER = 1 << 8;
export const DST_FAILSAFE_HANDLER = 1 << 9;
export const DST_NEIGHBOR_DISCOVERY = 1 << 10;

/** Output-queue index of each internal destination in FatriotNic (after nf0..nf3 and DMA). */
export const QUEUE_HEARTBEAT_MANAGER = 5;
export const QUEUE_FAILSAFE_HANDLER = 6;
export const QUEUE_NEIGHBOR_DISCOVERY = 7;

/** Packet.flags: generated inside the NIC by the heartbeat manager. */
export const FLAG_FROM_HEARTBEAT = 1;
/** Packet.flags: emitted by the fail-safe handler (relayed, reverse-translated, or ARP). */
export const FLAG_FROM_FAILSAFE = 2;
/** Packet.flags: a neighbor-discovery announcement made by this NIC. */
export const FLAG_FROM_NEIGHBOR = 4;
/** Any of the above: the classifier passes such packets on untouched. */
export const FLAG_FROM_FATRIOT = FLAG_FROM_HEARTBEAT | FLAG_FROM_FAILSAFE | FLAG_FROM_NEIGHBOR;

/** tuser source bit for a packet Fatriot sends out of MAC port `nf` (it enters as if from dmaX). */
export function srcForWireEgress(nf: number): number {
  return 1 << (2 * nf + 1);
}

/** tuser source bit for a packet Fatriot sends to the host behind dmaX (it enters as if from nfX). */
export function srcForHostEgress(dma: number): number {
  return 1 << (2 * dma);
}

/** Events a NIC reports to its control plane (SPEC 5: the multicast event group). */
export type NicEvent =
  | { kind: 'failsafe'; serviceId: number; active: boolean; cause: 'heartbeat' | 'host' | 'forced' | 'recovered' | 'cleared'; cycle: number }
  | { kind: 'heartbeat'; serviceId: number; rttCycles: number; rttAvgCycles: number; ratio: number; timedOut: boolean; cycle: number }
  | { kind: 'neighbor'; ip: number; serviceId: number; up: boolean; cycle: number };

export type NicEventSink = (event: NicEvent) => void;
