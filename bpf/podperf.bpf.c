// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podperf kernel side. A task is charged what the scheduler charges it: the growth of its
 * se.sum_exec_runtime (what cgroup cpu.stat, cAdvisor and `kubectl top` add up), read when it
 * is switched out and at the cpu-clock tick (default 1 ms) while it runs. Stretches of
 * bpf_ktime_get_ns between events do not add up to that for tasks that sleep and wake at high
 * rates, so ktime only places the charge in time. Each record also carries the run-queue wait
 * the scheduler measured before the run (sched_info.run_delay, /proc/PID/schedstat field 2)
 * and the deltas of its counters: per-CPU perf events installed in the `counters`
 * PERF_EVENT_ARRAY, or counts the kernel keeps per task (page faults, context switches).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "podperf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Own section so userspace finds the struct at offset 0 of its map (layout in podperf.h). */
const volatile struct podperf_config cfg SEC(".rodata.cfg") = {};

/* Never read: keeps struct podperf_record in the object's BTF, which the layout test checks. */
const struct podperf_record *const podperf_record_btf = 0;

/* Slot i of CPU c at index i * cfg.nr_cpus + c; the loader sizes it before load. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, PODPERF_NR_COUNTERS);
} counters SEC(".maps");

struct slot_state {
	__u64 counter;
	__u64 enabled;
	__u64 running;
};

struct cpu_state {
	struct podperf_pending pending; /* first: userspace reads it (podperf.h) */
	__u64 ts_base;    /* ktime where the current task's uncharged time begins; 0 = none yet */
	__u64 sum_base;   /* its se.sum_exec_runtime at ts_base */
	__u64 delay_base; /* its sched_info.run_delay when last charged */
	__u32 cur_pid;    /* the task the bases belong to */
	__u32 waited;     /* its run began after a run-queue wait not yet emitted */
	__u32 held;       /* counter baseline held since a record could not be reserved */
	__u32 woke;       /* this CPU forced a wake-up since the ring was last below wake_bytes */
	__u32 flushing;   /* flush_ended() runs here: the tick, which may interrupt it, stays out */
	__u32 unseen;     /* no switch showed the current run begin: resume_unseen() set the bases */
	__u64 clk_off;    /* CLOCK_MONOTONIC minus this CPU's rq->clock, as last measured */
	__u64 clk_at;     /* the rq->clock it was measured at; 0 = not yet */
	struct slot_state slot[PODPERF_NR_COUNTERS];
	/*
	 * Task-count slots as a per-CPU counter: task_sum adds what each task charged on this CPU
	 * counted while it ran (its count now minus task_base, its count when its run began), so
	 * read_slot() treats them like a perf event's count.
	 */
	__u64 task_base[PODPERF_NR_COUNTERS];
	__u64 task_sum[PODPERF_NR_COUNTERS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_state);
} cpu_states SEC(".maps");

/*
 * What a task was charged at a switch-out whose record could not be reserved: it goes into
 * that task's next switch-out record, so a full ring costs placement, never attribution.
 * Task-local storage is freed with the task, so it is bounded by the number of tasks.
 */
struct owed {
	__u64 cpu_ns;
	__u64 runq_ns;
	__u32 waits;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct owed);
} owed_by_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PODPERF_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Resized by the loader before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} records SEC(".maps");

/* Set at the first switch-out whose record could not be reserved: from then on look for owed. */
__u32 any_owed = 0;

static __always_inline void stat_add(__u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &key);

	if (v)
		*v += n;
}

/*
 * Reads counter slot i on this CPU and, when deltas are wanted (deltas != NULL), stores the
 * delta since the last commit. The new raw values go to *next; the caller commits them only if
 * the run was charged, so after a full ring the delta carries into the next record.
 */
static __always_inline void read_slot(int i, __u32 cpu, struct cpu_state *st,
				      struct slot_state *next, __u64 *deltas, __u32 *flags)
{
	struct bpf_perf_event_value v;
	struct slot_state *last = &st->slot[i];
	__u64 dc, de, dr;

	if (!(cfg.counter_mask & (1u << i)))
		return;
	if (cfg.task_count[i]) {
		/* counts whenever its task runs: never multiplexed, never a stretch it missed, so
		 * enabled and running mean nothing here */
		next->counter = st->task_sum[i];
		if (deltas) {
			deltas[i] = next->counter - last->counter;
			*flags |= PODPERF_FLAG_VALID(i);
		}
		return;
	}
	if (bpf_perf_event_read_value(&counters, i * cfg.nr_cpus + cpu, &v, sizeof(v))) {
		stat_add(PODPERF_STAT_READ_ERRORS, 1);
		*next = *last;
		return;
	}
	next->counter = v.counter;
	next->enabled = v.enabled;
	next->running = v.running;
	/* No baseline yet, or the event was not enabled in the stretch: the delta is unknown. */
	if (!deltas || last->enabled == 0)
		return;
	dc = v.counter - last->counter;
	de = v.enabled - last->enabled;
	dr = v.running - last->running;
	if (de == 0 || dr == 0)
		return; /* it never ran: NULL, not a measured 0 */
	if (dr < de) {
		dc = podperf_scale(dc, de, dr); /* multiplexed: extrapolate like perf does */
		*flags |= PODPERF_FLAG_SCALED(i);
	}
	deltas[i] = dc;
	*flags |= PODPERF_FLAG_VALID(i);
}

/*
 * Reads this CPU's counters: the deltas since the last commit into deltas[] (their valid and
 * scaled bits into *flags; deltas == NULL drops them) and the raw values into next[]. Nothing is
 * committed here: a charge that fails keeps the old baseline (commit_counters).
 */
static __always_inline void read_counters(struct cpu_state *st, struct slot_state *next,
					  __u64 *deltas, __u32 *flags)
{
	__u32 cpu = bpf_get_smp_processor_id();
	int i;

	for (i = 0; i < PODPERF_NR_COUNTERS; i++)
		read_slot(i, cpu, st, &next[i], deltas, flags);
}

/* Makes next[] the baseline of this CPU's next counter stretch. */
static __always_inline void commit_counters(struct cpu_state *st, const struct slot_state *next)
{
	for (int i = 0; i < PODPERF_NR_COUNTERS; i++)
		st->slot[i] = next[i];
}

/* Ends this CPU's counter stretch without recording it (idle, the collector, an unknown run). */
static __always_inline void drop_counters(struct cpu_state *st)
{
	struct slot_state next[PODPERF_NR_COUNTERS] = {};

	read_counters(st, next, NULL, NULL);
	commit_counters(st, next);
}

/*
 * The drain is woken by fill level, not by every record: a wake-up is a context switch, which
 * would be a record, which would wake it again. Each CPU forces one wake-up per crossing of
 * wake_bytes; the drain also wakes on its own timeout.
 */
static __always_inline __u64 wakeup_flags(struct cpu_state *st)
{
	if (!cfg.wake_bytes)
		return 0;
	if (bpf_ringbuf_query(&records, BPF_RB_AVAIL_DATA) < cfg.wake_bytes) {
		st->woke = 0;
		return BPF_RB_NO_WAKEUP;
	}
	if (st->woke)
		return BPF_RB_NO_WAKEUP;
	st->woke = 1;
	return BPF_RB_FORCE_WAKEUP;
}

/*
 * Sends the runs this CPU holds back to the ring, last first; false when the ring is full, with
 * the entries not sent still held (the next event tries again).
 */
static __always_inline bool flush(struct cpu_state *st)
{
	struct podperf_pending *p = &st->pending;
	__u32 n = p->count;
	int i;

	for (i = PODPERF_PENDING - 1; i >= 0; i--) {
		if (i >= n)
			continue;
		if (bpf_ringbuf_output(&records, &p->rec[i], sizeof(p->rec[i]), wakeup_flags(st)))
			return false;
		p->count = i;
	}
	return true;
}

/* Fills r, a run of t ending at `end`, with the counter deltas read for it. */
static __always_inline void fill(struct podperf_record *r, struct task_struct *t, __u64 cg,
				 __u64 span, __u64 end, __u64 cpu_ns, __u64 runq_ns, __u32 waits,
				 __u32 flags, const __u64 *deltas)
{
	r->ts_ns = end;
	r->cgroup_id = cg;
	r->cpu_ns = cpu_ns;
	r->runq_ns = runq_ns;
	r->span_ns = span;
	r->pid = t->pid;
	r->tgid = t->tgid;
	r->cpu = bpf_get_smp_processor_id();
	r->waits = waits;
	r->runs = 1;
	r->flags = flags;
	for (int i = 0; i < PODPERF_NR_COUNTERS; i++)
		r->counters[i] = deltas[i];
	/* comm is NUL-padded in the kernel (strscpy_pad), so all 16 bytes are defined. */
	bpf_probe_read_kernel(r->comm, sizeof(r->comm), t->group_leader->comm);
}

/*
 * Adds a run of this CPU's current task to r, a held run of the same process in the same slot;
 * `flags` carries the run's counter valid and scaled bits.
 */
static __always_inline void merge(struct podperf_record *r, __u64 end, __u64 cpu_ns,
				  __u64 runq_ns, __u32 waits, __u32 flags, const __u64 *deltas)
{
	const __u32 mask = (1u << PODPERF_NR_COUNTERS) - 1;
	__u32 valid = flags & mask;
	int i;

	for (i = 0; i < PODPERF_NR_COUNTERS; i++)
		r->counters[i] += deltas[i];
	/* a counter that did not run in one of the runs is unknown for the sum: NULL */
	r->flags = (r->flags & (valid | ~mask)) | (flags & ~valid) | PODPERF_FLAG_ONE_SLOT;
	r->span_ns = end - (r->ts_ns - r->span_ns);
	r->ts_ns = end;
	r->cpu_ns += cpu_ns;
	r->runq_ns += runq_ns;
	r->waits += waits;
	r->runs++;
}

/* p->slot of a held run that lies across a slot edge: nothing joins it. */
#define PODPERF_NO_SLOT (~0ULL)

/* What a run's record took is no longer owed or pending. */
static __always_inline void charged(struct cpu_state *st, struct owed *o)
{
	st->waited = 0;
	st->held = 0;
	st->unseen = 0;
	if (o) {
		o->cpu_ns = 0;
		o->runq_ns = 0;
		o->waits = 0;
	}
}

/*
 * Charges `t` (the task running on this CPU) cpu_ns of scheduler time and runq_ns of wait,
 * placed over [ts_base, end]. `o` is t's owed charge (switch-out only, else NULL). Returns
 * false when the ring is full. The idle task and the collector are not recorded, but their
 * counter stretch still ends here (unless the baseline is held for a record to come).
 *
 * A run that lies, with its wait, inside one slot is held back in st->pending and later runs
 * of the same process in that slot are added to it; the held runs go out when a run falls
 * elsewhere, the CPU turns to the collector, more processes run in the slot than it holds
 * (PODPERF_PENDING), or the drain finds their slot ended (flush_ended).
 */
static __always_inline bool charge(struct cpu_state *st, struct task_struct *t, __u64 end,
				   __u64 cpu_ns, __u64 runq_ns, __u32 flags, struct owed *o)
{
	struct podperf_pending *p = &st->pending;
	struct slot_state next[PODPERF_NR_COUNTERS] = {};
	__u64 deltas[PODPERF_NR_COUNTERS] = {};
	__u32 tgid = t->tgid, waits, n, i, found, got = 0;
	__u64 cg, start, slot = 0;
	bool one_slot = false, same_slot;

	if (t->pid == 0 || tgid == cfg.exclude_tgid) {
		if (t->pid != 0)
			stat_add(PODPERF_STAT_SELF_NS, cpu_ns);
		if (!st->held)
			drop_counters(st);
		st->waited = 0;
		return true;
	}
	/*
	 * The counters first, before any branch: read_counters() is the costliest code to verify
	 * (the scaling loop), and each path reaching it is verified again.
	 */
	read_counters(st, next, deltas, &got);
	waits = st->waited;
	if (st->held)
		flags |= PODPERF_FLAG_CARRIED;
	if (st->unseen)
		flags |= PODPERF_FLAG_UNSEEN;
	if (o && (o->cpu_ns || o->runq_ns || o->waits)) {
		cpu_ns += o->cpu_ns;
		runq_ns += o->runq_ns;
		waits += o->waits;
		flags |= PODPERF_FLAG_CARRIED;
	}
	cg = bpf_get_current_cgroup_id();
	start = st->ts_base && end > st->ts_base ? st->ts_base : end;
	/* Carried and unseen charges are placed coarsely anyway: they go out on their own. */
	if (!(flags & (PODPERF_FLAG_CARRIED | PODPERF_FLAG_UNSEEN)) && cfg.interval_ns) {
		slot = start / cfg.interval_ns;
		one_slot = (start == end || (end - 1) / cfg.interval_ns == slot) &&
			   (runq_ns == 0 || (runq_ns <= start &&
					     (start - runq_ns) / cfg.interval_ns == slot));
	}
	n = p->count;
	/* The run may join what this CPU holds: same slot, and a held run of its process or room. */
	same_slot = one_slot && n && p->slot == slot;
	found = PODPERF_PENDING;
	if (same_slot) {
		for (i = 0; i < PODPERF_PENDING; i++) {
			if (i < n && p->rec[i].tgid == tgid && p->rec[i].cgroup_id == cg) {
				found = i;
				break;
			}
		}
	}
	if (found == PODPERF_PENDING && !(same_slot && n < PODPERF_PENDING)) {
		if (!flush(st)) {
			stat_add(PODPERF_STAT_LOST, 1);
			st->held = 1; /* the next record on this CPU takes the counter deltas */
			return false;
		}
		n = 0;
	}
	/* From here the run is charged. One merge() and one fill(): inlined copies cost verifying. */
	commit_counters(st, next);
	/* An unseen run's counter stretch began with another task's run: none of it is known. */
	if (!(flags & PODPERF_FLAG_UNSEEN))
		flags |= got;
	charged(st, o);
	if (found < PODPERF_PENDING) {
		barrier_var(found);
		merge(&p->rec[found & (PODPERF_PENDING - 1)], end, cpu_ns, runq_ns, waits, flags, deltas);
		return true;
	}
	/* Older verifiers (6.1) lose the bound through the branches above: mask it again. */
	barrier_var(n);
	n &= PODPERF_PENDING - 1;
	fill(&p->rec[n], t, cg, end - start, end, cpu_ns, runq_ns, waits, flags, deltas);
	p->count = n + 1;
	p->slot = one_slot ? slot : PODPERF_NO_SLOT;
	/*
	 * A run across a slot edge is not held: it goes out now. Should the ring be full, it waits
	 * (charged, placed exactly) for the next event on this CPU to send it.
	 */
	if (!one_slot)
		flush(st);
	return true;
}

static __always_inline __u64 task_count(const struct task_struct *t, __u8 what)
{
	if (what == PODPERF_TASK_FAULTS)
		return t->min_flt + t->maj_flt;
	return t->nvcsw + t->nivcsw;
}

/*
 * Adds what `t`, the owner of this CPU's bases, counted since they were taken to the CPU's
 * task sums. At a switch-out the kernel has already counted that switch in prev's nvcsw or
 * nivcsw, so a run ended by a switch counts it.
 */
static __always_inline void fold_task_counts(struct cpu_state *st, const struct task_struct *t)
{
	for (int i = 0; i < PODPERF_NR_COUNTERS; i++) {
		__u64 v;

		if (!cfg.task_count[i])
			continue;
		v = task_count(t, cfg.task_count[i]);
		st->task_sum[i] += v - st->task_base[i];
		st->task_base[i] = v;
	}
}

/* Makes `t`, just switched in (or first seen at a tick), the owner of this CPU's bases. */
static __always_inline void start_run(struct cpu_state *st, struct task_struct *t, __u64 now,
				      bool at_switch)
{
	st->cur_pid = t->pid;
	st->ts_base = now;
	st->sum_base = t->se.sum_exec_runtime;
	st->delay_base = t->sched_info.run_delay;
	for (int i = 0; i < PODPERF_NR_COUNTERS; i++)
		if (cfg.task_count[i])
			st->task_base[i] = task_count(t, cfg.task_count[i]);
	/* sched_info_arrive() runs after the tracepoint: a queued task is about to end a wait. */
	st->waited = at_switch && t->sched_info.last_queued != 0;
	st->unseen = 0;
}

/* SCHED_NORMAL, SCHED_BATCH and SCHED_IDLE: the fair class, which keeps prev_sum_exec_runtime. */
#define PODPERF_FAIR_POLICIES ((1u << 0) | (1u << 3) | (1u << 5))

/*
 * `t` runs on this CPU but the bases belong to another task: no switch showed t's run begin.
 * The tracepoint can miss a switch (this project's test VMs never show the switch-out of their
 * own agent's threads, so the task after one runs unannounced). The scheduler still knows the
 * run: the fair class set se.prev_sum_exec_runtime to se.sum_exec_runtime when it picked t, so
 * the bases are set as if the run had been seen to begin then, at most back to this CPU's last
 * event. Its counters and run-queue wait are unknown: the run's record says so (UNSEEN) rather
 * than charge them what another task counted. Other classes leave that field stale: their run
 * is charged from now on. A subprogram, not inlined: inside the switch's body this rare path
 * cost every switch 9-28 ns (BENCHMARKS.md, twelfth pass).
 */
static __noinline int resume_unseen(struct cpu_state *st, struct task_struct *t, __u64 now)
{
	__u64 sum = t->se.sum_exec_runtime, ran = 0, since = 0;

	if (now > st->ts_base)
		since = now - st->ts_base;
	if ((1u << (t->policy & 31)) & PODPERF_FAIR_POLICIES) {
		ran = sum - t->se.prev_sum_exec_runtime;
		if (ran > since)
			ran = since;
	}
	stat_add(PODPERF_STAT_UNSEEN, 1);
	/* bases as at a switch-in `ran` ago, but t's counts and wait before now are unknown */
	start_run(st, t, now - ran, false);
	st->sum_base = sum - ran;
	st->unseen = 1;
	return 0;
}

/* How often, in ns of rq clock, a CPU measures its rq->clock offset again (switch_clock). */
#define PODPERF_CLOCK_RESYNC_NS 1000000ULL

/*
 * The time of a switch, on CLOCK_MONOTONIC. __schedule() read the clock for this very switch
 * (update_rq_clock(), before the tracepoint): the switch takes that reading, this CPU's
 * rq->clock, plus its offset to CLOCK_MONOTONIC, measured with one bpf_ktime_get_ns() per
 * PODPERF_CLOCK_RESYNC_NS. On a kvm-clock guest the helper was two thirds of what a switch cost
 * (BENCHMARKS.md, eleventh pass). Both clocks run from one clock source and their offset moves
 * slowly (here 0.1-1.4 ms from one run to another, the two CPUs 90 us apart), so a switch is
 * placed within their drift over a ms. Not se.exec_start (rq_clock_task): it leaves out steal and IRQ time, and would fall
 * behind by them. `t` is a task of this CPU's run queue; a kernel without FAIR_GROUP_SCHED has
 * no cfs_rq->rq, and a fault reads 0: both read ktime at every switch.
 */
static __always_inline __u64 switch_clock(struct cpu_state *st, struct task_struct *t)
{
	__u64 c, now;

	if (!bpf_core_field_exists(((struct cfs_rq *)0)->rq))
		return bpf_ktime_get_ns();
	c = t->se.cfs_rq->rq->clock;
	if (c && st->clk_at && c - st->clk_at < PODPERF_CLOCK_RESYNC_NS)
		return c + st->clk_off;
	now = bpf_ktime_get_ns();
	st->clk_off = now - c;
	st->clk_at = c;
	return now;
}

static __always_inline struct cpu_state *cpu_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_states, &zero);
}

/*
 * The tick: charges the running task what the scheduler charged it since the last record,
 * i.e. up to its last update_curr() (the scheduler tick, HZ, or a wake-up check). That charge
 * is placed right after the previous one at one ns per ns, [ts_base, ts_base + charge]: the
 * scheduler has been running this task since ts_base. Nothing is emitted when it charged
 * nothing since: the next record takes it all.
 */
SEC("perf_event")
int on_tick(struct bpf_perf_event_data *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct cpu_state *st = cpu_state();
	__u64 now, end, sum, delay;

	if (cfg.noop)
		return 0;
	if (!st || t->pid == 0 || st->flushing)
		return 0;
	if (!st->ts_base) {
		/* First sight of this CPU's runs (just attached): bases only, counters included. */
		start_run(st, t, bpf_ktime_get_ns(), false);
		if (!st->held)
			drop_counters(st);
		return 0;
	}
	if (__builtin_expect(st->cur_pid != t->pid, 0))
		resume_unseen(st, t, bpf_ktime_get_ns());
	/* With HZ under 1000 most ticks find nothing charged since the last: no helper call then. */
	sum = t->se.sum_exec_runtime;
	if (sum == st->sum_base)
		return 0;
	now = bpf_ktime_get_ns();
	end = st->ts_base + (sum - st->sum_base);
	if (end > now)
		end = now;
	delay = t->sched_info.run_delay;
	fold_task_counts(st, t);
	/* Ring full: the bases stay, so the task's next record (it is still running) takes it. */
	if (!charge(st, t, end, sum - st->sum_base, delay - st->delay_base, 0, NULL))
		return 0;
	st->sum_base = sum;
	st->delay_base = delay;
	st->ts_base = end;
	return 0;
}

/*
 * The switch: the tracepoint fires after prev's update_curr(), so prev->se.sum_exec_runtime is
 * final for this run, and before context_switch(), so current (and its cgroup) is still prev.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct cpu_state *st = cpu_state();
	struct owed *o;
	__u64 now, cpu_ns, runq_ns;

	if (cfg.noop)
		return 0;
	if (!st)
		return 0;
	if (cfg.hide_tgid && prev->tgid == cfg.hide_tgid)
		return 0;
	now = switch_clock(st, prev->pid ? prev : next);
	if (prev->pid != 0 && st->ts_base) {
		if (__builtin_expect(st->cur_pid != prev->pid, 0))
			resume_unseen(st, prev, now);
		cpu_ns = prev->se.sum_exec_runtime - st->sum_base;
		runq_ns = prev->sched_info.run_delay - st->delay_base;
		o = any_owed ? bpf_task_storage_get(&owed_by_task, prev, 0, 0) : NULL;
		fold_task_counts(st, prev);
		if (!charge(st, prev, now, cpu_ns, runq_ns, PODPERF_FLAG_SWITCH, o)) {
			/* The bases move to next: what prev was charged waits in its own storage. */
			o = bpf_task_storage_get(&owed_by_task, prev, 0,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);
			any_owed = 1;
			if (o) {
				o->cpu_ns += cpu_ns;
				o->runq_ns += runq_ns;
				o->waits += st->waited;
			}
			st->waited = 0;
		}
	} else if (!st->held) {
		drop_counters(st); /* idle's (or, just attached, an unknown run's) counter stretch ends */
	}
	/*
	 * Nothing will be merged while the CPU drains: the held runs go out now (a full ring keeps
	 * them for the next event). A CPU turning idle keeps them, to add the runs that end its
	 * idle in the same slot (a pipe pair idles between most of its runs): the drain sends them
	 * once their slot has ended (flush_ended), since an idle CPU has no tick to do it.
	 */
	if (st->pending.count && next->tgid == cfg.exclude_tgid)
		flush(st);
	start_run(st, next, now, true);
	return 0;
}

/*
 * Run by the drain on each CPU that holds runs (BPF_PROG_TEST_RUN with BPF_F_TEST_RUN_ON_CPU:
 * an IPI, or inline with preemption off on the drain's own CPU) before it reads the ring: held
 * runs of a slot that has ended go out, so a CPU that went idle holding them sends them by the
 * next drain. The switch cannot interleave (it runs with interrupts off); the tick can, inline,
 * so it stays out while `flushing` is set.
 */
SEC("raw_tp")
int flush_ended(void *ctx)
{
	struct cpu_state *st = cpu_state();
	struct podperf_pending *p;

	if (!st)
		return 0;
	p = &st->pending;
	if (!p->count)
		return 0;
	if (p->slot != PODPERF_NO_SLOT && cfg.interval_ns &&
	    bpf_ktime_get_ns() / cfg.interval_ns == p->slot)
		return 0;
	st->flushing = 1;
	flush(st);
	st->flushing = 0;
	return 0;
}
