/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record and config shared by the BPF side (podperf.bpf.c) and the TypeScript side
 * (lib/sampler/record.ts). This header is the single source of truth for the layout;
 * tests/sampler/record_test.ts checks the TypeScript constants against the object's BTF.
 */
#ifndef __PODPERF_H
#define __PODPERF_H

#define PODPERF_NR_COUNTERS 5
#define PODPERF_COMM_LEN 16

/* Counter slots, in record order. 0-2 are hardware events, 3-4 software. */
enum podperf_counter {
	PODPERF_CYCLES = 0,
	PODPERF_INSTRUCTIONS = 1,
	PODPERF_LLC_MISSES = 2,
	PODPERF_PAGE_FAULTS = 3,
	PODPERF_CONTEXT_SWITCHES = 4,
};

/* flags: bit i = counter i valid; bit 8+i = counter i scaled; bit 16 = ended at a switch. */
#define PODPERF_FLAG_VALID(i) (1u << (i))
#define PODPERF_FLAG_SCALED(i) (1u << (8 + (i)))
#define PODPERF_FLAG_SWITCH (1u << 16)

/* Slots of the per-CPU stats array read by userspace. */
enum podperf_stat {
	PODPERF_STAT_LOST = 0,        /* ring buffer reserve failures */
	PODPERF_STAT_READ_ERRORS = 1, /* bpf_perf_event_read_value failures on an opened slot */
	PODPERF_STAT_SELF_NS = 2,     /* cpu ns of the collector itself (filtered out) */
	PODPERF_STAT_MAX = 3,
};

/* One stretch of time a task spent on one CPU, ending at ts_ns. 96 bytes, no padding. */
struct podperf_record {
	__u64 ts_ns;
	__u64 cgroup_id;
	__u64 cpu_ns;
	__u64 counters[PODPERF_NR_COUNTERS];
	__u32 pid;
	__u32 tgid;
	__u32 cpu;
	__u32 flags;
	char comm[PODPERF_COMM_LEN];
};

/* Tunables written into .rodata before load (see lib/sampler/loader.ts). */
struct podperf_config {
	__u32 exclude_tgid; /* the collector: draining must not feed itself */
	__u32 counter_mask; /* bit i = counter slot i has perf events installed */
};

#endif /* __PODPERF_H */
