/**
 * Without `hostPID` the agent would sample itself (its self-filter compares the kernel's host
 * pid with its own namespaced one) and record pids the node cannot see: collect refuses.
 * A real child pid namespace made with unshare(1) stands in for a pod without hostPID.
 */
import assert from "@podperf/assert";
import { assertHostPidNamespace, HostPidError } from "../../lib/agent/host_pid.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("in the host's pid namespace the check passes", () => {
  assertHostPidNamespace();
});

Deno.test("collect in a child pid namespace refuses with one line and exit 1", async () => {
  const out = await Deno.makeTempDir({ prefix: "podperf-pidns-" });
  try {
    const r = await new Deno.Command("unshare", {
      args: [
        "--pid",
        "--fork",
        "--mount-proc",
        `${ROOT}node_modules/deno/deno`,
        "run",
        "-A",
        `${ROOT}main.ts`,
        "collect",
        "--duration",
        "1s",
        "--no-nri",
        "--no-summary",
        "--output",
        out,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(r.stderr).trim();
    assert.equal(r.code, 1, stderr);
    const lines = stderr.split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], /^podperf: error: .*host's pid namespace \(hostPID: true/);
    assert.deepEqual([...Deno.readDirSync(out)], [], "nothing written");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a pid namespace link other than the initial one is refused by name", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.symlinkSync("pid:[4026532999]", `${dir}/pid`);
    assert.throws(() => assertHostPidNamespace(`${dir}/pid`), (e) => {
      assert.ok(e instanceof HostPidError);
      assert.equal(e.namespace, "pid:[4026532999]");
      return true;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
