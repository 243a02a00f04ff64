/** Simulated MEC hosts, services, switch and traffic generator: `import { ... } from 'src/host/sim/index.ts'`. */
export * from './timing.ts';
export * from './event-queue.ts';
export * from './net-stack.ts';
export * from './stack-node.ts';
export * from './sim-host.ts';
export * from './udp-echo-service.ts';
export * from './l2-switch.ts';
export * from './traffic-generator.ts';
export * from './fig8-testbed.ts';
export * from './scheduled-sender.ts';
