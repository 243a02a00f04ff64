/**
 * A UDP echo service on a SimHost (Fatriot section 5: "All VMs perform a loop-back
 * function to respond (i.e., echo-ing) with the received payload"). It binds a port on
 * the host's own address, or runs in a VM with its own address and MAC behind the
 * host's virtual switch.
 *
 * Requests are served in arrival order by `workers` workers (default 1), each taking
 * `delayCycles` per request, so a processing delay behaves like a loaded VM: requests
 * that find every worker busy wait in the socket (up to `socketBufferPackets`, then
 * dropped). Faults (Fatriot 5.2 and SPEC 4):
 * - `setDelay(cycles)`: processing delay failure (Fig. 10) for requests started from now on;
 * - `hang()`: the process stops (SIGSTOP): nothing is answered, requests pile up in the
 *   socket; `recover()` resumes it (SIGCONT) and it answers what it held, then the rest;
 * - `crash()`: the service is gone; for a VM the whole guest is down (no ARP, no ICMP),
 *   everything it held is lost; `recover()` starts it afresh.
 */
import type { Packet } from '../../pipeline/sim/packet.ts';
import { TimedRing } from '../../pipeline/sim/ring.ts';
import type { Ipv4Like, MacLike } from '../../pipeline/wire/build.ts';
import { toIpv4 } from '../../pipeline/wire/build.ts';
import { HeaderParser } from '../../pipeline/wire/parse.ts';
import { makeUdpEchoReply, type NetStack, type UdpHandler } from './net-stack.ts';
import type { HostedService, SimHost } from './sim-host.ts';
import { cyclesFromUs, simDefaults } from './timing.ts';

export interface UdpEchoServiceOptions {
  /** UDP port to bind. */
  port: number;
  /** The service's own address (a VM); default the host's address. */
  ip?: Ipv4Like;
  /** The VM's MAC; required with an address of its own that no guest on the host has yet. */
  mac?: MacLike;
  name?: string;
  /** Processing time per request, cycles >= 0; default simDefaults.echoServiceDelayUs. */
  delayCycles?: number;
  /** Requests served at once; default 1. */
  workers?: number;
  /** Requests the socket holds while every worker is busy; default simDefaults.socketBufferPackets. */
  socketBufferPackets?: number;
  /** For a new VM: one-way vswitch path, cycles; default simDefaults.vmPathDelayUs. */
  pathDelayCycles?: number;
  /** For a new VM: guest kernel delay, cycles >= 1; default simDefaults.guestKernelDelayUs. */
  guestKernelDelayCycles?: number;
}

export type ServiceState = 'running' | 'hung' | 'crashed';

export interface UdpEchoServiceStats {
  requests: number;
  replies: number;
  /** Requests dropped because the socket was full. */
  dropSocketFull: number;
  /** Requests that reached a crashed service, or were lost in a crash. */
  dropDown: number;
}

export class UdpEchoService implements UdpHandler, HostedService {
  readonly name: string;
  readonly host: SimHost;
  readonly stack: NetStack;
  readonly port: number;
  /** Whether the service runs in a VM with its own address. */
  readonly ownAddress: boolean;
  readonly workers: number;
  readonly socketBufferPackets: number;
  readonly stats: UdpEchoServiceStats = { requests: 0, replies: 0, dropSocketFull: 0, dropDown: 0 };
  private delay: number;
  private readonly index: number;
  private readonly parser = new HeaderParser();
  private readonly workerPacket: (Packet | null)[];
  /** Workers whose request finished while the process was stopped; answered on resume. */
  private readonly workerHeld: Uint8Array;
  private readonly waiting = new TimedRing<Packet>();
  private hung = false;
  private crashed = false;
  private epoch = 0;

  constructor(host: SimHost, options: UdpEchoServiceOptions) {
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${workers}`);
    this.host = host;
    this.port = options.port;
    this.workers = workers;
    this.socketBufferPackets = options.socketBufferPackets ?? simDefaults.socketBufferPackets;
    this.delay = checkDelay(options.delayCycles ?? cyclesFromUs(simDefaults.echoServiceDelayUs, host.coreHz));
    this.name = options.name ?? `${host.name}.udp${options.port}`;
    const ip = options.ip === undefined ? host.os.ip : toIpv4(options.ip);
    this.ownAddress = ip !== host.os.ip;
    let stack = host.stackOf(ip);
    if (stack === undefined) {
      if (options.mac === undefined) throw new Error(`${this.name}: a service with its own address needs a MAC`);
      stack = host.addGuest({
        ip,
        mac: options.mac,
        name: `${this.name}.vm`,
        pathDelayCycles: options.pathDelayCycles,
        kernelDelayCycles: options.guestKernelDelayCycles,
      });
    }
    this.stack = stack;
    stack.bindUdp(options.port, this);
    this.workerPacket = new Array<Packet | null>(workers).fill(null);
    this.workerHeld = new Uint8Array(workers);
    this.index = host.registerService(this);
  }

  get delayCycles(): number {
    return this.delay;
  }

  get state(): ServiceState {
    return this.crashed ? 'crashed' : this.hung ? 'hung' : 'running';
  }

  /** Requests waiting in the socket. */
  get queuedRequests(): number {
    return this.waiting.length;
  }

  /** Processing delay for every request that starts from now on (Fatriot Fig. 10 fault). */
  setDelay(cycles: number): void {
    this.delay = checkDelay(cycles);
  }

  hang(): void {
    if (!this.crashed) this.hung = true;
  }

  crash(): void {
    if (this.crashed) return;
    this.crashed = true;
    this.hung = false;
    this.dropHeld();
    if (this.ownAddress) {
      this.stack.up = false;
      this.stack.flush();
      this.stack.epoch++;
    }
  }

  /** Ends a hang or a crash. A hung service answers what it held from the next cycle. */
  recover(): void {
    if (this.crashed) {
      this.crashed = false;
      if (this.ownAddress) this.stack.up = true;
      return;
    }
    if (!this.hung) return;
    this.hung = false;
    this.host.scheduleServiceResume(this.host.now + 1, this.index, this.epoch);
  }

  deliverUdp(_stack: NetStack, packet: Packet, time: number): void {
    if (this.crashed) {
      this.stats.dropDown++;
      this.host.pool.release(packet);
      return;
    }
    this.stats.requests++;
    if (!this.hung && this.waiting.length === 0) {
      const w = this.freeWorker();
      if (w >= 0) {
        this.start(w, packet, time);
        return;
      }
    }
    if (this.waiting.length >= this.socketBufferPackets) {
      this.stats.dropSocketFull++;
      this.host.pool.release(packet);
      return;
    }
    this.waiting.push(packet, time);
  }

  onDone(worker: number, epoch: number, t: number): void {
    if (epoch !== this.epoch) return;
    if (this.hung) {
      this.workerHeld[worker] = 1;
      return;
    }
    this.finish(worker, t);
  }

  onResume(epoch: number, t: number): void {
    if (epoch !== this.epoch || this.hung || this.crashed) return;
    for (let w = 0; w < this.workers; w++) if (this.workerHeld[w] === 1) this.finish(w, t);
    for (let w = 0; w < this.workers && this.waiting.length > 0; w++) {
      if (this.workerPacket[w] === null) this.start(w, this.waiting.shift(), t);
    }
  }

  onHostCrash(): void {
    // A reboot: the process starts again with nothing held.
    this.hung = false;
    this.dropHeld();
  }

  private start(worker: number, packet: Packet, t: number): void {
    this.workerPacket[worker] = packet;
    this.host.scheduleServiceDone(t + this.delay, this.index, worker, this.epoch);
  }

  private finish(worker: number, t: number): void {
    const p = this.workerPacket[worker]!;
    this.workerPacket[worker] = null;
    this.workerHeld[worker] = 0;
    this.parser.parse(p.data, p.length);
    makeUdpEchoReply(p, this.parser, this.stack);
    this.stats.replies++;
    this.stack.sendIpv4(p, t);
    if (this.waiting.length > 0) this.start(worker, this.waiting.shift(), t);
  }

  private freeWorker(): number {
    for (let w = 0; w < this.workers; w++) if (this.workerPacket[w] === null) return w;
    return -1;
  }

  private dropHeld(): void {
    this.epoch++;
    const pool = this.host.pool;
    for (let w = 0; w < this.workers; w++) {
      const p = this.workerPacket[w];
      if (p !== null && p !== undefined) {
        pool.release(p);
        this.stats.dropDown++;
      }
      this.workerPacket[w] = null;
      this.workerHeld[w] = 0;
    }
    while (this.waiting.length > 0) {
      pool.release(this.waiting.shift());
      this.stats.dropDown++;
    }
  }
}

function checkDelay(cycles: number): number {
  if (!Number.isInteger(cycles) || cycles < 0) throw new RangeError(`delay must be a whole number of cycles >= 0, got ${cycles}`);
  return cycles;
}
