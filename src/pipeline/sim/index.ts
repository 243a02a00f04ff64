export { AxisChannel } from './channel.ts';
export { BeatFifo } from './fifo.ts';
export { ClockedModule, IDLE, type TraceSignal } from './module.ts';
export { Packet, PacketPool } from './packet.ts';
export { Simulator, type CycleObserver, type SimulatorOptions } from './simulator.ts';
export { VcdWriter } from './vcd.ts';
