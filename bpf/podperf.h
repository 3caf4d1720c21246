/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record and config shared by the BPF side (podperf.bpf.c) and the TypeScript side
 * (lib/sampler/record.ts). This header is the single source of truth for the layout;
 * tests/sampler/record_test.ts checks the TypeScript constants against the object's BTF.
 *
 * Counters are not named here: lib/sampler/counter_table.ts lists them, and the BPF side reads
 * slot i of every CPU from one PERF_EVENT_ARRAY at index i * nr_cpus + cpu. A new counter is
 * one entry there plus PODPERF_NR_COUNTERS here.
 */
#ifndef __PODPERF_H
#define __PODPERF_H

#define PODPERF_NR_COUNTERS 5
#define PODPERF_COMM_LEN 16

/*
 * flags: bit i = counter i valid; bit 8+i = counter i scaled; bit 16 = ended at a switch;
 * bit 17 = absorbed a stretch whose record could not be reserved; bit 18 = the sum of several
 * runs that all lay, with their run-queue waits, inside one slot: every value belongs to the
 * slot holding ts_ns - span_ns (span_ns and runq_ns no longer place anything); bit 19 = the
 * run began unseen (no switch showed it start): cpu_ns is the scheduler's for the run, its
 * counters are unknown (never valid) and its run-queue wait is not counted.
 */
#define PODPERF_FLAG_VALID(i) (1u << (i))
#define PODPERF_FLAG_SCALED(i) (1u << (8 + (i)))
#define PODPERF_FLAG_SWITCH (1u << 16)
#define PODPERF_FLAG_CARRIED (1u << 17)
#define PODPERF_FLAG_ONE_SLOT (1u << 18)
#define PODPERF_FLAG_UNSEEN (1u << 19)

/*
 * Runs a CPU holds back to merge per slot (one entry per (tgid, cgroup)): a task switching
 * with a few others tens of times a millisecond then costs one record per slot each, not one
 * per switch.
 */
#define PODPERF_PENDING 8 /* a power of two: indexes are masked with it for the verifier */

/* Slots of the per-CPU stats array read by userspace. */
enum podperf_stat {
	PODPERF_STAT_LOST = 0,        /* ring buffer reserve failures */
	PODPERF_STAT_READ_ERRORS = 1, /* bpf_perf_event_read_value failures on an opened slot */
	PODPERF_STAT_SELF_NS = 2,     /* cpu ns of the collector itself (filtered out) */
	PODPERF_STAT_UNSEEN = 3,      /* runs found on a CPU with no switch that began them */
	PODPERF_STAT_MAX = 4,
};

/*
 * CPU time the scheduler charged one process on one CPU (cpu_ns, from se.sum_exec_runtime),
 * placed in CLOCK_MONOTONIC time over [ts_ns - span_ns, ts_ns]. runq_ns is the run-queue wait
 * (sched_info.run_delay) that ended where that span begins, over `waits` waits. `runs` is the
 * number of runs (ended by a switch or a tick) summed here: more than one only with
 * PODPERF_FLAG_ONE_SLOT. 120 bytes, no padding.
 */
struct podperf_record {
	__u64 ts_ns;
	__u64 cgroup_id;
	__u64 cpu_ns;
	__u64 span_ns;
	__u64 runq_ns;
	__u64 counters[PODPERF_NR_COUNTERS];
	__u32 pid;
	__u32 tgid;
	__u32 cpu;
	__u32 flags;
	__u32 waits;
	__u32 runs;
	char comm[PODPERF_COMM_LEN]; /* the thread-group leader's name */
};

/*
 * The runs a CPU holds back, all in slot `slot` (when count > 0): the first member of its
 * per-CPU state, so userspace reads what is left in it after detaching.
 */
struct podperf_pending {
	__u64 slot;
	__u32 count;
	__u32 pad;
	struct podperf_record rec[PODPERF_PENDING];
};

/*
 * A counter slot may read a count the kernel keeps per task instead of a perf event
 * (podperf_config.task_count): a few loads at each switch and tick in place of a
 * bpf_perf_event_read_value call (~65 ns each), and the number /proc/PID/stat, getrusage and
 * /proc/PID/status report for that task.
 */
#define PODPERF_TASK_FAULTS 1   /* min_flt + maj_flt: page faults */
#define PODPERF_TASK_SWITCHES 2 /* nvcsw + nivcsw: context switches */

/* Tunables written into .rodata before load (see lib/sampler/loader.ts). */
struct podperf_config {
	__u32 exclude_tgid; /* the collector: draining must not feed itself */
	__u32 counter_mask; /* bit i = counter slot i counts (a perf event or a task count) */
	__u32 nr_cpus;      /* stride of the counters map: slot i of CPU c is at i * nr_cpus + c */
	__u32 wake_bytes;   /* wake the drain when this much is waiting (0: on every record) */
	__u64 interval_ns;  /* slot length: runs inside one slot are merged per process */
	__u8 task_count[8]; /* slot i: PODPERF_TASK_*, or 0 to read its perf event */
	/*
	 * Benchmarks only: the tick and the switch return at once, so bpf_stats shows the floor it
	 * reads on these hooks for a program doing nothing (its own clock reads, a cold entry).
	 * Frozen in .rodata, so the verifier drops the branch from a normal load.
	 */
	__u32 noop;
	/*
	 * Tests only: the switch ignores every switch away from a thread of this process, as this
	 * project's test VMs do for their agent's threads (resume_unseen()). Frozen like noop.
	 */
	__u32 hide_tgid;
};

_Static_assert(PODPERF_NR_COUNTERS <= 8, "flags and task_count hold 8 counter slots");

/*
 * floor(count * enabled / running) for running > enabled, without overflow or the truncation
 * of (count / running) * enabled: count = q * running + r, and r * enabled / running is done in
 * 128 bits by shift-and-subtract when the product does not fit 64 bits. Shared with a host test.
 */
static inline __u64 podperf_scale(__u64 count, __u64 enabled, __u64 running)
{
	__u64 q = count / running, r = count % running;
	__u64 hi, lo, a_lo, a_hi, b_lo, b_hi, mid1, mid2, quot = 0, rem = 0;
	int i;

	if (r == 0)
		return q * enabled;
	if (r < (1ULL << 32) && enabled < (1ULL << 32))
		return q * enabled + r * enabled / running;
	/* 128-bit product r * enabled = hi:lo from 32-bit halves. */
	a_lo = r & 0xffffffffULL;
	a_hi = r >> 32;
	b_lo = enabled & 0xffffffffULL;
	b_hi = enabled >> 32;
	lo = a_lo * b_lo;
	mid1 = a_hi * b_lo;
	mid2 = a_lo * b_hi;
	hi = a_hi * b_hi + (mid1 >> 32) + (mid2 >> 32);
	mid1 <<= 32;
	lo += mid1;
	hi += lo < mid1;
	mid2 <<= 32;
	lo += mid2;
	hi += lo < mid2;
	/* hi < running because r < running: the quotient fits 64 bits. */
	rem = hi;
	for (i = 63; i >= 0; i--) {
		__u64 top = rem >> 63;

		rem = (rem << 1) | ((lo >> i) & 1);
		if (top || rem >= running) {
			rem -= running;
			quot |= 1ULL << i;
		}
	}
	return q * enabled + quot;
}

#endif /* __PODPERF_H */
