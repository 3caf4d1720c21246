/**
 * V8 flags every launch path of the agent passes (`deno task collect`, `scripts/compile.sh` for
 * `deno task compile` and the Dockerfile, the benchmarks); tests/cli/v8_flags_test.ts holds the
 * non-TypeScript copies to this one.
 *
 * Why: V8 grows each isolate's young generation to 2 × 8 MiB semi-spaces under a steady allocation
 * rate, and the agent has two isolates (the loop and the Parquet Worker). At 2 MiB the collector
 * under 8 runnable pipe tasks held 118–120 MiB against 128–130 MiB, with no measurable CPU change
 * at that load (BENCHMARKS.md, "Memory"); the userspace ceiling drops 3–18%, and stays 9× above
 * the most rows a saturated node produced. The flags must be given at launch: Deno sizes the
 * Worker's heap from them too, and `node:v8`'s setFlagsFromString after start changes neither.
 *
 * No allocation-site pretenuring: when many objects of one allocation site survive a scavenge
 * (the burst as a storm begins), V8 allocates that site's objects in the old generation from
 * then on, and the decision sticks. The drain's rows die within milliseconds, so the old
 * generation then fills with garbage: under 64 runnable tasks, 2 runs in 12 promoted 7.7 MB/s
 * instead of 0.6, ran 9 full GCs instead of 1, peaked at 148–152 MiB instead of 126–129 and
 * took 11–19% more CPU; with the flag, 0 runs in 20 did (BENCHMARKS.md, ninth pass).
 *
 * No memory reducer: 30 s after start (and, by V8's design, again when the allocation rate
 * drops) V8 runs "reduce memory" GCs that compact the heap, give pages back and flush compiled
 * code, and the agent then pays to fault pages in and compile its hot paths again. Under a sched-pipe pair the
 * collector took 1.7–3.0% of one CPU from 30 s to 70 s with the reducer and 1.1–1.4% without;
 * from 70 s on, 1.0–1.2% either way; idle RSS stayed at 96–97 MiB either way (BENCHMARKS.md,
 * fifteenth pass).
 *
 * Compaction on every full GC: without the reducer's GCs, V8 evacuates at a full GC only pages that
 * are mostly free, at most 4 MB of live objects. Under pod churn the loop's long-lived objects
 * (pods' metadata, series, cache entries) come and go among short-lived ones, and the pages they
 * leave half used were kept: in 20 minutes of the agent soak the loop isolate's heap held 19.4 →
 * 24.0 MiB of pages after full GCs that each left ~12 MB live, and RSS rose 126 → 136 MiB (5-minute
 * medians). With the flag, 15.9–16.9 MiB after each full GC (one traced soak), and RSS 5-minute
 * medians of 123–130 MiB, peaks 138.5 and 139.2, in two soaks of 20 and 25 minutes. The cost is the
 * copy: the loop's full GCs (one every ~2 minutes there) pause 31–45 ms instead of 2–4 ms
 * (BENCHMARKS.md, nineteenth pass).
 */
export const V8_FLAGS =
  "--max-semi-space-size=2,--no-allocation-site-pretenuring,--no-memory-reducer," +
  "--compact-on-every-full-gc";
