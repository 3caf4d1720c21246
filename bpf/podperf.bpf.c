// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podperf kernel side: every cpu-clock tick (default 1 ms) and every context switch close the
 * current "stretch" on this CPU and emit one struct podperf_record for the task that ran it,
 * with the deltas of the CPU-wide counters installed in the per-slot PERF_EVENT_ARRAYs.
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

/* One array per counter slot, indexed by CPU; libbpf sizes them to the possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} counter_cycles SEC(".maps"), counter_instructions SEC(".maps"), counter_llc_misses SEC(".maps"),
	counter_page_faults SEC(".maps"), counter_context_switches SEC(".maps");

struct slot_state {
	__u64 counter;
	__u64 enabled;
	__u64 running;
};

struct cpu_state {
	__u64 last_ts;  /* 0 until the first run on this CPU */
	__u64 carry_ns; /* time of stretches whose record could not be reserved */
	struct slot_state slot[PODPERF_NR_COUNTERS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_state);
} cpu_states SEC(".maps");

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

static __always_inline void stat_add(__u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &key);

	if (v)
		*v += n;
}

/*
 * Reads slot i and, when a record is being filled (r != NULL), stores the delta since the last
 * commit. The new raw values go to *next; the caller commits them only if the record was
 * emitted, so after a reserve failure the delta carries into the next record.
 */
static __always_inline void read_slot(void *map, int i, struct cpu_state *st,
				      struct slot_state *next, struct podperf_record *r)
{
	struct bpf_perf_event_value v;
	struct slot_state *last = &st->slot[i];
	__u64 dc, de, dr;

	if (!(cfg.counter_mask & (1u << i)))
		return;
	if (bpf_perf_event_read_value(map, BPF_F_CURRENT_CPU, &v, sizeof(v))) {
		stat_add(PODPERF_STAT_READ_ERRORS, 1);
		next->counter = last->counter;
		next->enabled = last->enabled;
		next->running = last->running;
		return;
	}
	next->counter = v.counter;
	next->enabled = v.enabled;
	next->running = v.running;
	/* No baseline yet, or the event never ran in the stretch: the delta is unknown. */
	if (!r || last->enabled == 0)
		return;
	dc = v.counter - last->counter;
	de = v.enabled - last->enabled;
	dr = v.running - last->running;
	if (dr < de) {
		if (dr == 0)
			return;
		/* Multiplexed: extrapolate like perf does, dividing first if dc*de could overflow. */
		if (dc < (1ULL << 32) && de < (1ULL << 32))
			dc = dc * de / dr;
		else
			dc = dc / dr * de;
		r->flags |= PODPERF_FLAG_SCALED(i);
	}
	r->counters[i] = dc;
	r->flags |= PODPERF_FLAG_VALID(i);
}

/*
 * Closes the stretch on this CPU, charging it to (pid, tgid, comm) of the task that ran it.
 * `comm` must be a NUL-padded 16-byte buffer: all of it is copied, because reserved ring
 * space is not zeroed and bytes after the NUL would otherwise hold an older record's data.
 */
static __always_inline void close_stretch(__u32 pid, __u32 tgid, const char *comm, __u32 flags)
{
	struct slot_state next[PODPERF_NR_COUNTERS] = {};
	struct podperf_record *r = NULL;
	struct cpu_state *st;
	__u32 zero = 0;
	__u64 now, dt;
	int i;

	st = bpf_map_lookup_elem(&cpu_states, &zero);
	if (!st)
		return;
	now = bpf_ktime_get_ns();
	dt = st->last_ts ? now - st->last_ts : 0;

	/* The idle task and the collector are not recorded, but their stretch still ends here. */
	if (st->last_ts && pid != 0) {
		if (tgid == cfg.exclude_tgid) {
			stat_add(PODPERF_STAT_SELF_NS, dt);
		} else {
			r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
			if (!r) {
				/*
				 * Ring full: the next record on this CPU carries this stretch (time
				 * via carry_ns, counters by keeping the last_* baseline), so only
				 * granularity is lost, even if idle or the collector runs in between.
				 */
				stat_add(PODPERF_STAT_LOST, 1);
				st->carry_ns += dt;
				st->last_ts = now;
				return;
			}
			r->ts_ns = now;
			r->cgroup_id = bpf_get_current_cgroup_id();
			r->cpu_ns = dt + st->carry_ns;
			st->carry_ns = 0;
			r->pid = pid;
			r->tgid = tgid;
			r->cpu = bpf_get_smp_processor_id();
			r->flags = flags;
			for (i = 0; i < PODPERF_NR_COUNTERS; i++)
				r->counters[i] = 0;
			__builtin_memcpy(r->comm, comm, sizeof(r->comm));
		}
	}

	/* Counters keep their baseline across idle/collector stretches while a carry is pending. */
	if (!r && st->carry_ns) {
		st->last_ts = now;
		return;
	}
	read_slot(&counter_cycles, PODPERF_CYCLES, st, &next[0], r);
	read_slot(&counter_instructions, PODPERF_INSTRUCTIONS, st, &next[1], r);
	read_slot(&counter_llc_misses, PODPERF_LLC_MISSES, st, &next[2], r);
	read_slot(&counter_page_faults, PODPERF_PAGE_FAULTS, st, &next[3], r);
	read_slot(&counter_context_switches, PODPERF_CONTEXT_SWITCHES, st, &next[4], r);

	if (r)
		bpf_ringbuf_submit(r, 0);
	st->last_ts = now;
	for (i = 0; i < PODPERF_NR_COUNTERS; i++)
		st->slot[i] = next[i];
}

/* The tick: charges the interrupted task. */
SEC("perf_event")
int on_tick(struct bpf_perf_event_data *ctx)
{
	char comm[PODPERF_COMM_LEN]; /* bpf_get_current_comm pads it with NULs */
	__u64 id = bpf_get_current_pid_tgid();

	bpf_get_current_comm(comm, sizeof(comm));
	close_stretch((__u32)id, id >> 32, comm, 0);
	return 0;
}

/*
 * The switch: charges the outgoing task. The tracepoint fires before context_switch(), so
 * current is still prev and bpf_get_current_cgroup_id() is prev's cgroup.
 */
SEC("raw_tp/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	/* Zeroed: the string read stops at the NUL and leaves the rest as it was. */
	char comm[PODPERF_COMM_LEN] = {};

	BPF_CORE_READ_STR_INTO(&comm, prev, comm);
	close_stretch(BPF_CORE_READ(prev, pid), BPF_CORE_READ(prev, tgid), comm,
		      PODPERF_FLAG_SWITCH);
	return 0;
}
