/**
 * Every table memory and counter of the Fatriot NIC, and their placement on the
 * AXI-Lite bus as the register map says. The NIC top builds one of these, hands
 * each module the memories it owns (`regs.targetTable` to the classifier, ...)
 * and attaches it to its AxiLiteBus; the control server sees only the bus.
 */
import type { AxiLiteBus } from './axi-lite-bus.ts';
import { fatriotRegisterMap, TABLE_NAMES, type TableName } from './register-map.ts';
import {
  CounterBank,
  CounterRegisters,
  DirectRegisters,
  IndirectTableRegisters,
  StandardRegisters,
  TableMemory,
} from './table-memory.ts';

export class FatriotRegisters {
  readonly tables: Readonly<Record<TableName, TableMemory>>;
  readonly counters: CounterBank;
  private readonly resetListeners = new Map<string, ((visibleCycle: number) => void)[]>();

  constructor() {
    const tables = {} as Record<TableName, TableMemory>;
    for (const name of TABLE_NAMES) tables[name] = new TableMemory(fatriotRegisterMap.tables[name]);
    this.tables = tables;
    this.counters = new CounterBank();
  }

  get targetTable(): TableMemory {
    return this.tables.targetTable;
  }
  get heartbeatTable(): TableMemory {
    return this.tables.heartbeatTable;
  }
  get heartbeatPayload(): TableMemory {
    return this.tables.heartbeatPayload;
  }
  get serviceTable(): TableMemory {
    return this.tables.serviceTable;
  }
  get defaultBackup(): TableMemory {
    return this.tables.defaultBackup;
  }
  get failsafeMode(): TableMemory {
    return this.tables.failsafeMode;
  }
  get nicConfig(): TableMemory {
    return this.tables.nicConfig;
  }
  get neighborTable(): TableMemory {
    return this.tables.neighborTable;
  }

  /**
   * Runs `listener` when the host writes RESET of `block` (a module resets its
   * own state there; the block's tables are already cleared).
   */
  onBlockReset(block: string, listener: (visibleCycle: number) => void): void {
    const list = this.resetListeners.get(block) ?? [];
    list.push(listener);
    this.resetListeners.set(block, list);
  }

  /**
   * Maps the Fatriot blocks (those holding tables, and the counter block) on
   * `bus`: standard registers, indirect windows, register sets, counters. The
   * reference cores' blocks stay free for their own modules.
   */
  attach(bus: AxiLiteBus): void {
    const map = fatriotRegisterMap;
    const counterBlock = map.counters.block;
    for (const block of map.blocks) {
      const owned = Object.values(map.tables).filter((t) => t.block === block.name);
      if (owned.length === 0 && block.name !== counterBlock) continue;
      const onReset = (visibleCycle: number): void => {
        for (const t of owned) this.tables[t.name].clearAll(visibleCycle);
        if (block.name === counterBlock) this.counters.clear();
        for (const l of this.resetListeners.get(block.name) ?? []) l(visibleCycle);
      };
      bus.attach(block.base, StandardRegisters.sizeBytes, new StandardRegisters(block.id, block.version, onReset), block.name);
      for (const t of owned) {
        const memory = this.tables[t.name];
        if (t.access === 'indirect') {
          bus.attach(t.address, map.window.sizeBytes, new IndirectTableRegisters(memory), `${block.name}.${t.name}`);
        } else {
          bus.attach(t.address, t.wordsPerEntry * 4, new DirectRegisters(memory), `${block.name}.${t.name}`);
        }
      }
      if (block.name === counterBlock) {
        const c = map.counters;
        const end = c.firstCounterOffset + 8 * c.count;
        bus.attach(block.base + c.clearOffset, end - c.clearOffset, new CounterRegisters(this.counters, c.clearOffset), `${block.name}.counters`);
      }
    }
  }
}
