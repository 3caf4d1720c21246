import assert from "@podperf/assert";
import type { SlotRow } from "../../lib/aggregate/mod.ts";
import { type MetaLookup, SlotJoiner } from "../../lib/collect/join.ts";
import { MetadataResolver, MetadataStore, type PodMeta } from "../../lib/metadata/mod.ts";

function slotRow(monoNs: bigint, cgroupId: bigint, cpuNs: number, cycles: number | null = null) {
  return {
    monoNs,
    tgid: 100,
    comm: "app",
    cgroupId,
    cpuNs,
    cycles,
    instructions: null,
    llcMisses: null,
    pageFaults: 0,
    contextSwitches: 1,
    runqDelayNs: 0,
    runqWaits: 0,
    carried: false,
    scaled: false,
    records: 1,
  } satisfies SlotRow;
}

function storeWith(cgroupId: bigint): MetadataStore {
  const store = new MetadataStore();
  store.upsert({
    containerId: "c1",
    podName: "web-1",
    podNamespace: "shop",
    podUid: "uid-1",
    containerName: "app",
    image: "busybox",
    sandbox: false,
    podId: "p1",
    cgroupsPath: null,
    labels: {},
    annotations: {},
    cgroupId,
  });
  return store;
}

Deno.test("rows of a known cgroup carry the pod columns and source; others are NULL", () => {
  const joiner = new SlotJoiner(new MetadataResolver({ store: storeWith(42n) }));
  const [known, unknown] = joiner.join([slotRow(0n, 42n, 600), slotRow(0n, 7n, 400)]);
  assert.equal(known.podName, "web-1");
  assert.equal(known.podNamespace, "shop");
  assert.equal(known.podUid, "uid-1");
  assert.equal(known.containerName, "app");
  assert.equal(known.containerId, "c1");
  assert.equal(known.metaSource, "nri");
  assert.equal(known.cpuNs, 600);
  assert.deepEqual(
    [unknown.podName, unknown.containerId, unknown.metaSource],
    [null, null, null],
  );
  assert.deepEqual(joiner.coverage, {
    knownCpuNs: 600,
    unknownCpuNs: 400,
    knownCycles: 0,
    unknownCycles: 0,
  });
});

Deno.test("the lookup runs once per cgroup per call, not per row or per slot", () => {
  const calls: bigint[] = [];
  const lookup: MetaLookup = {
    resolve(id) {
      calls.push(id);
      return null;
    },
  };
  const joiner = new SlotJoiner(lookup);
  const rows = [
    slotRow(0n, 1n, 1),
    { ...slotRow(0n, 1n, 1), tgid: 101 },
    slotRow(0n, 2n, 1),
    slotRow(1_000_000n, 1n, 1),
    { ...slotRow(1_000_000n, 1n, 1), tgid: 102 },
  ];
  joiner.join(rows.slice(0, 3));
  joiner.join(rows.slice(3));
  assert.deepEqual(calls, [1n, 2n, 1n]);
  // one call holding two slots (a drain holds hundreds) asks once per cgroup
  calls.length = 0;
  joiner.join(rows);
  assert.deepEqual(calls, [1n, 2n]);
});

Deno.test("metadata that appears mid-run applies from the next slot on", () => {
  let meta: PodMeta | null = null;
  const joiner = new SlotJoiner({ resolve: () => meta });
  const [a] = joiner.join([slotRow(0n, 5n, 10, 100)]);
  meta = {
    podName: "late",
    podNamespace: "ns",
    podUid: "u",
    containerName: "c",
    containerId: "id",
    image: null,
    source: "oci",
  };
  const [b] = joiner.join([slotRow(1_000_000n, 5n, 10, 50)]);
  assert.equal(a.podName, null);
  assert.equal(b.podName, "late");
  assert.equal(b.metaSource, "oci");
  assert.equal(joiner.coverage.knownCycles, 50);
  assert.equal(joiner.coverage.unknownCycles, 100);
});
