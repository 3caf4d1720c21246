/**
 * The node tier (`deno task test:node`, issue 16): podperf on the node most clusters run —
 * systemd as PID 1, pure cgroup v2, containerd with `SystemdCgroup = true` and NRI, Debian 12's
 * 6.1 cloud kernel — booted in qemu (TCG: KVM is unusable on these machines). The guest half
 * (tests/node/guest/run.ts) makes the pods and runs podperf; this half builds or reuses the
 * cached image, boots it, and judges what came back: the guest's facts and Parquet files,
 * read here by DuckDB.
 *
 * Not named *_test.ts on purpose: `deno task test` must not boot a VM; the task names this file.
 * Skips with one line when qemu-system-x86_64 cannot run or the user is not root.
 */
import assert from "@podperf/assert";
import { existsSync, readFileSync } from "node:fs";
import { ensureRuntimeFetched } from "../harness/runtime_files.ts";
import { sandboxImageTarball } from "../harness/sandbox_image.ts";
import { queryParquet, sqlString } from "../helpers/duckdb.ts";
import type { GuestContainer, GuestPod, GuestReport } from "./guest/report.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
// TCG on a shared 2-core machine: boot 1-2 min, the guest test 3-8 min; 25 min is the ceiling.
const VM_TIMEOUT_S = 1500;
// The issue's bound between the file's cpu_ns and the kernel's accounting.
const CPU_TOLERANCE = 0.05;

function run(cmd: string, args: string[]): { code: number; stdout: string; out: string } {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const dec = new TextDecoder();
    const stdout = dec.decode(o.stdout);
    return { code: o.code, stdout, out: stdout + dec.decode(o.stderr) };
  } catch (e) {
    return { code: 127, stdout: "", out: String(e) };
  }
}

/** Why this tier cannot run here, or null when it can. */
function skipReason(): string | null {
  if (Deno.uid() !== 0) return "not root (debootstrap and the image build need root)";
  const v = run("qemu-system-x86_64", ["-accel", "help"]);
  if (v.code !== 0) {
    return `qemu-system-x86_64 cannot run (${v.out.trim().split("\n")[0]}); ` +
      "bash scripts/node_vm/setup.sh installs it";
  }
  if (!/\btcg\b/.test(v.out)) return "qemu-system-x86_64 has no TCG accelerator";
  if (run("debootstrap", ["--version"]).code !== 0 && !existsSync(`${ROOT}/.cache/node_vm`)) {
    return "debootstrap is missing; bash scripts/node_vm/setup.sh installs it";
  }
  return null;
}

const skip = skipReason();
if (skip) console.log(`node tier skipped: ${skip}`);

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(0)} s`;
}

/** Builds (or finds) the image, boots it, and returns what the guest wrote. */
async function bootGuest(): Promise<{ dir: string; report: GuestReport; console: string }> {
  // Judges the results of an earlier boot again without booting (to debug the judging).
  const again = Deno.env.get("PODPERF_NODE_RESULTS");
  if (again) {
    const report = JSON.parse(readFileSync(`${again}/guest.json`, "utf8")) as GuestReport;
    return { dir: again, report, console: readFileSync(`${again}/console.log`, "utf8") };
  }
  const t0 = Date.now();
  const cached = run("bash", [`${ROOT}/scripts/node_vm/build_image.sh`]);
  if (cached.code !== 0) throw new Error(`image build failed:\n${cached.out.slice(-3000)}`);
  // the script's last line is the image directory (tools it runs may print above it)
  const img = cached.stdout.trim().split("\n").at(-1) ?? "";
  const tBuilt = Date.now();
  // The guest cannot fetch or build anything: the runtime and busybox image must be in .cache.
  await ensureRuntimeFetched();
  await sandboxImageTarball();
  const dir = await Deno.makeTempDir({ prefix: "podperf-node-tier-" });
  const vm = run("bash", [
    `${ROOT}/scripts/node_vm/run_vm.sh`,
    `${ROOT}/${img}`,
    dir,
    String(VM_TIMEOUT_S),
  ]);
  const tDone = Date.now();
  const consoleLog = existsSync(`${dir}/console.log`)
    ? readFileSync(`${dir}/console.log`, "utf8")
    : "";
  const tail = `${vm.out.trim()}\n${consoleLog.split("\n").slice(-40).join("\n")}`;
  assert.notEqual(vm.code, 124, `the VM did not power off within ${VM_TIMEOUT_S} s:\n${tail}`);
  assert.ok(
    existsSync(`${dir}/guest.json`),
    `the guest wrote no results (qemu ${vm.code}):\n${tail}`,
  );
  const report = JSON.parse(readFileSync(`${dir}/guest.json`, "utf8")) as GuestReport;
  const up = /guest: up ([\d.]+) s after boot/.exec(consoleLog)?.[1];
  console.log(
    `node tier: image ${/cached:/.test(cached.out) ? "cached" : "built"} in ` +
      `${seconds(tBuilt - t0)}, VM ${seconds(tDone - tBuilt)} (guest test started ` +
      `${up ?? "?"} s after boot, ran ${seconds(report.timings.end ?? 0)}), ` +
      `total ${seconds(tDone - t0)}; results in ${dir}`,
  );
  return { dir, report, console: consoleLog };
}

function busyContainers(pods: GuestPod[]): { pod: GuestPod; c: GuestContainer }[] {
  return pods.flatMap((pod) => pod.containers.filter((c) => c.busy).map((c) => ({ pod, c })));
}

Deno.test({
  name: "node tier: systemd + pure cgroup v2 + containerd's systemd driver + 6.1 kernel",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const { dir, report } = await bootGuest();
    const facts = report.facts;
    const evidence = `guest error: ${report.error ?? "none"}; see ${dir}/guest.log`;

    await t.step("the guest is the node we mean", () => {
      console.log(`  /proc/self/cgroup: ${JSON.stringify(facts.procSelfCgroup)}`);
      console.log(`  kernel: ${facts.kernel} (${facts.version ?? "?"}), BTF ${facts.btf}`);
      assert.equal(facts.pid1, "systemd");
      assert.match(facts.procSelfCgroup, /^0::\/[^\n]*\n$/, "one 0:: line: pure cgroup v2");
      assert.equal(facts.cgroupMountType, "cgroup2fs");
      assert.match(facts.kernel, /^6\.1\.0-\d+-cloud-amd64$/);
      assert.equal(facts.btf, true);
    });

    await t.step("containerd runs with the systemd cgroup driver and NRI", () => {
      assert.equal(report.error, undefined, evidence);
      const log = readFileSync(`${dir}/containerd.log`, "utf8");
      // The CRI plugin's config dump at start: the runc runtime's options.
      const driver = /Options:map\[[^\]]*SystemdCgroup:(true|false)/.exec(log)?.[1];
      console.log(
        `  containerd ${(facts.containerd as { runtimeVersion?: string })?.runtimeVersion}, ` +
          `runc SystemdCgroup=${driver}, ${facts.containerdUnitCgroup}`,
      );
      assert.equal(driver, "true");
      assert.ok(report.pods && report.pods.length === 3, evidence);
      for (
        const { pod, c } of report.pods.flatMap((pod) => pod.containers.map((c) => ({ pod, c })))
      ) {
        const slice = pod.cgroupParent;
        const qosSlice = `kubepods-${pod.qos}.slice`;
        assert.equal(
          c.cgroupPath,
          `/kubepods.slice/${qosSlice}/${slice}/cri-containerd-${c.id}.scope`,
          `${pod.name}/${c.name} sits where runc's systemd driver puts it`,
        );
      }
    });

    const pods = report.pods ?? [];
    const busy = busyContainers(pods);

    await t.step("collect names every busy container's rows through NRI", async () => {
      const nri = report.nri!;
      const stderr = nri.stderr.join("\n");
      assert.equal(nri.code, 0, `${nri.error ?? ""}\n${stderr}`);
      assert.ok(nri.files.length > 0, "no Parquet file");
      const synced = nri.stderr.map((l) => JSON.parse(l)).find((l) => l.msg === "NRI synchronized");
      assert.ok(synced, `collect never synchronized with NRI:\n${stderr}`);
      const files = sqlString(`${dir}/nri/*.parquet`);
      const syncedMs = Date.parse(synced.ts);
      for (const { pod, c } of busy) {
        const label = `${pod.name}/${c.name}`;
        const groups = await queryParquet(`
          SELECT pod_name, pod_namespace, pod_uid, container_name, container_id, meta_source,
                 count(*) AS n, sum(cpu_ns) AS cpu, min(epoch_ms(ts)) AS first_ms,
                 max(epoch_ms(ts)) AS last_ms
          FROM read_parquet('${files}') WHERE cgroup_id = ${c.cgroupId} GROUP BY ALL`);
        const named = groups.filter((g) => g.pod_name !== null);
        console.log(
          `  ${label}: ${
            groups.map((g) => `${g.meta_source ?? "unnamed"} ${g.n} rows`).join(", ")
          }`,
        );
        for (const g of named) {
          assert.deepEqual(
            [g.pod_name, g.pod_namespace, g.pod_uid, g.container_name, g.container_id],
            [pod.name, pod.namespace, pod.uid, c.name, c.id],
            `${label}: a row names the wrong pod (${g.meta_source})`,
          );
        }
        const byNri = named.find((g) => g.meta_source === "nri");
        assert.ok(byNri, `${label}: no row named through NRI`);
        // After the plugin synchronized, and after a container's first row, no row of a pod
        // container may stay unnamed past a second: slots already closed, and a container started
        // later is named once NRI's events for it are handled (on real hardware the host e2e
        // bounds that at 100 ms after StartContainer; TCG runs 10-50x slower).
        const firstMs = Math.min(...groups.map((g) => Number(g.first_ms)));
        const since = Math.max(syncedMs, firstMs);
        const unnamed = groups.filter((g) => g.pod_name === null);
        for (const g of unnamed) {
          // which processes ran unnamed (the runtime's init before the container's own process,
          // or the container's process itself) says where a late name came from
          const comms = await queryParquet(`
            SELECT comm, count(*) AS n FROM read_parquet('${files}')
            WHERE cgroup_id = ${c.cgroupId} AND pod_name IS NULL GROUP BY ALL ORDER BY 1`);
          console.log(
            `  ${label}: unnamed until ${Number(g.last_ms) - since} ms after ${
              since === syncedMs ? "NRI synchronized" : "its first row"
            } (${comms.map((r) => `${r.comm} ${r.n} rows`).join(", ")})`,
          );
        }
        const late = unnamed.filter((g) => Number(g.last_ms) > since + 1000);
        assert.deepEqual(late, [], `${label}: unnamed rows after NRI synchronized`);
      }
      const names = await queryParquet(
        `SELECT DISTINCT pod_name FROM read_parquet('${files}') WHERE pod_name IS NOT NULL
         ORDER BY 1`,
      );
      console.log(`  pod names in the guest's Parquet: ${names.map((r) => r.pod_name).join(", ")}`);
    });

    await t.step("podperf pods lists them", () => {
      const p = report.podsCommand!;
      assert.ok(p, evidence);
      assert.equal(p.code, 0, p.output);
      // `pods --json` prints one document on stdout: { nri, fallbacks, entries: [...] }. Its
      // warnings (a slow guest's OCI read timing out) are log lines on stderr, not part of it.
      const doc = JSON.parse(p.stdout) as {
        entries: Record<string, unknown>[];
      };
      const entries = doc.entries;
      for (const { pod, c } of pods.flatMap((pod) => pod.containers.map((c) => ({ pod, c })))) {
        const e = entries.find((e) => e.container_id === c.id);
        assert.ok(e, `pods has no entry for ${pod.name}/${c.name}:\n${p.output}`);
        assert.equal(e.pod_name, pod.name);
        assert.equal(e.source, "nri");
        assert.equal(e.cgroup_path, c.cgroupPath, `${pod.name}/${c.name}: cgroup path`);
        assert.equal(String(e.cgroup_id), c.cgroupId, `${pod.name}/${c.name}: cgroup id`);
      }
    });

    await t.step("without NRI the cgroup-path fallback names them from systemd paths", async () => {
      const fb = report.fallback!;
      assert.equal(fb.code, 0, `${fb.error ?? ""}\n${fb.stderr.join("\n")}`);
      const files = sqlString(`${dir}/fallback/*.parquet`);
      for (const { pod, c } of busy) {
        const label = `${pod.name}/${c.name}`;
        const groups = await queryParquet(`
          SELECT pod_uid, container_id, pod_name, meta_source, count(*) AS n
          FROM read_parquet('${files}') WHERE cgroup_id = ${c.cgroupId} GROUP BY ALL`);
        console.log(
          `  ${label}: ${
            groups.map((g) => `${g.meta_source ?? "unnamed"} ${g.n} rows`).join(", ")
          }`,
        );
        const named = groups.filter((g) => g.meta_source !== null);
        assert.ok(named.length > 0, `${label}: no row named by the cgroup path`);
        for (const g of named) {
          assert.equal(g.meta_source, "cgroup-path", label);
          assert.equal(g.pod_uid, pod.uid, `${label}: uid from the pod slice (_ → -)`);
          assert.equal(g.container_id, c.id, `${label}: id from cri-containerd-<id>.scope`);
        }
      }
    });

    await t.step("the CO-RE object loads on 6.1 and cpu_ns matches cpu.stat", async () => {
      const acc = report.accuracy!;
      assert.ok(acc, evidence);
      const [r] = await queryParquet(
        `SELECT coalesce(sum(cpu_ns), 0) AS cpu, count(*) AS n
         FROM read_parquet('${sqlString(`${dir}/fallback/*.parquet`)}')
         WHERE cgroup_id = ${acc.cgroupId}`,
      );
      const fileNs = Number(r.cpu);
      const kernelNs = acc.usageUsec * 1000;
      const err = (fileNs - kernelNs) / kernelNs;
      console.log(
        `  CPU-bound load in ${acc.cgroupPath}: cpu_ns ${(fileNs / 1e9).toFixed(3)} s, ` +
          `cpu.stat ${(kernelNs / 1e9).toFixed(3)} s (${(err * 100).toFixed(2)}%)`,
      );
      assert.ok(kernelNs > 1e9, "the load ran for more than a second of CPU");
      assert.ok(Math.abs(err) <= CPU_TOLERANCE, `cpu_ns off by ${(err * 100).toFixed(2)}%`);
    });
  },
});
