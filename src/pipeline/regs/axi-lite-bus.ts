/**
 * The AXI-Lite register bus of the NIC: the only way the host (the control
 * server, as the driver would through PCIe) reaches tables and counters.
 *
 * An access issued while the simulator stands at cycle T (`sim.now`, the next
 * cycle to run) is applied in the bus's commit of cycle T + L - 1, L being
 * `regWriteLatencyCycles` from the register map, so modules evaluating cycle
 * T + L are the first to see a write (SPEC 3 item 6: a fixed number of cycles).
 * Accesses are applied in issue order, at most one a cycle, as on a single
 * AXI-Lite master; a read returns the register as it stands at its apply cycle.
 * The promise settles when the access is applied, i.e. when the simulator has
 * run that cycle.
 */
import { ClockedModule, IDLE } from '../sim/module.ts';
import { fatriotRegisterMap } from './register-map.ts';

/** A block of 32-bit registers at byte offsets from its base. */
export interface RegisterBlock {
  /** Throws AxiLiteError for an offset with no register. */
  read(offset: number): number;
  /**
   * `visibleCycle` is the first cycle in which modules see the effect
   * (listeners wake there). Throws AxiLiteError for a bad offset or a read-only register.
   */
  write(offset: number, value: number, visibleCycle: number): void;
}

/**
 * AXI-Lite error responses (AMBA AXI spec, RRESP/BRESP): DECERR when no slave
 * decodes the address, SLVERR when the slave refuses the access.
 */
export type AxiLiteResponse = 'SLVERR' | 'DECERR';

export class AxiLiteError extends Error {
  override readonly name = 'AxiLiteError';
  constructor(
    readonly response: AxiLiteResponse,
    /** Absolute address once it has left the bus; an offset inside a block before. */
    readonly address: number,
    message: string,
  ) {
    super(message);
  }
}

interface Mapping {
  readonly base: number;
  readonly size: number;
  readonly block: RegisterBlock;
  readonly name: string;
}

interface PendingAccess {
  readonly isWrite: boolean;
  readonly address: number;
  readonly value: number;
  readonly applyCycle: number;
  readonly resolve: (value: number) => void;
  readonly reject: (error: AxiLiteError) => void;
}

/** Observes every applied access (tests, traces). */
export type BusAccessObserver = (isWrite: boolean, address: number, value: number, cycle: number, error: AxiLiteError | null) => void;

export class AxiLiteBus extends ClockedModule {
  readonly latencyCycles: number;
  /** Accesses applied so far. */
  appliedCount = 0;
  observer: BusAccessObserver | null = null;
  private readonly mappings: Mapping[] = [];
  private readonly queue: PendingAccess[] = [];
  private head = 0;
  private lastApplyCycle = -1;

  constructor(name = 'axi_lite_bus', latencyCycles = fatriotRegisterMap.regWriteLatencyCycles) {
    super(name);
    if (!Number.isInteger(latencyCycles) || latencyCycles < 1) throw new RangeError('register latency must be at least 1 cycle');
    this.latencyCycles = latencyCycles;
  }

  /** Maps `block` at [base, base + size). Overlapping an existing mapping is an error. */
  attach(base: number, size: number, block: RegisterBlock, name = `block@0x${base.toString(16)}`): void {
    if (base % 4 !== 0 || size % 4 !== 0 || size <= 0) throw new RangeError(`${name}: base and size must be word aligned`);
    for (const m of this.mappings) {
      if (base < m.base + m.size && m.base < base + size) throw new RangeError(`${name} overlaps ${m.name}`);
    }
    this.mappings.push({ base, size, block, name });
    this.mappings.sort((a, b) => a.base - b.base);
  }

  /** Name of the mapping that decodes `address`, or null. */
  decode(address: number): string | null {
    return this.find(address)?.name ?? null;
  }

  /** Accesses issued and not yet applied. */
  get pendingCount(): number {
    return this.queue.length - this.head;
  }

  write(address: number, value: number): Promise<void> {
    checkWord(value);
    return this.enqueue(true, address, value).then(() => undefined);
  }

  read(address: number): Promise<number> {
    return this.enqueue(false, address, 0);
  }

  /** Immediate read, outside simulated time (tests, debugging). Throws AxiLiteError. */
  peek(address: number): number {
    return this.apply(false, address, 0, this.sim?.now ?? 0);
  }

  /** Immediate write, outside simulated time; visible from the present cycle. Throws AxiLiteError. */
  poke(address: number, value: number): void {
    checkWord(value);
    const now = this.sim?.now ?? 0;
    this.apply(true, address, value, now - 1);
  }

  evaluate(): void {}

  commit(cycle: number): number {
    const q = this.queue;
    // Counters that modules running trains count ahead must stand as of this cycle.
    if (this.head < q.length && q[this.head]!.applyCycle <= cycle) this.sim?.settleTrains(cycle);
    while (this.head < q.length && q[this.head]!.applyCycle <= cycle) {
      const a = q[this.head++]!;
      try {
        const v = this.apply(a.isWrite, a.address, a.value, cycle);
        a.resolve(v);
      } catch (e) {
        a.reject(e as AxiLiteError);
      }
    }
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
      return IDLE;
    }
    return q[this.head]!.applyCycle;
  }

  private enqueue(isWrite: boolean, address: number, value: number): Promise<number> {
    const sim = this.sim;
    if (sim === null) return Promise.reject(new Error(`${this.name} is not in a simulator`));
    const earliest = sim.now + this.latencyCycles - 1;
    const applyCycle = earliest > this.lastApplyCycle ? earliest : this.lastApplyCycle + 1;
    this.lastApplyCycle = applyCycle;
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ isWrite, address, value, applyCycle, resolve, reject });
      this.wakeAt(applyCycle);
    });
  }

  /** Performs one access in `cycle`'s commit; effects are visible from cycle + 1. */
  private apply(isWrite: boolean, address: number, value: number, cycle: number): number {
    this.appliedCount++;
    let error: AxiLiteError;
    if (!Number.isInteger(address) || address < 0 || address > 0xffffffff) {
      error = new AxiLiteError('DECERR', address, `address ${address} is not a 32-bit address`);
    } else if (address % 4 !== 0) {
      error = new AxiLiteError('SLVERR', address, `address 0x${address.toString(16)} is not word aligned`);
    } else {
      const m = this.find(address);
      if (m === null) {
        error = new AxiLiteError('DECERR', address, `no register block at 0x${address.toString(16)}`);
      } else {
        try {
          let result = 0;
          if (isWrite) m.block.write(address - m.base, value >>> 0, cycle + 1);
          else result = m.block.read(address - m.base) >>> 0;
          this.observer?.(isWrite, address, isWrite ? value : result, cycle, null);
          return result;
        } catch (e) {
          const inner = e instanceof AxiLiteError ? e : null;
          const what = inner?.message ?? (e instanceof Error ? e.message : String(e));
          error = new AxiLiteError(inner?.response ?? 'SLVERR', address, `${m.name}: ${what}`);
        }
      }
    }
    this.observer?.(isWrite, address, value, cycle, error);
    throw error;
  }

  private find(address: number): Mapping | null {
    for (const m of this.mappings) if (address >= m.base && address < m.base + m.size) return m;
    return null;
  }
}

function checkWord(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`register value ${value} is not a 32-bit unsigned integer`);
}
