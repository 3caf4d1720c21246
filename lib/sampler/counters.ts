/**
 * The counter slots of counter_table.ts: per online CPU, one perf event per slot, detected at
 * start-up as hardware, software or unavailable; or a count the kernel keeps per task, which
 * needs no event. Hardware and software events go through the same slot mechanism; the BPF
 * side reads whatever event a slot holds.
 */

import { COUNTER_NAMES, type CounterName, COUNTERS } from "./counter_table.ts";
import { errnoName, PerfEventOpenError } from "./errors.ts";
import { closeFd, PERF, perfEventOpen, type PerfEventSpec } from "./perf_event.ts";

/** Where a counter's values come from, as reported to the user and stored in file metadata. */
export interface CounterSource {
  name: CounterName;
  source: "hardware" | "software" | "unavailable";
  detail: string;
}

/** The event each slot opens by default (from the counter table); task counts open none. */
export const DEFAULT_EVENTS: Partial<Record<CounterName, PerfEventSpec>> = Object.fromEntries(
  COUNTERS.flatMap((c) => "event" in c ? [[c.name, c.event]] : []),
);

/** Options of openCounters. */
export interface CounterOptions {
  /** Counters to open (default: all); the others are reported unavailable. */
  enabled?: readonly string[];
  /**
   * Replaces a slot's event or task count with this event, e.g. a software event in a hardware
   * slot for tests.
   */
  events?: Partial<Record<CounterName, PerfEventSpec>>;
}

/** The opened counter events; `fds[slot]` holds one fd per CPU of `cpus`, or null. */
export interface OpenedCounters {
  sources: CounterSource[];
  fds: (number[] | null)[];
  /** The event of each slot with fds (what a CPU that comes online opens), else null. */
  specs: (PerfEventSpec | null)[];
  /** Per slot, the `PODPERF_TASK_*` count it reads, or 0. */
  taskCounts: number[];
  /** Bit i set when slot i counts: events installed, or a task count. */
  mask: number;
}

function describeFailure(spec: PerfEventSpec, e: PerfEventOpenError): string {
  const name = errnoName(e.errno);
  if (spec.type === PERF.TYPE_HARDWARE && (e.errno === 2 || e.errno === 95)) {
    return `${name}: no hardware PMU`;
  }
  if (e.errno === 1 || e.errno === 13) return `${name}: not permitted`;
  return `${name}: perf_event_open failed on cpu ${e.cpu}`;
}

/** Opens every enabled slot on every CPU of `cpus`; a slot that fails on any CPU is dropped. */
export function openCounters(cpus: readonly number[], opts: CounterOptions = {}): OpenedCounters {
  for (const name of opts.enabled ?? []) {
    if (!(COUNTER_NAMES as readonly string[]).includes(name)) {
      throw new RangeError(`unknown counter "${name}" (known: ${COUNTER_NAMES.join(", ")})`);
    }
  }
  const sources: CounterSource[] = [];
  const fds: (number[] | null)[] = [];
  const specs: (PerfEventSpec | null)[] = [];
  const taskCounts: number[] = [];
  let mask = 0;
  COUNTERS.forEach((def, slot) => {
    const name = def.name;
    const spec = opts.events?.[name] ?? DEFAULT_EVENTS[name];
    const unopened = (source: CounterSource, taskCount = 0) => {
      sources.push(source);
      fds.push(null);
      specs.push(null);
      taskCounts.push(taskCount);
    };
    if (opts.enabled && !opts.enabled.includes(name)) {
      unopened({ name, source: "unavailable", detail: "disabled by option" });
      return;
    }
    if (!spec && "task" in def) {
      unopened({ name, source: "software", detail: `per-task ${def.task.fields}` }, def.task.id);
      mask |= 1 << slot;
      return;
    }
    if (!spec) throw new Error(`counter ${name} has neither an event nor a task count`);
    const opened: number[] = [];
    try {
      for (const cpu of cpus) opened.push(perfEventOpen(spec, cpu));
    } catch (e) {
      if (!(e instanceof PerfEventOpenError)) throw e;
      opened.forEach(closeFd);
      unopened({ name, source: "unavailable", detail: describeFailure(spec, e) });
      return;
    }
    const hw = spec.type === PERF.TYPE_HARDWARE;
    const overridden = opts.events?.[name] !== undefined;
    sources.push({
      name,
      source: hw ? "hardware" : "software",
      detail: `${hw ? "PERF_TYPE_HARDWARE" : "PERF_TYPE_SOFTWARE"} config ${spec.config}` +
        (overridden ? " (override)" : ""),
    });
    fds.push(opened);
    specs.push(spec);
    taskCounts.push(0);
    mask |= 1 << slot;
  });
  return { sources, fds, specs, taskCounts, mask };
}

/** Closes every fd of `counters`. */
export function closeCounters(counters: OpenedCounters): void {
  for (const slot of counters.fds) slot?.forEach(closeFd);
  counters.fds.fill(null);
}
