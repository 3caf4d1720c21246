import assert from "@podperf/assert";
import { hostUnitMeta, isHostUnitMeta, parseHostUnit } from "../../lib/metadata/host_unit.ts";
import { CgroupPathIndex } from "../../lib/metadata/cgroup_path.ts";
import { detectCgroup2Mount } from "../../lib/metadata/cgroup_dir.ts";
import { MetadataResolver } from "../../lib/metadata/resolver.ts";
import { SlotJoiner } from "../../lib/collect/join.ts";

Deno.test("host unit: the innermost service or scope of a path names it", () => {
  const cases: [string, string | null][] = [
    ["/system.slice/kubelet.service", "kubelet.service"],
    ["/system.slice/containerd.service", "containerd.service"],
    ["/system.slice/containerd.service/sub", "containerd.service"],
    ["/init.scope", "init.scope"],
    ["/user.slice/user-0.slice/session-3.scope", "session-3.scope"],
    ["/user.slice/user-1000.slice/user@1000.service/app.slice/x.service", "x.service"],
    ["/system.slice/systemd-journald.service", "systemd-journald.service"],
    ["/system.slice", null],
    ["/kubepods/burstable", null],
    ["/kubepods.slice/kubepods-besteffort.slice", null],
    ["/", null],
    ["", null],
  ];
  for (const [path, unit] of cases) assert.equal(parseHostUnit(path), unit, path);
});

Deno.test("host unit: its metadata carries the unit as container_name and no pod", () => {
  const m = hostUnitMeta("kubelet.service");
  assert.deepEqual(
    [m.containerName, m.podName, m.podUid, m.containerId, m.source],
    ["kubelet.service", null, null, null, "cgroup-path"],
  );
  assert.ok(isHostUnitMeta(m));
  assert.ok(!isHostUnitMeta({ ...m, podUid: "u1" }));
  assert.ok(!isHostUnitMeta({ ...m, containerId: "c1" }));
  assert.ok(!isHostUnitMeta({ ...m, containerName: null }));
});

Deno.test("host unit: a real service cgroup resolves to its unit and does not count as a pod", async () => {
  const root = detectCgroup2Mount();
  assert.ok(root, "cgroup2 is mounted");
  const tag = crypto.randomUUID().slice(0, 8);
  const slice = `${root}/podperf-test-${tag}.slice`;
  const dir = `${slice}/unit-${tag}.service`;
  Deno.mkdirSync(dir, { recursive: true });
  try {
    const ino = BigInt(Deno.statSync(dir).ino!);
    const paths = new CgroupPathIndex({ root });
    await paths.refresh();
    const r = new MetadataResolver({ paths });
    const meta = r.resolve(ino);
    assert.equal(meta?.containerName, `unit-${tag}.service`);
    assert.equal(meta?.source, "cgroup-path");
    // the slice alone is no unit: unknown
    assert.equal(r.resolve(BigInt(Deno.statSync(slice).ino!)), null);
    // the join writes the unit into the row, but coverage counts it as outside pods
    const j = new SlotJoiner(r);
    const [row] = j.join([{
      monoNs: 0n,
      tgid: 1,
      comm: "svc",
      cgroupId: ino,
      cpuNs: 500,
      cycles: null,
      instructions: null,
      llcMisses: null,
      pageFaults: null,
      contextSwitches: null,
      runqDelayNs: 0,
      runqWaits: 0,
      carried: false,
      scaled: false,
      records: 1,
    }]);
    assert.equal(row.containerName, `unit-${tag}.service`);
    assert.equal(row.metaSource, "cgroup-path");
    assert.deepEqual([j.coverage.knownCpuNs, j.coverage.unknownCpuNs], [0, 500]);
    r.close();
  } finally {
    Deno.removeSync(dir);
    Deno.removeSync(slice);
  }
});
