export * from './register-map.ts';
export * from './axi-lite-bus.ts';
export * from './table-memory.ts';
export { FatriotRegisters } from './fatriot-registers.ts';
