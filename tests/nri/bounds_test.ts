/**
 * The plugin's own queues reach their bounds: store updates queued behind a Synchronize being
 * applied, and containers waiting for their cgroup directory.
 */
import assert from "@podperf/assert";
import { NriPlugin } from "../../lib/nri/plugin.ts";
import { NriProtocolError } from "../../lib/nri/errors.ts";
import { NriEvent, nriTypes } from "../../lib/nri/proto.ts";
import { PLUGIN_SERVICE } from "../../lib/nri/plugin.ts";
import { MetadataStore } from "../../lib/metadata/store.ts";
import { CgroupResolver, detectCgroup2Mount } from "../../lib/metadata/cgroup_dir.ts";
import type { TtrpcRequest } from "../../lib/nri/ttrpc.ts";
import { recorder } from "./log_recorder.ts";

function req(method: string, payload: Uint8Array): TtrpcRequest {
  return { service: PLUGIN_SERVICE, method, payload, timeoutNano: 0 };
}

function containers(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `c${i}`.padEnd(64, "0"),
    podSandboxId: "p",
    name: `c${i}`,
    state: 3,
    linux: { cgroupsPath: `/podperf-bounds-absent/c${i}` },
  }));
}

Deno.test("store updates queued behind a Synchronize are bounded; past it the session resyncs", async () => {
  const store = new MetadataStore();
  const { log } = recorder();
  const plugin = new NriPlugin({
    store,
    resolver: new CgroupResolver({ mount: detectCgroup2Mount() }),
    log,
    syncChunk: 10,
    maxPendingJobs: 3,
  });
  try {
    const sync = plugin.handle(
      req(
        "Synchronize",
        nriTypes.SynchronizeRequest.encode({ containers: containers(500) }).finish(),
      ),
    );
    sync.after!(); // applied in 50 chunks, one per loop turn
    const ev = nriTypes.StateChangeEvent.encode({
      event: NriEvent.REMOVE_CONTAINER,
      container: containers(1)[0],
    }).finish();
    for (let i = 0; i < 2; i++) plugin.handle(req("StateChange", ev)).after!();
    assert.equal(plugin.pendingJobs, 2, "the sync is being applied, two events wait");
    plugin.handle(req("StateChange", ev)).after!();
    assert.equal(plugin.pendingJobs, 3);
    const over = plugin.handle(req("StateChange", ev));
    assert.throws(() => over.after!(), (e) => {
      assert.ok(e instanceof NriProtocolError);
      assert.equal(e.fault, "backlog");
      return true;
    });
    await plugin.idle();
    assert.equal(plugin.pendingJobs, 0);
    assert.equal(store.getByContainerId(containers(1)[0].id)?.removedAt !== null, true);
  } finally {
    plugin.close();
  }
});

Deno.test("containers waiting for their cgroup are bounded by the store's size", async () => {
  const store = new MetadataStore({ maxEntries: 50 });
  const { log } = recorder();
  const plugin = new NriPlugin({
    store,
    resolver: new CgroupResolver({ mount: detectCgroup2Mount() }),
    log,
  });
  try {
    plugin.handle(
      req(
        "Synchronize",
        nriTypes.SynchronizeRequest.encode({ containers: containers(400) }).finish(),
      ),
    ).after!();
    await plugin.idle();
    assert.equal(store.size, 50);
    assert.equal(plugin.unresolvedCount, 50);
  } finally {
    plugin.close();
  }
});
