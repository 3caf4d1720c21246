/**
 * `podperf pods` as a user runs it: against a real containerd (tests/harness) over NRI, through
 * the OCI-bundle and cgroup-path fallbacks without NRI, `--watch`, and with no runtime at all.
 */
import assert from "@podperf/assert";
import { COMMANDS, createPod, CriClient, startContainerd } from "../harness/mod.ts";
import { podperf, PodperfChild } from "./podperf.ts";

interface Entry {
  event?: string;
  cgroup_id: string | null;
  cgroup_path: string | null;
  pod_namespace: string | null;
  pod_name: string | null;
  pod_uid: string | null;
  container_name: string | null;
  container_id: string | null;
  source: string;
}

Deno.test("pods names a real pod's container over NRI, and from its OCI bundle or cgroup path without NRI", async () => {
  const ctrd = await startContainerd({ nri: true });
  const cri = await CriClient.connect(ctrd.criSocket);
  try {
    const pod = await createPod(cri, {
      name: "web",
      namespace: "shop",
      containers: [{ name: "nap", command: COMMANDS.idle }],
    });
    const c = pod.containers[0];
    const state = `${ctrd.dir}/state`;
    const find = async (args: string[]): Promise<Entry> => {
      const r = await podperf(["pods", "--json", "--timeout", "5s", ...args]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      const e = doc.entries.find((x: Entry) => x.container_id === c.id);
      assert.ok(e, `${args.join(" ")}: container ${c.id} listed:\n${r.stdout}`);
      return e;
    };
    const viaNri = await find(["--nri-socket", ctrd.nriSocket, "--containerd-state", state]);
    assert.deepEqual(
      [viaNri.source, viaNri.pod_namespace, viaNri.pod_name, viaNri.container_name],
      ["nri", "shop", "web", "nap"],
    );
    assert.equal(viaNri.cgroup_id, String(c.cgroupId));
    assert.equal(viaNri.cgroup_path, c.cgroupPath);

    const viaOci = await find(["--no-nri", "--containerd-state", state]);
    assert.deepEqual(
      [viaOci.source, viaOci.pod_namespace, viaOci.pod_name, viaOci.container_name],
      ["oci", "shop", "web", "nap"],
    );
    assert.equal(viaOci.cgroup_id, String(c.cgroupId));

    const viaPath = await find(["--no-nri", "--containerd-state", `${ctrd.dir}/nowhere`]);
    assert.deepEqual(
      [viaPath.source, viaPath.pod_uid, viaPath.pod_name, viaPath.cgroup_path],
      ["cgroup-path", pod.uid, null, c.cgroupPath],
    );

    // the table: one line for the container, its source last but one
    const t = await podperf(["pods", "--no-nri", "--containerd-state", state]);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^CGROUP_ID\s+NAMESPACE\s+POD\s+CONTAINER\s+ID\s+SOURCE\s+CGROUP$/);
    const line = lines.find((l) => l.includes(c.id.slice(0, 13)));
    assert.match(
      line ?? "",
      new RegExp(`^${c.cgroupId}\\s+shop\\s+web\\s+nap\\s+${c.id.slice(0, 13)}\\s+oci\\s+\\S+$`),
    );
  } finally {
    cri.close();
    await ctrd.cleanup();
  }
});

Deno.test("pods --watch streams a new pod's container and its removal", async () => {
  const ctrd = await startContainerd({ nri: true });
  const cri = await CriClient.connect(ctrd.criSocket);
  const watch = new PodperfChild([
    "pods",
    "--watch",
    "--json",
    "--nri-socket",
    ctrd.nriSocket,
    "--containerd-state",
    `${ctrd.dir}/state`,
  ]);
  try {
    const pod = await createPod(cri, {
      name: "late",
      namespace: "shop",
      containers: [{ name: "nap", command: COMMANDS.idle }],
    });
    const id = pod.containers[0].id;
    const mine = (source?: string, event?: string) => (l: string) => {
      const e = JSON.parse(l) as Entry;
      return e.container_id === id && (!source || e.source === source) &&
        (!event || e.event === event);
    };
    const seen = JSON.parse(await watch.waitFor(mine("nri"))) as Entry;
    assert.ok(["added", "modified"].includes(seen.event!), JSON.stringify(seen));
    assert.equal(seen.pod_name, "late");
    await cri.stopContainer(id);
    await cri.removeContainer(id);
    const gone = JSON.parse(await watch.waitFor(mine(undefined, "deleted"))) as Entry;
    assert.equal(gone.container_name, "nap");
    const end = await watch.stop();
    assert.equal(end.code, 0, end.stderr);
    // every line is one JSON object with an event
    for (const l of watch.seen) {
      assert.ok(["added", "modified", "deleted"].includes(JSON.parse(l).event), l);
    }
  } finally {
    await watch.stop();
    cri.close();
    await ctrd.cleanup();
  }
});

Deno.test("pods without a runtime says where it waited and the likely cause, in one line, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sock = `${dir}/nri.sock`;
    const r = await podperf(["pods", "--nri-socket", sock, "--timeout", "1s", "--no-fallbacks"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `podperf: error: no runtime answered on the NRI socket ${sock} within 1s (the socket does ` +
        `not exist): is NRI enabled in containerd? ([plugins."io.containerd.nri.v1.nri"] ` +
        `disable = false; on by default in containerd 2.x)\n`,
    );
    // with the fallbacks, what they resolve is still printed, then the same one line
    const f = await podperf(["pods", "--nri-socket", sock, "--timeout", "1s", "--json"]);
    assert.equal(f.code, 1);
    assert.equal(f.stderr.split("\n").length, 2, f.stderr);
    const doc = JSON.parse(f.stdout);
    assert.equal(doc.nri.connected, false);
    assert.match(doc.nri.error, /the socket does not exist/);
    assert.ok(Array.isArray(doc.entries));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
