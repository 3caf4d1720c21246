import assert from "node:assert/strict";
import { runPodsCommand } from "../../lib/nri/pods_command.ts";
import { nriTypes } from "../../lib/nri/proto.ts";
import { FakeRuntime } from "./fake_runtime.ts";

Deno.test("pods command prints one line per container after the runtime's sync", async () => {
  const rt = FakeRuntime.start();
  const id = "ab".repeat(32), pid = "cd".repeat(32);
  const lines: string[] = [];
  const json: string[] = [];
  try {
    const served = (async () => {
      for (let i = 0; i < 2; i++) {
        const peer = await rt.accept();
        const reg = await peer.nextRequest();
        assert.equal(
          (nriTypes.RegisterPluginRequest.decode(reg.payload) as unknown as { pluginName: string })
            .pluginName,
          "podperf-pods",
        );
        await peer.handshake({
          pods: [{ id: pid, name: "web-1", namespace: "shop", uid: "u1", pid: 0 }],
          containers: [{ id, podSandboxId: pid, name: "app", state: 3 }],
        });
      }
    })();
    assert.equal(await runPodsCommand({ socketPath: rt.path, write: (l) => lines.push(l) }), 0);
    assert.equal(
      await runPodsCommand({ socketPath: rt.path, json: true, write: (l) => json.push(l) }),
      0,
    );
    await served;
  } finally {
    await rt.close();
  }
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^CGROUP_ID\s+NAMESPACE\s+POD\s+CONTAINER\s+ID$/);
  assert.match(lines[1], /^-\s+shop\s+web-1\s+app\s+abababababab/);
  assert.equal(JSON.parse(json[0]).containerId, id);
});

Deno.test("pods command gives up with exit code 1 when no runtime answers", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.equal(await runPodsCommand({ socketPath: `${dir}/none.sock`, timeoutMs: 150 }), 1);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
