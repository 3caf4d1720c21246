import assert from "@podperf/assert";
import { NriUnavailableError, runPodsCommand } from "../../lib/nri/pods_command.ts";
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
    // the fake runtime's containers have no cgroups: NRI entries only
    const opts = { socketPath: rt.path, fallbacks: false };
    assert.equal(await runPodsCommand({ ...opts, write: (l) => lines.push(l) }), 0);
    assert.equal(await runPodsCommand({ ...opts, json: true, write: (l) => json.push(l) }), 0);
    await served;
  } finally {
    await rt.close();
  }
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(lines[0], /^CGROUP_ID\s+NAMESPACE\s+POD\s+CONTAINER\s+ID\s+SOURCE\s+CGROUP$/);
  assert.match(lines[1], /^-\s+shop\s+web-1\s+app\s+ababababababa\s+nri\s+-$/);
  const doc = JSON.parse(json.join("\n"));
  assert.equal(doc.nri.connected, true);
  const app = doc.entries.find((e: { container_name: string }) => e.container_name === "app");
  assert.equal(app.container_id, id);
  assert.equal(app.source, "nri");
});

Deno.test("pods command names the socket, the wait and the likely cause when no runtime answers", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    await assert.rejects(
      runPodsCommand({
        socketPath: `${dir}/none.sock`,
        timeoutMs: 150,
        fallbacks: false,
        write: () => {},
      }),
      (e: unknown) => {
        assert.ok(e instanceof NriUnavailableError);
        assert.equal(e.socketPath, `${dir}/none.sock`);
        assert.equal(
          e.message,
          `no runtime answered on the NRI socket ${dir}/none.sock within 150ms (the socket ` +
            `does not exist): is NRI enabled in containerd? ([plugins."io.containerd.nri.v1.nri"] ` +
            `disable = false; on by default in containerd 2.x)`,
        );
        return true;
      },
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
