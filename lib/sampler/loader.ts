/**
 * The sampler: loads the embedded BPF object, installs the counter events, attaches the
 * 1 ms tick and the sched_switch hook, and exposes a bounded, non-blocking drain of records.
 */

import podperfObject from "../../bpf/podperf.bpf.o" with { type: "bytes" };
import { BPF, type Libbpf, libbpf } from "../../ffi/libbpf.ts";
import { errno, LIBC, libc } from "../../ffi/libc.ts";
import { closeCounters, type CounterSource, openCounters } from "./counters.ts";
import { onlineCpus } from "./cpus.ts";
import {
  BpfLoadError,
  BtfMissingError,
  NotRootError,
  PerfEventOpenError,
  SamplerOptionError,
} from "./errors.ts";
import { closeFd, PERF, perfEventOpen, type PerfEventSpec, readTimeRunning } from "./perf_event.ts";
import {
  CONFIG_OFF,
  CONFIG_SIZE,
  type CounterName,
  NR_COUNTERS,
  PENDING,
  PENDING_OFF,
  PENDING_SIZE,
  RECORD_SIZE,
} from "./record.ts";
import { type RecordCallback, RingReader } from "./ring_reader.ts";
import { monoNowNs } from "./clock.ts";

/** Options of Sampler.open. */
export interface SamplerOptions {
  /** Tick period in ns (default 1 ms). */
  intervalNs?: bigint | number;
  /** Ring buffer bytes: a power of two, at least one page (default 16 MiB). */
  ringBytes?: number;
  /** Process whose time is not recorded (default: this process, so draining does not feed itself). */
  excludeTgid?: number;
  /** Counters to open (default all five; see COUNTER_NAMES). */
  counters?: string[];
  /**
   * Skip the tick while a CPU is idle (default true): idle stretches end at sched_switch
   * anyway, so nothing is lost, and an idle CPU costs ~25 instead of ~1,000 runs/s.
   */
  excludeIdle?: boolean;
  /** Enable kernel run-time stats for bpfStats() while the sampler lives (small cost per run). */
  runStats?: boolean;
  /**
   * Benchmarks only: the tick and switch programs return at once and record nothing, so
   * bpfStats() reads what bpf_stats charges an empty program on those hooks (the floor a
   * per-event cost is read against).
   */
  emptyPrograms?: boolean;
  /**
   * Tests only: the switch program ignores every switch away from a thread of this process, as
   * this project's test VMs do for their agent's threads: the runs after them begin unseen.
   */
  hideTgid?: number;
  /** Replaces a slot's perf event or task count (tests: a software event in a hardware slot). */
  counterEvents?: Partial<Record<CounterName, PerfEventSpec>>;
  /**
   * waitForData() returns once this many bytes wait in the ring (default a quarter of it):
   * the kernel wakes the drain by fill level rather than on every record.
   */
  wakeBytes?: number;
}

/** Error counters summed over CPUs. */
export interface SamplerStats {
  /** Ring buffer reserve failures: the stretch carried into the task's next record. */
  lost: bigint;
  /** Counter reads that failed on a slot with events installed. */
  readErrors: bigint;
  /** CPU ns of the excluded process (the collector), not recorded. */
  selfNs: bigint;
  /**
   * Runs found on a CPU with no switch that began them: the tracepoint missed that switch.
   * Their records carry FLAG_UNSEEN, the scheduler's cpu_ns and no counters.
   */
  unseen: bigint;
  /** CPUs attached or released after start because they went offline or came online. */
  hotplugEvents: number;
  /** Records the CPUs still held back (to sum runs per slot) when detached: read from their state. */
  heldAtDetach: number;
  /** Failed attempts to have a CPU send the runs it held for an ended slot (flush_ended). */
  flushErrors: number;
}

/** Kernel run-time stats of one BPF program (needs `runStats`). */
export interface BpfProgramStats {
  program: string;
  runTimeNs: bigint;
  runCnt: bigint;
  recursionMisses: bigint;
}

const DEFAULT_INTERVAL_NS = 1_000_000n;
const DEFAULT_RING_BYTES = 16 << 20;
const EPOLL_EVENT_SIZE = 12; // struct epoll_event (packed on x86_64)
const STAT_LOST = 0;
const STAT_READ_ERRORS = 1;
const STAT_SELF_NS = 2;
const STAT_UNSEEN = 3;
/** How often drain() looks for CPUs that went offline or came (back) online. */
const HOTPLUG_CHECK_MS = 1000;
const ENXIO = 6;

/** What the sampler installed on one online CPU. */
interface CpuAttachment {
  /** the cpu-clock sampling event the tick program hangs on; its link owns (closes) it */
  tickFd: number;
  link: Deno.PointerObject;
  /** counter event per slot, or -1 */
  counterFds: number[];
  /** the tick event's time_running at the last check: it stops when the CPU goes offline */
  runningNs: bigint;
}

const enc = new TextEncoder();
function cstr(s: string): Uint8Array {
  return enc.encode(s + "\0");
}

function check(step: string, rc: number): void {
  if (rc < 0) throw new BpfLoadError(step, -rc);
}

function checkPtr<T extends Deno.PointerValue>(step: string, p: T): NonNullable<T> {
  if (p === null) throw new BpfLoadError(step, errno());
  return p as NonNullable<T>;
}

function validate(opts: SamplerOptions): { intervalNs: bigint; ringBytes: number } {
  const intervalNs = BigInt(opts.intervalNs ?? DEFAULT_INTERVAL_NS);
  if (intervalNs < 10_000n || intervalNs > 10_000_000_000n) {
    throw new SamplerOptionError("intervalNs", intervalNs, "must be between 10 µs and 10 s");
  }
  const ringBytes = opts.ringBytes ?? DEFAULT_RING_BYTES;
  if (
    !Number.isInteger(ringBytes) || ringBytes < 4096 || ringBytes > 1 << 30 ||
    (ringBytes & (ringBytes - 1)) !== 0
  ) {
    throw new SamplerOptionError("ringBytes", ringBytes, "must be a power of two, 4 KiB to 1 GiB");
  }
  return { intervalNs, ringBytes };
}

/** The running eBPF sampler; create with Sampler.open, release with close(). */
export class Sampler {
  /** Where each counter's values come from. */
  readonly counterSources: CounterSource[];
  /** The tick period in ns. */
  readonly intervalNs: bigint;
  /**
   * CLOCK_MONOTONIC ns just before the programs were attached: no record's charge begins
   * earlier (its run-queue wait may, having begun while nothing was sampled).
   */
  attachedAtNs = 0n;
  readonly #bpf: Libbpf;
  #obj: Deno.PointerObject | null = null;
  #switchLink: Deno.PointerObject | null = null;
  #tickProg: Deno.PointerObject | null = null;
  #tickSpec: PerfEventSpec | null = null;
  #counterSpecs: (PerfEventSpec | null)[] = [];
  #countersMapFd = -1;
  #attached = new Map<number, CpuAttachment>();
  #detached = false;
  #nextHotplugCheck = 0;
  #lastHotplugCheck = 0;
  #hotplugEvents = 0;
  #epollFd = -1;
  #wakeBytes = 0;
  readonly #epollEvents = new Uint8Array(EPOLL_EVENT_SIZE);
  #ring: RingReader | null = null;
  #statsFd = -1;
  #statsMapFd = -1;
  #cpuStatesFd = -1;
  #cpuStateBytes = 0;
  #pendingRead = false;
  #heldAtDetach = 0;
  /** flush_ended, run on each CPU that holds runs before a drain reads the ring */
  #flushFd = -1;
  #flushErrors = 0;
  /** every CPU's copy of cpu_states (8-aligned, `#stateStride` apart), read by #readStates */
  #states = new Uint8Array(0);
  #statesView = new DataView(this.#states.buffer);
  #stateStride = 0;
  readonly #testRunOpts = new DataView(new ArrayBuffer(BPF.TEST_RUN_OPTS_SIZE));
  readonly #testRunBytes = new Uint8Array(this.#testRunOpts.buffer);
  readonly #keyBytes = new Uint8Array(4);
  #progs: { name: string; fd: number }[] = [];
  readonly #possibleCpus: number;
  readonly #statBuf: BigUint64Array;
  readonly #key = new Uint32Array(1);

  private constructor(bpf: Libbpf, intervalNs: bigint) {
    this.#bpf = bpf;
    this.intervalNs = intervalNs;
    this.counterSources = [];
    this.#possibleCpus = bpf.libbpf_num_possible_cpus();
    this.#statBuf = new BigUint64Array(Math.max(this.#possibleCpus, 1));
  }

  /**
   * Loads and attaches the sampler. Throws NotRootError, BtfMissingError, LibbpfMissingError,
   * SamplerOptionError or BpfLoadError, each with a one-line message.
   * `PODPERF_BTF` names another kernel BTF file (used for CO-RE relocation).
   *
   * @example
   * const s = Sampler.open({ intervalNs: 1_000_000n });
   * const id = setInterval(() => s.drain((v, off) => use(v, off)), 50);
   * // … later: clearInterval(id); s.close();
   */
  static open(opts: SamplerOptions = {}): Sampler {
    const { intervalNs, ringBytes } = validate(opts);
    const uid = Deno.uid();
    if (uid !== 0) throw new NotRootError(uid ?? -1);
    const btfOverride = Deno.env.get("PODPERF_BTF");
    const btfPath = btfOverride ?? "/sys/kernel/btf/vmlinux";
    try {
      Deno.statSync(btfPath);
    } catch {
      throw new BtfMissingError(btfPath);
    }
    const s = new Sampler(libbpf(), intervalNs);
    try {
      s.#load(opts, ringBytes, btfOverride);
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  /** The CPUs sampled now (CPUs followed through hotplug), ascending. */
  get cpus(): number[] {
    return [...this.#attached.keys()].sort((a, b) => a - b);
  }

  #load(opts: SamplerOptions, ringBytes: number, btfPath: string | undefined): void {
    const b = this.#bpf;
    const cpus = onlineCpus();
    // Detection on every online CPU decides which slots exist; the fds are then kept per CPU.
    const detected = openCounters(cpus, { enabled: opts.counters, events: opts.counterEvents });
    this.counterSources.push(...detected.sources);
    this.#counterSpecs = detected.specs;
    const perCpu = new Map<number, number[]>(cpus.map((cpu, i) => [
      cpu,
      detected.fds.map((fds) => fds ? fds[i] : -1),
    ]));

    // struct bpf_object_open_opts: name the object, and point CO-RE at an overridden BTF.
    const openOpts = new Uint8Array(BPF.OPEN_OPTS_SIZE);
    const ov = new DataView(openOpts.buffer);
    const name = cstr("podperf");
    const btf = btfPath ? cstr(btfPath) : null;
    ov.setBigUint64(0, BigInt(BPF.OPEN_OPTS_SIZE), true);
    ov.setBigUint64(BPF.OPEN_OPTS_OBJECT_NAME, ptrOf(name), true);
    if (btf) ov.setBigUint64(BPF.OPEN_OPTS_BTF_CUSTOM_PATH, ptrOf(btf), true);
    let ringMap: Deno.PointerObject;
    try {
      this.#obj = checkPtr(
        "bpf_object__open_mem",
        b.bpf_object__open_mem(podperfObject, BigInt(podperfObject.byteLength), openOpts),
      );

      ringMap = this.#map("records");
      check("bpf_map__set_max_entries(records)", b.bpf_map__set_max_entries(ringMap, ringBytes));
      const countersMap = this.#map("counters");
      check(
        "bpf_map__set_max_entries(counters)",
        b.bpf_map__set_max_entries(countersMap, NR_COUNTERS * this.#possibleCpus),
      );
      this.#wakeBytes = Math.max(1, Math.min(opts.wakeBytes ?? ringBytes / 4, ringBytes / 2));
      this.#writeConfig(
        opts.excludeTgid ?? Deno.pid,
        detected.mask,
        detected.taskCounts,
        opts.emptyPrograms ?? false,
        opts.hideTgid ?? 0,
      );
      check("bpf_object__load", b.bpf_object__load(this.#obj));
      this.#countersMapFd = b.bpf_map__fd(countersMap);
    } catch (e) {
      closeCounters(detected);
      throw e;
    }

    this.#statsMapFd = b.bpf_map__fd(this.#map("stats"));
    const cpuStates = this.#map("cpu_states");
    this.#cpuStatesFd = b.bpf_map__fd(cpuStates);
    this.#cpuStateBytes = b.bpf_map__value_size(cpuStates);
    // the held runs are read from the front of each CPU's state (struct podperf_pending)
    if (this.#cpuStateBytes < PENDING_SIZE) {
      throw new BpfLoadError(
        "cpu_states value size",
        0,
        `${this.#cpuStateBytes} bytes, below struct podperf_pending's ${PENDING_SIZE}`,
      );
    }
    this.#ring = new RingReader(b.bpf_map__fd(ringMap), ringBytes);
    this.#epollFd = watchReadable(b.bpf_map__fd(ringMap));
    if (opts.runStats) {
      this.#statsFd = b.bpf_enable_stats(BPF.BPF_STATS_RUN_TIME);
      if (this.#statsFd < 0) throw new BpfLoadError("bpf_enable_stats", -this.#statsFd);
    }

    // The tick is a per-CPU cpu-clock perf event, not a bpf_timer: it runs in the interrupted
    // task's context (current = the task to charge), attaches on any kernel with perf_event
    // programs, and exclude_idle keeps an idle CPU quiet. A bpf_timer would need arming on each
    // CPU from a program running there, CPU pinning (6.7+), and still interrupt idle CPUs.
    this.#tickProg = this.#program("on_tick");
    this.#flushFd = this.#bpf.bpf_program__fd(this.#program("flush_ended"));
    this.#stateStride = (this.#cpuStateBytes + 7) & ~7;
    this.#states = new Uint8Array(this.#stateStride * this.#possibleCpus);
    this.#statesView = new DataView(this.#states.buffer);
    this.#testRunOpts.setBigUint64(0, BigInt(BPF.TEST_RUN_OPTS_SIZE), true);
    this.#testRunOpts.setUint32(BPF.TEST_RUN_OPTS_FLAGS, BPF.BPF_F_TEST_RUN_ON_CPU, true);
    this.#tickSpec = {
      type: PERF.TYPE_SOFTWARE,
      config: PERF.COUNT_SW_CPU_CLOCK,
      samplePeriod: this.intervalNs,
      excludeIdle: opts.excludeIdle ?? true,
      readTimes: true,
    };
    this.attachedAtNs = monoNowNs();
    for (const cpu of cpus) this.#attachCpu(cpu, perCpu.get(cpu)!);
    // Last: every CPU's counters are installed before the first switch reads them.
    const onSwitch = this.#program("on_switch");
    this.#switchLink = checkPtr("attach tp_btf/sched_switch", b.bpf_program__attach(onSwitch));
    this.#lastHotplugCheck = performance.now();
    this.#nextHotplugCheck = this.#lastHotplugCheck + HOTPLUG_CHECK_MS;
  }

  /**
   * Installs the counters and the tick on `cpu`. `counterFds` are already opened events (owned
   * from here on); null opens the available slots now (a CPU that came online).
   */
  #attachCpu(cpu: number, counterFds: number[] | null): void {
    const fds = counterFds ?? this.#counterSpecs.map((spec) => {
      if (!spec) return -1;
      try {
        return perfEventOpen(spec, cpu);
      } catch (e) {
        if (!(e instanceof PerfEventOpenError)) throw e;
        return -1; // its reads fail and are counted in readErrors
      }
    });
    const att: CpuAttachment = { tickFd: -1, link: null!, counterFds: fds, runningNs: -1n };
    try {
      fds.forEach((fd, slot) => {
        if (fd >= 0) this.#installCounter(slot * this.#possibleCpus + cpu, fd);
      });
      att.tickFd = perfEventOpen(this.#tickSpec!, cpu);
      att.link = checkPtr(
        `attach perf_event on cpu ${cpu}`,
        this.#bpf.bpf_program__attach_perf_event(this.#tickProg, att.tickFd),
      );
    } catch (e) {
      if (att.tickFd >= 0) closeFd(att.tickFd);
      fds.forEach((fd) => fd >= 0 && closeFd(fd));
      throw e;
    }
    att.runningNs = readTimeRunning(att.tickFd);
    this.#attached.set(cpu, att);
  }

  #detachCpu(cpu: number): void {
    const att = this.#attached.get(cpu);
    if (!att) return;
    this.#attached.delete(cpu);
    // bpf_link__destroy closes the perf event fd the link was made from: not closed again.
    this.#bpf.bpf_link__destroy(att.link);
    for (const fd of att.counterFds) if (fd >= 0) closeFd(fd);
  }

  #installCounter(index: number, fd: number): void {
    const key = new Uint32Array([index]);
    const val = new Uint32Array([fd]);
    check(
      `install counters[${index}]`,
      this.#bpf.bpf_map_update_elem(
        this.#countersMapFd,
        new Uint8Array(key.buffer),
        new Uint8Array(val.buffer),
        BPF.BPF_ANY,
      ),
    );
  }

  /**
   * Follows CPU hotplug: a CPU that went offline loses its per-CPU perf events for good (they
   * stay dead when it comes back), so a CPU whose tick event stopped advancing its running
   * time, or that is newly online, gets fresh events; an offline CPU's are released. Returns
   * the number of CPUs (re)attached or released.
   */
  refreshCpus(): number {
    if (this.#detached || !this.#obj) return 0;
    const now = performance.now();
    const elapsedNs = BigInt(Math.round((now - this.#lastHotplugCheck) * 1e6));
    this.#lastHotplugCheck = now;
    this.#nextHotplugCheck = now + HOTPLUG_CHECK_MS;
    const online = new Set(onlineCpus());
    let changed = 0;
    for (const [cpu, att] of [...this.#attached]) {
      // A CPU event's time runs with the wall clock while its CPU is online; one that fell
      // behind by half the interval was switched off by an offline (however short) for good.
      const running = online.has(cpu) ? readTimeRunning(att.tickFd) : -1n;
      if (running >= 0n && running - att.runningNs >= elapsedNs / 2n) {
        att.runningNs = running;
        continue;
      }
      this.#detachCpu(cpu);
      changed++;
    }
    for (const cpu of online) {
      if (this.#attached.has(cpu)) continue;
      try {
        this.#attachCpu(cpu, null);
        changed++;
      } catch (e) {
        // offline again already, or out of fds: the next check retries
        if (!(e instanceof PerfEventOpenError || e instanceof BpfLoadError)) throw e;
      }
    }
    this.#hotplugEvents += changed;
    return changed;
  }

  #map(name: string): Deno.PointerObject {
    return checkPtr(
      `find map ${name}`,
      this.#bpf.bpf_object__find_map_by_name(this.#obj, cstr(name)),
    );
  }

  #program(name: string): Deno.PointerObject {
    const p = checkPtr(
      `find program ${name}`,
      this.#bpf.bpf_object__find_program_by_name(this.#obj, cstr(name)),
    );
    this.#progs.push({ name, fd: this.#bpf.bpf_program__fd(p) });
    return p;
  }

  #writeConfig(
    excludeTgid: number,
    counterMask: number,
    taskCounts: number[],
    emptyPrograms: boolean,
    hideTgid: number,
  ): void {
    const size = new BigUint64Array(1);
    const p = checkPtr(
      "bpf_map__initial_value(.rodata.cfg)",
      this.#bpf.bpf_map__initial_value(this.#map(".rodata.cfg"), new Uint8Array(size.buffer)),
    );
    if (size[0] !== BigInt(CONFIG_SIZE)) {
      throw new BpfLoadError(".rodata.cfg size", 0, `${size[0]} bytes, expected ${CONFIG_SIZE}`);
    }
    const cfg = new DataView(Deno.UnsafePointerView.getArrayBuffer(p, CONFIG_SIZE));
    cfg.setUint32(CONFIG_OFF.excludeTgid, excludeTgid, true);
    cfg.setUint32(CONFIG_OFF.counterMask, counterMask, true);
    cfg.setUint32(CONFIG_OFF.nrCpus, this.#possibleCpus, true);
    cfg.setUint32(CONFIG_OFF.wakeBytes, this.#wakeBytes, true);
    cfg.setBigUint64(CONFIG_OFF.intervalNs, this.intervalNs, true);
    taskCounts.forEach((id, slot) => cfg.setUint8(CONFIG_OFF.taskCount + slot, id));
    cfg.setUint32(CONFIG_OFF.noop, emptyPrograms ? 1 : 0, true);
    cfg.setUint32(CONFIG_OFF.hideTgid, hideTgid, true);
  }

  /**
   * Hands each record committed so far (at most `maxRecords`) to `onRecord` and frees its
   * space. Non-blocking and bounded; returns the number of records handed over. The view is
   * only valid during the call.
   */
  drain(onRecord: RecordCallback, maxRecords?: number): number {
    if (performance.now() >= this.#nextHotplugCheck) this.refreshCpus();
    this.#flushEnded();
    const n = this.#ring ? this.#ring.drain(onRecord, maxRecords) : 0;
    // After detach, the runs each CPU still held back come last (once the ring is empty).
    if (this.#detached && !this.#pendingRead && this.pendingBytes() === 0) {
      return n + this.#drainHeld(onRecord);
    }
    return n;
  }

  /**
   * Has each CPU that holds runs of an ended slot send them to the ring (flush_ended, run on
   * that CPU): one that went idle holding them has no event of its own to do it. Which CPUs hold
   * any is read from a copy of every CPU's state: racy, but only a hint of where to look.
   */
  #flushEnded(): void {
    if (this.#detached || this.#flushFd < 0 || this.#cpuStatesFd < 0) return;
    if (this.#readStates() !== 0) {
      this.#flushErrors++;
      return;
    }
    // A CPU whose runs lie in the slot under way would send nothing (flush_ended checks the
    // same): skip its syscall and IPI. A slot that ends meanwhile waits for the next drain.
    const slotNow = monoNowNs() / this.intervalNs;
    for (const cpu of this.#attached.keys()) {
      const base = cpu * this.#stateStride;
      if (this.#statesView.getUint32(base + PENDING_OFF.count, true) === 0) continue;
      if (this.#statesView.getBigUint64(base + PENDING_OFF.slot, true) === slotNow) continue;
      this.#testRunOpts.setUint32(BPF.TEST_RUN_OPTS_CPU, cpu, true);
      const r = this.#bpf.bpf_prog_test_run_opts(this.#flushFd, this.#testRunBytes);
      // a CPU gone offline (ENXIO) is the hotplug check's to notice, not a failure
      if (r !== 0 && r !== -ENXIO) this.#flushErrors++;
    }
  }

  /** Copies every CPU's cpu_states into #states; libbpf's result (0, or a negative errno). */
  #readStates(): number {
    // key 0 (#keyBytes stays zero): the map's one element
    return this.#bpf.bpf_map_lookup_elem(this.#cpuStatesFd, this.#keyBytes, this.#states);
  }

  /**
   * Hands over the runs each CPU held back to merge (`struct podperf_pending` at the start of
   * its state). Only after detach: no program runs any more, so the state is settled.
   */
  #drainHeld(onRecord: RecordCallback): number {
    this.#pendingRead = true;
    if (this.#cpuStatesFd < 0) return 0;
    check("read cpu_states", this.#readStates());
    const view = this.#statesView;
    let n = 0;
    for (let cpu = 0; cpu < this.#possibleCpus; cpu++) {
      const base = cpu * this.#stateStride;
      const count = Math.min(view.getUint32(base + PENDING_OFF.count, true), PENDING);
      for (let i = 0; i < count; i++, n++) {
        onRecord(view, base + PENDING_OFF.records + i * RECORD_SIZE);
      }
    }
    this.#heldAtDetach = n;
    return n;
  }

  /**
   * Resolves when `wakeBytes` wait in the ring, after `maxMs`, or when `signal` aborts,
   * whichever comes first. The wait runs on a worker thread (a nonblocking FFI call), so the
   * JS loop keeps serving everything else; nothing is drained here.
   *
   * @example
   * while (!signal.aborted) {
   *   await sampler.waitForData(50, signal);
   *   sampler.drain(onRecord);
   * }
   */
  async waitForData(maxMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#epollFd < 0 || signal?.aborted || maxMs <= 0) return;
    // Forget wake-ups that came while nobody waited (edge-triggered: they stay queued), then
    // look at the fill level itself.
    while (libc().epoll_wait(this.#epollFd, this.#epollEvents, 1, 0) > 0) { /* consumed */ }
    if (this.pendingBytes() >= this.#wakeBytes) return;
    const wait = libc().epoll_wait_nonblocking(
      this.#epollFd,
      this.#epollEvents,
      1,
      Math.ceil(maxMs),
    ).then(() => {});
    if (!signal) return await wait;
    // An abort returns at once; the worker's epoll_wait still ends by its own timeout.
    let onAbort = () => {};
    const aborted = new Promise<void>((r) => signal.addEventListener("abort", onAbort = () => r()));
    try {
      await Promise.race([wait, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** The ring's data area in bytes and the records read across its end (reassembled). */
  ringInfo(): { bytes: number; wrappedRecords: number } {
    return { bytes: this.#ring?.size ?? 0, wrappedRecords: this.#ring?.wrappedRecords ?? 0 };
  }

  /** Bytes waiting in the ring buffer. */
  pendingBytes(): number {
    return this.#ring ? this.#ring.pendingBytes() : 0;
  }

  /** Error counters summed over CPUs, read from the per-CPU stats map. */
  stats(): SamplerStats {
    return {
      lost: this.#stat(STAT_LOST),
      readErrors: this.#stat(STAT_READ_ERRORS),
      selfNs: this.#stat(STAT_SELF_NS),
      unseen: this.#stat(STAT_UNSEEN),
      hotplugEvents: this.#hotplugEvents,
      heldAtDetach: this.#heldAtDetach,
      flushErrors: this.#flushErrors,
    };
  }

  #stat(key: number): bigint {
    if (this.#statsMapFd < 0) return 0n;
    this.#key[0] = key;
    check(
      "read stats",
      this.#bpf.bpf_map_lookup_elem(
        this.#statsMapFd,
        new Uint8Array(this.#key.buffer),
        new Uint8Array(this.#statBuf.buffer),
      ),
    );
    let sum = 0n;
    for (const v of this.#statBuf) sum += v;
    return sum;
  }

  /** Kernel run-time stats per program; run time accrues only with `runStats` (or the sysctl). */
  bpfStats(): BpfProgramStats[] {
    const info = new Uint8Array(BPF.PROG_INFO_SIZE);
    const len = new Uint32Array([BPF.PROG_INFO_SIZE]);
    const v = new DataView(info.buffer);
    return this.#progs.map(({ name, fd }) => {
      info.fill(0);
      len[0] = BPF.PROG_INFO_SIZE;
      check(
        "bpf_obj_get_info_by_fd",
        this.#bpf.bpf_obj_get_info_by_fd(fd, info, new Uint8Array(len.buffer)),
      );
      return {
        program: name,
        runTimeNs: v.getBigUint64(BPF.PROG_INFO_RUN_TIME_NS, true),
        runCnt: v.getBigUint64(BPF.PROG_INFO_RUN_CNT, true),
        recursionMisses: v.getBigUint64(BPF.PROG_INFO_RECURSION_MISSES, true),
      };
    });
  }

  /**
   * Stops producing records (detaches both programs and the ticks) but keeps the ring and the
   * stats readable, so a last drain sees every record the kernel will ever commit; idempotent.
   */
  detach(): void {
    this.#detached = true;
    for (const cpu of [...this.#attached.keys()]) this.#detachCpu(cpu);
    if (this.#switchLink) this.#bpf.bpf_link__destroy(this.#switchLink);
    this.#switchLink = null;
  }

  /** Detaches everything and frees the kernel objects; idempotent. */
  close(): void {
    this.detach();
    this.#ring?.close();
    this.#ring = null;
    if (this.#epollFd >= 0) closeFd(this.#epollFd);
    this.#epollFd = -1;
    if (this.#statsFd >= 0) closeFd(this.#statsFd);
    this.#statsFd = -1;
    this.#statsMapFd = -1;
    this.#cpuStatesFd = -1;
    this.#progs = [];
    if (this.#obj) this.#bpf.bpf_object__close(this.#obj);
    this.#obj = null;
  }
}

/**
 * An epoll fd reporting each wake-up of the ring buffer map `fd`. Edge-triggered: the map
 * polls readable whenever it holds any data, but the drain should wake only when the BPF side
 * forces a wake-up (fill level), not on every record.
 */
function watchReadable(fd: number): number {
  const ep = libc().epoll_create1(LIBC.EPOLL_CLOEXEC);
  if (ep < 0) throw new BpfLoadError("epoll_create1", errno());
  const ev = new DataView(new ArrayBuffer(EPOLL_EVENT_SIZE));
  ev.setUint32(0, (LIBC.EPOLLIN | LIBC.EPOLLET) >>> 0, true);
  if (libc().epoll_ctl(ep, LIBC.EPOLL_CTL_ADD, fd, new Uint8Array(ev.buffer)) < 0) {
    const e = errno();
    closeFd(ep);
    throw new BpfLoadError("epoll_ctl(ring)", e);
  }
  return ep;
}

function ptrOf(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}
