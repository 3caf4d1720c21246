/**
 * Without `hostPID` the agent would sample itself (its self-filter compares the kernel's host
 * pid with its own namespaced one) and record pids the node cannot see: collect refuses.
 * A real child pid namespace made with unshare(1) stands in for a pod without hostPID.
 */
import assert from "@podperf/assert";
import { assertHostPidNamespace, HostPidError } from "../../lib/agent/host_pid.ts";
import { collectBriefly } from "../cli/podperf.ts";

Deno.test("in the host's pid namespace the check passes", () => {
  assertHostPidNamespace();
});

Deno.test("collect in a child pid namespace refuses with one line and exit 1", async () => {
  const r = await collectBriefly(["unshare", "--pid", "--fork", "--mount-proc"]);
  const stderr = r.stderr.trim();
  assert.equal(r.code, 1, stderr);
  const lines = stderr.split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^podperf: error: .*host's pid namespace \(hostPID: true/);
  assert.deepEqual(r.written, [], "nothing written");
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
