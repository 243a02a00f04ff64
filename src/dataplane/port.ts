/**
 * A port carries whole Ethernet frames (no preamble, no FCS) between the model and
 * the outside world: a TAP device, an in-memory link, or a capture wrapper around
 * either. SPEC section 4: `receive(frame, cycle)` / `transmit`.
 *
 * Direction is seen from the NIC: frames the port receives from its link are handed
 * to the attached receiver; frames the NIC sends leave through `transmit`.
 * Cycles are model cycles of the core clock (hw/netfpga-spec), so a pcap of any
 * port can carry exact timestamps.
 */
export type FrameReceiver = (frame: Uint8Array, cycle: number) => void;

export interface Port {
  /** Interface name as the host sees it, e.g. "nf0", "dma1", "fmain-nf0". */
  readonly name: string;
  /** Attaches the consumer of frames arriving from the link (at most one; a new one replaces the old). */
  attach(receiver: FrameReceiver): void;
  /**
   * Called by the link side: a frame arrived from the wire at model cycle `cycle`.
   * The port passes it to its receiver. The frame is only valid during the call.
   */
  receive(frame: Uint8Array, cycle: number): void;
  /** Sends a frame out onto the link at model cycle `cycle`. The frame is only valid during the call. */
  transmit(frame: Uint8Array, cycle: number): void;
  /** Releases the port's resources (file descriptors, timers). Idempotent. */
  close(): void;
  /**
   * Optional promise to the model: no frame arrives from the link before this cycle
   * (Infinity: none ever, e.g. the far end is a sink that never sends). A NIC model
   * running trains then decides further ahead; a port that breaks its promise makes the
   * model throw. Absent: a frame may arrive at any cycle from the present on.
   */
  quietUntil?(): number;
  /**
   * Optional promise to the model: `transmit` may be called before the model reaches the
   * frame's cycle (the cycle argument says when it leaves), because nothing at the far end
   * answers within the call or looks at the model's clock (a sink that counts or records).
   * A NIC model running trains then hands frames over as soon as their cycle is known.
   */
  readonly takesFramesAhead?: boolean;
}

/** What `port` promises with `quietUntil`: -Infinity (nothing) for a port without the promise, or no port. */
export function quietUntilOf(port: Port | null | undefined): number {
  return port?.quietUntil?.() ?? Number.NEGATIVE_INFINITY;
}
