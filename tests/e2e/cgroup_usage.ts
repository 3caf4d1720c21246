/**
 * The kernel's own CPU accounting of a cgroup, as the reference podperf's cpu_ns is checked
 * against: `usage_usec` of the cgroup2 `cpu.stat` (present without the cpu controller, and it
 * keeps the time of removed child cgroups), polled with wall-clock stamps so the usage at any
 * instant of the poll span can be interpolated.
 */
import { readFileSync } from "node:fs";

/** A cgroup's cpu.stat could not be read or has no usage_usec. */
export class CgroupUsageError extends Error {
  /** Carries the cgroup directory and what went wrong. */
  constructor(readonly dir: string, readonly reason: string) {
    super(`cannot read CPU usage of ${dir}: ${reason}`);
    this.name = "CgroupUsageError";
  }
}

/** CPU time the kernel charged to the cgroup2 directory `dir` and its descendants, in ns. */
export function cgroupUsageNs(dir: string): number {
  let text: string;
  try {
    text = readFileSync(`${dir}/cpu.stat`, "utf8");
  } catch (e) {
    throw new CgroupUsageError(dir, String(e));
  }
  const m = /^usage_usec (\d+)$/m.exec(text);
  if (!m) throw new CgroupUsageError(dir, "no usage_usec line in cpu.stat");
  return Number(m[1]) * 1000;
}

/** One poll of one cgroup: wall clock (ms, taken right after the read) and usage (ns). */
interface UsageSample {
  wallMs: number;
  usageNs: number;
}

/** An interpolated usage value and how far off it can be. */
export interface UsageAt {
  usageNs: number;
  /** The two polls around the instant are this far apart (ms). */
  gapMs: number;
  /**
   * Usage only grows, so the true value lies between the two polls' values: the interpolated
   * one is off by at most this much (ns), however the cgroup ran within the gap.
   */
  uncertaintyNs: number;
}

/**
 * Polls the usage of named cgroup dirs (or other ns counters) every `periodMs` until stopped.
 * Dirs can be added while it runs (a pod created mid-way); a dir that disappears stops being
 * polled.
 */
export class UsagePoller {
  readonly #readers = new Map<string, () => number>();
  readonly #samples = new Map<string, UsageSample[]>();
  readonly #timer: ReturnType<typeof setInterval>;

  /** Starts polling every `periodMs`. */
  constructor(readonly periodMs = 10) {
    this.#timer = setInterval(() => this.poll(), periodMs);
  }

  /** Adds the cgroup dir `dir` under `name` and polls it once now. */
  watch(name: string, dir: string): void {
    this.watchValue(name, () => cgroupUsageNs(dir));
  }

  /** Adds any monotonic ns counter under `name` (e.g. node steal time) and polls it now. */
  watchValue(name: string, read: () => number): void {
    this.#readers.set(name, read);
    this.#samples.set(name, []);
    this.poll();
  }

  /** Reads every watched counter now. */
  poll(): void {
    for (const [name, read] of this.#readers) {
      let usageNs: number;
      try {
        usageNs = read();
      } catch {
        this.#readers.delete(name);
        continue;
      }
      this.#samples.get(name)!.push({ wallMs: Date.now(), usageNs });
    }
  }

  /** Stops polling (after one last read). */
  stop(): void {
    this.poll();
    clearInterval(this.#timer);
  }

  /** The last usage read of `name`. */
  last(name: string): UsageSample {
    const s = this.#samples.get(name);
    if (!s?.length) throw new CgroupUsageError(name, "never polled");
    return s[s.length - 1];
  }

  /**
   * The usage of `name` at wall-clock instant `wallMs`, linearly interpolated between the two
   * polls around it; throws when the instant is outside the polled span.
   */
  at(name: string, wallMs: number): UsageAt {
    const s = this.#samples.get(name) ?? [];
    for (let i = 1; i < s.length; i++) {
      const a = s[i - 1], b = s[i];
      if (a.wallMs <= wallMs && wallMs <= b.wallMs) {
        const span = b.wallMs - a.wallMs;
        const f = span === 0 ? 0 : (wallMs - a.wallMs) / span;
        const grew = b.usageNs - a.usageNs;
        return {
          usageNs: a.usageNs + f * grew,
          gapMs: span,
          uncertaintyNs: Math.max(f, 1 - f) * grew,
        };
      }
    }
    const from = s[0]?.wallMs, to = s[s.length - 1]?.wallMs;
    throw new CgroupUsageError(name, `instant ${wallMs} is outside the polled span ${from}..${to}`);
  }

  /**
   * The whole-ms instant in [fromMs, toMs] where the usage of `name` is known best (the least
   * uncertainty), with that usage. A reference edge need not sit at one fixed instant: a test
   * that can choose its edge inside a span takes the one the polls pin down, so a poller
   * starved for a while (a busy node, a stalled vCPU) blurs nothing as long as it polled
   * closely somewhere in the span.
   */
  sharpest(name: string, fromMs: number, toMs: number): UsageAt & { wallMs: number } {
    let best: (UsageAt & { wallMs: number }) | undefined;
    for (let t = Math.ceil(fromMs); t <= toMs; t++) {
      const u = this.at(name, t);
      if (!best || u.uncertaintyNs < best.uncertaintyNs) best = { ...u, wallMs: t };
    }
    if (!best) throw new CgroupUsageError(name, `no whole ms in ${fromMs}..${toMs}`);
    return best;
  }
}
