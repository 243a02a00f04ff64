import { defaultOutputQueuesVariant } from '../../../hw/netfpga-spec/index.ts';
import { Classifier } from '../modules/classifier.ts';
import { DualQueue } from '../modules/dual-queue.ts';
import { FailsafeHandler } from '../modules/failsafe-handler.ts';
import type { NicEvent, NicEventSink } from '../modules/fatriot-tuser.ts';
import { HeartbeatManager } from '../modules/heartbeat-manager.ts';
import { InputArbiter } from '../modules/input-arbiter.ts';
import { NeighborDiscovery } from '../modules/neighbor-discovery.ts';
import { NicOutputPortLookup } from '../modules/nic-output-port-lookup.ts';
import { OutputQueues } from '../modules/output-queues.ts';
import { AxiLiteBus } from '../regs/axi-lite-bus.ts';
import { FatriotRegisters } from '../regs/fatriot-registers.ts';
import { counterIndex } from '../regs/register-map.ts';
import { RegisteredVector } from '../sim/registered-vector.ts';
import { NicShell, type NicOptions } from './nic-shell.ts';
import { referenceArbiterParams, referenceLookupParams, referenceOutputQueuesParams } from './reference-nic.ts';
import { fatriotModuleParams } from './fatriot-params.ts';

/**
 * The Fatriot NIC (papers/fatriot.txt section 3): the reference NIC's cores, plus
 * the classifier after nic_output_port_lookup, the dual queue on the host-bound
 * output, and the heartbeat manager, fail-safe handler and neighbor discovery on
 * their own output queues, feeding back through fatriot_tx_mux into the input
 * arbiter (src/pipeline/README.md draws it). Tables and counters sit on an
 * AXI-Lite bus. This file only instantiates and wires.
 */
export class FatriotNic extends NicShell {
  readonly regs: FatriotRegisters;
  readonly bus: AxiLiteBus;
  readonly failsafeActive: RegisteredVector;
  readonly txMux: InputArbiter;
  readonly inputArbiter: InputArbiter;
  readonly outputPortLookup: NicOutputPortLookup;
  readonly classifier: Classifier;
  readonly outputQueues: OutputQueues;
  readonly dualQueue: DualQueue;
  readonly heartbeatManager: HeartbeatManager;
  readonly failsafeHandler: FailsafeHandler;
  readonly neighborDiscovery: NeighborDiscovery;
  private readonly listeners: NicEventSink[] = [];

  constructor(options: NicOptions = {}) {
    const regs = new FatriotRegisters();
    super({ ...options, counters: regs.counters.values });
    const p = this.prefix;
    const params = fatriotModuleParams();
    this.regs = regs;
    this.bus = new AxiLiteBus(`${p}axi_lite_bus`);
    this.regs.attach(this.bus);
    const tables = this.regs;
    const counters = this.regs.counters;
    this.failsafeActive = new RegisteredVector(`${p}failsafe_active`, tables.failsafeMode.depth);
    const events: NicEventSink = (e: NicEvent) => {
      for (const l of this.listeners) l(e);
    };

    const hbTx = this.channel('heartbeat_manager_to_tx_mux');
    const fsTx = this.channel('failsafe_handler_to_tx_mux');
    const ndTx = this.channel('neighbor_discovery_to_tx_mux');
    const muxOut = this.channel('tx_mux_to_input_arbiter');
    const arbOut = this.channel('input_arbiter_to_output_port_lookup');
    const lookupOut = this.channel('output_port_lookup_to_classifier');
    const classOut = this.channel('classifier_to_output_queues');
    const toDual = this.channel('output_queues_to_dual_queue');
    const hbRx = this.channel('output_queues_to_heartbeat_manager');
    const fsRx = this.channel('output_queues_to_failsafe_handler');
    const ndRx = this.channel('output_queues_to_neighbor_discovery');
    const mirror = this.channel('dual_queue_mirror_to_failsafe_handler');

    this.txMux = new InputArbiter(`${p}fatriot_tx_mux`, [hbTx, fsTx, ndTx], muxOut, referenceArbiterParams());
    this.inputArbiter = new InputArbiter(`${p}input_arbiter`, [...this.toCore, muxOut], arbOut, referenceArbiterParams());
    this.outputPortLookup = new NicOutputPortLookup(`${p}output_port_lookup`, arbOut, lookupOut, referenceLookupParams());
    this.classifier = new Classifier(`${p}classifier`, lookupOut, classOut, tables, this.failsafeActive, counters, params.classifier);
    const oqOuts = [...this.fromCore.slice(0, 4), toDual, hbRx, fsRx, ndRx];
    this.outputQueues = new OutputQueues(`${p}output_queues`, classOut, oqOuts, this.pool, {
      ...referenceOutputQueuesParams(),
      variant: options.outputQueuesVariant ?? defaultOutputQueuesVariant,
      dropCounter: { counters: this.counters, index: counterIndex('drop.outputQueueFull') },
    });
    this.dualQueue = new DualQueue(`${p}dual_queue`, toDual, this.fromCore[4]!, mirror, this.pool, counters, params.dualQueue);
    this.heartbeatManager = new HeartbeatManager(
      `${p}heartbeat_manager`,
      hbRx,
      hbTx,
      this.pool,
      { heartbeatTable: tables.heartbeatTable, heartbeatPayload: tables.heartbeatPayload, failsafeMode: tables.failsafeMode, nicConfig: tables.nicConfig },
      counters,
      this.failsafeActive,
      this.coreHz,
      events,
    );
    this.failsafeHandler = new FailsafeHandler(
      `${p}failsafe_handler`,
      { direct: fsRx, mirror },
      fsTx,
      this.pool,
      { serviceTable: tables.serviceTable, defaultBackup: tables.defaultBackup, nicConfig: tables.nicConfig, neighborTable: tables.neighborTable },
      counters,
      this.failsafeActive,
      { coreHz: this.coreHz },
    );
    this.neighborDiscovery = new NeighborDiscovery(
      `${p}neighbor_discovery`,
      ndRx,
      ndTx,
      this.pool,
      { nicConfig: tables.nicConfig, neighborTable: tables.neighborTable, targetTable: tables.targetTable },
      counters,
      events,
      { coreHz: this.coreHz, failsafeActive: this.failsafeActive },
    );
    this.addModules([
      this.bus,
      this.txMux,
      this.inputArbiter,
      this.outputPortLookup,
      this.classifier,
      this.outputQueues,
      this.dualQueue,
      this.heartbeatManager,
      this.failsafeHandler,
      this.neighborDiscovery,
    ]);
  }

  /** Subscribes to fail-safe, heartbeat and neighbor events (the control server's event source). */
  subscribe(listener: NicEventSink): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
}
