/** The wire formats in one import: `import { HeaderParser, Ipv4View, ... } from '../wire/index.ts'`. */
export * from './error.ts';
export * from './address.ts';
export * from './checksum.ts';
export * from './ethernet.ts';
export * from './arp.ts';
export * from './ipv4.ts';
export * from './icmp.ts';
export * from './udp.ts';
export * from './tcp.ts';
export * from './parse.ts';
export * from './build.ts';
export * from './view.ts';
