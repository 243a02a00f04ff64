/**
 * TAP system calls through koffi (libc), no compiler needed.
 *
 * open/ioctl/read/write are plain synchronous koffi calls (a few hundred ns each).
 * Readability is the hard part: a TUN/TAP fd is a character device, which libuv
 * treats as a file, so `net.Socket({ fd })` refuses it and `fs.read` would either
 * spin on EAGAIN or park a pool thread per port. So one shared `poll()` over every
 * idle TAP fd plus an eventfd (to change the set) runs as a koffi async call on the
 * libuv thread pool, i.e. one pool thread in all, not one per port. When a port
 * fills a whole burst it stays out of the poll set and drains again from
 * setImmediate until a read comes back short, so a loaded port costs no pool round
 * trip per burst (each round trip is tens of microseconds).
 */
import koffi from 'koffi';
import { EAGAIN, type TapBackend, type TapBurstHandler, type TapWatch } from './tap-backend.ts';

const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
// linux/if_tun.h: _IOW('T', 202, int)
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFNAMSIZ = 16;
// struct ifreq: char ifr_name[IFNAMSIZ] then a 24-byte union whose first member is ifr_flags.
const IFREQ_BYTES = 40;
const EFD_NONBLOCK = O_NONBLOCK;
const EFD_CLOEXEC = O_CLOEXEC;
const POLLIN = 0x001;
const POLLERR = 0x008;
const POLLHUP = 0x010;
const POLLNVAL = 0x020;
const EINTR = 4;
const POLLFD_BYTES = 8;

interface Libc {
  open(path: string, flags: number): number;
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  read(fd: number, buffer: Uint8Array, count: number): number;
  write(fd: number, buffer: Uint8Array, count: number): number;
  close(fd: number): number;
  eventfd(initval: number, flags: number): number;
  poll: ((fds: Uint8Array, count: number, timeoutMs: number) => number) & {
    async(fds: Uint8Array, count: number, timeoutMs: number, done: (err: unknown, result: number) => void): void;
  };
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc !== undefined) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    open: lib.func('int open(const char *path, int flags)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)'),
    read: lib.func('long read(int fd, void *buf, size_t count)'),
    write: lib.func('long write(int fd, const void *buf, size_t count)'),
    close: lib.func('int close(int fd)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    poll: lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
  } as Libc;
  return libc;
}

function errnoError(what: string): Error {
  const errno = koffi.errno();
  const error = new Error(`${what}: errno ${errno}`) as Error & { errno: number };
  error.errno = -errno;
  return error;
}

class KoffiWatch implements TapWatch {
  stopped = false;
  /** Out of the poll set, draining from setImmediate after a full burst. */
  busy = false;
  private readonly slotViews: Uint8Array[] = [];
  private readonly drainLater = (): void => this.drain();

  constructor(
    private readonly c: Libc,
    private readonly poller: KoffiPoller,
    readonly fd: number,
    slots: Uint8Array,
    slotBytes: number,
    private readonly lengths: Int32Array,
    private readonly maxBatch: number,
    private readonly onBurst: TapBurstHandler,
  ) {
    for (let i = 0; i < maxBatch; i++) {
      this.slotViews.push(slots.subarray(i * slotBytes, (i + 1) * slotBytes));
    }
  }

  /** Reads until EAGAIN or a full burst; a full burst keeps draining from setImmediate. */
  drain(): void {
    if (this.stopped) return;
    const c = this.c;
    let count = 0;
    let error = 0;
    while (count < this.maxBatch) {
      const view = this.slotViews[count]!;
      const n = c.read(this.fd, view, view.length);
      if (n < 0) {
        const errno = koffi.errno();
        if (errno !== EAGAIN && errno !== EINTR) error = -errno;
        break;
      }
      this.lengths[count++] = n;
    }
    if (error !== 0) this.stop();
    const full = count === this.maxBatch;
    if (full) {
      this.busy = true;
      setImmediate(this.drainLater);
    } else if (this.busy) {
      this.busy = false;
      this.poller.changed();
    }
    if (count > 0 || error !== 0) this.onBurst(count, error);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.poller.remove(this);
  }

  /** No-op: a koffi async call in flight always keeps the loop alive; close the port instead. */
  ref(_on: boolean): void {}
}

/** One async poll() over all idle watches plus an eventfd that interrupts it when the set changes. */
class KoffiPoller {
  private readonly watches = new Map<number, KoffiWatch>();
  private readonly wakeFd: number;
  private readonly wakeBytes = new Uint8Array(8);
  private readonly one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
  private inFlight = false;
  /** Inside polled(): arming now would overwrite the pollfds being read. */
  private dispatching = false;
  private armedCount = 0;
  private pollFds = new Uint8Array(POLLFD_BYTES * 8);
  private pollView = new DataView(this.pollFds.buffer);
  private readonly onPolled = (err: unknown, result: number): void => this.polled(err, result);

  constructor(private readonly c: Libc) {
    this.wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.wakeFd < 0) throw errnoError('eventfd');
  }

  add(watch: KoffiWatch): void {
    this.watches.set(watch.fd, watch);
    this.changed();
  }

  remove(watch: KoffiWatch): void {
    if (this.watches.get(watch.fd) === watch) this.watches.delete(watch.fd);
    this.changed();
  }

  /** The poll set changed: interrupt a poll in flight (it re-arms on return) or arm one. */
  changed(): void {
    if (this.inFlight) this.c.write(this.wakeFd, this.one, 8);
    else if (!this.dispatching) this.arm();
  }

  private arm(): void {
    if (this.inFlight) return;
    let idle = 0;
    for (const w of this.watches.values()) if (!w.busy) idle++;
    if (idle === 0) return;
    const bytes = (idle + 1) * POLLFD_BYTES;
    if (this.pollFds.length < bytes) {
      this.pollFds = new Uint8Array(bytes * 2);
      this.pollView = new DataView(this.pollFds.buffer);
    }
    const v = this.pollView;
    v.setInt32(0, this.wakeFd, true);
    v.setInt16(4, POLLIN, true);
    v.setInt16(6, 0, true);
    let at = POLLFD_BYTES;
    for (const w of this.watches.values()) {
      if (w.busy) continue;
      v.setInt32(at, w.fd, true);
      v.setInt16(at + 4, POLLIN, true);
      v.setInt16(at + 6, 0, true);
      at += POLLFD_BYTES;
    }
    this.inFlight = true;
    this.armedCount = idle + 1;
    this.c.poll.async(this.pollFds, idle + 1, -1, this.onPolled);
  }

  private polled(err: unknown, result: number): void {
    this.inFlight = false;
    if (err != null || result <= 0) {
      this.arm();
      return;
    }
    this.dispatching = true;
    try {
      const v = this.pollView;
      if ((v.getInt16(6, true) & POLLIN) !== 0) this.c.read(this.wakeFd, this.wakeBytes, 8);
      for (let i = 1; i < this.armedCount; i++) {
        const at = i * POLLFD_BYTES;
        const revents = v.getInt16(at + 6, true);
        if (revents === 0) continue;
        const watch = this.watches.get(v.getInt32(at, true));
        if (watch === undefined || watch.busy) continue;
        if ((revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) !== 0) watch.drain();
      }
    } finally {
      this.dispatching = false;
      this.arm();
    }
  }
}

let poller: KoffiPoller | undefined;
let backend: TapBackend | undefined;

export function koffiTapBackend(): TapBackend {
  if (backend !== undefined) return backend;
  const c = loadLibc();
  const slotViews = new WeakMap<Uint8Array, Uint8Array[]>();
  backend = {
    kind: 'koffi',
    open(name: string): number {
      const nameBytes = Buffer.from(name, 'utf8');
      if (nameBytes.length === 0 || nameBytes.length >= IFNAMSIZ) {
        throw new TypeError(`TAP name must be 1..15 bytes, got "${name}"`);
      }
      const fd = c.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) throw errnoError('open /dev/net/tun');
      const ifr = new Uint8Array(IFREQ_BYTES);
      ifr.set(nameBytes);
      new DataView(ifr.buffer).setUint16(IFNAMSIZ, IFF_TAP | IFF_NO_PI, true);
      if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
        const error = errnoError(`TUNSETIFF ${name}`);
        c.close(fd);
        throw error;
      }
      return fd;
    },
    write(fd: number, frame: Uint8Array): number {
      const n = c.write(fd, frame, frame.length);
      return n < 0 ? -koffi.errno() : n;
    },
    writeBatch(fd, slots, slotBytes, lengths, count, results): void {
      // One view per slot, made once per slot buffer: write() takes the pointer and the length apart.
      let views = slotViews.get(slots);
      if (views === undefined || views.length < count) {
        views = [];
        for (let off = 0; off + slotBytes <= slots.length; off += slotBytes) views.push(slots.subarray(off, off + slotBytes));
        slotViews.set(slots, views);
      }
      for (let i = 0; i < count; i++) {
        const n = c.write(fd, views[i]!, Math.min(Math.max(lengths[i]!, 0), slotBytes));
        results[i] = n < 0 ? -koffi.errno() : n;
      }
    },
    read(fd: number, buffer: Uint8Array): number {
      const n = c.read(fd, buffer, buffer.length);
      return n < 0 ? -koffi.errno() : n;
    },
    close(fd: number): void {
      c.close(fd);
    },
    watch(fd, slots, slotBytes, lengths, maxBatch, onBurst): TapWatch {
      if (slotBytes <= 0 || maxBatch <= 0 || slots.length < slotBytes * maxBatch || lengths.length < maxBatch) {
        throw new RangeError('watch: slots/lengths too small for maxBatch');
      }
      poller ??= new KoffiPoller(c);
      const watch = new KoffiWatch(c, poller, fd, slots, slotBytes, lengths, maxBatch, onBurst);
      poller.add(watch);
      return watch;
    },
  };
  return backend;
}
