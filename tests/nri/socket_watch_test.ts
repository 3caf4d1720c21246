import assert from "@podperf/assert";
import { join } from "node:path";
import { SocketWatch } from "../../lib/nri/socket_watch.ts";
import { startNriPlugin } from "../../lib/nri/client.ts";
import { MetadataStore } from "../../lib/metadata/store.ts";
import { recorder } from "./log_recorder.ts";

/** Resolves on the next call of the returned callback, or rejects after `ms`. */
function nextCall(ms: number): { fn: () => void; called: () => Promise<void> } {
  let hit: () => void = () => {};
  const p = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not called within ${ms} ms`)), ms);
    hit = () => {
      clearTimeout(t);
      resolve();
    };
  });
  return { fn: () => hit(), called: () => p };
}

Deno.test("socket watch: follows the socket's path down as its directories appear, ignores the rest", async () => {
  const root = await Deno.makeTempDir();
  const sock = join(root, "a", "b", "nri.sock");
  let calls = 0;
  let next = nextCall(5000);
  const watch = new SocketWatch(sock, () => {
    calls++;
    next.fn();
  });
  try {
    assert.equal(watch.arm(), true);
    assert.equal(watch.dir, root);
    // an entry that is not on the path wakes nothing
    await Deno.mkdir(join(root, "other"));
    await Deno.writeTextFile(join(root, "a-file"), "x");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(calls, 0);

    await Deno.mkdir(join(root, "a"));
    await next.called();
    assert.equal(watch.dir, null, "a change ends the watch");
    next = nextCall(5000);
    assert.equal(watch.arm(), true);
    assert.equal(watch.dir, join(root, "a"));

    await Deno.mkdir(join(root, "a", "b"));
    await next.called();
    next = nextCall(5000);
    assert.equal(watch.arm(), true);
    assert.equal(watch.dir, join(root, "a", "b"));

    const listener = Deno.listen({ transport: "unix", path: sock });
    try {
      await next.called();
    } finally {
      listener.close();
    }
    assert.equal(calls, 3);
  } finally {
    watch.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("socket watch: a file where a directory should be cannot be watched (the client polls)", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(root, "nri"), "not a directory");
    const watch = new SocketWatch(join(root, "nri", "nri.sock"), () => {});
    assert.equal(watch.arm(), false);
    assert.equal(watch.dir, null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("NRI client: connects as soon as the runtime binds its socket, not at the next retry", async () => {
  const root = await Deno.makeTempDir();
  const sock = join(root, "nri", "nri.sock");
  const rec = recorder();
  // A first retry 60 s out: only the watch can bring the connect within the test's bound.
  const nri = startNriPlugin({
    socketPath: sock,
    store: new MetadataStore(),
    minBackoffMs: 60_000,
    log: rec.log,
  });
  try {
    const t0 = performance.now();
    while (nri.stats.state !== "backoff") {
      assert.ok(performance.now() - t0 < 5000, `state ${nri.stats.state}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(nri.stats.lastError ?? "", /NotFound/);
    // the user is told what it waits for
    const said = rec.lines.find((l) => l.msg === "NRI socket not reachable; retrying");
    assert.equal(said?.fields?.watching, root);
    await Deno.mkdir(join(root, "nri"));
    const listener = Deno.listen({ transport: "unix", path: sock });
    try {
      const bound = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const conn = await Promise.race([
        listener.accept(),
        new Promise<never>((_, reject) =>
          timer = setTimeout(() => reject(new Error("no connect within 10 s")), 10_000)
        ),
      ]).finally(() => clearTimeout(timer));
      const waitedMs = performance.now() - bound;
      conn.close();
      assert.ok(waitedMs < 10_000, `connected ${waitedMs} ms after the bind`);
      const t1 = performance.now();
      while (nri.stats.sessions === 0 && performance.now() - t1 < 5000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(nri.stats.sessions, 1);
    } finally {
      listener.close();
    }
  } finally {
    await nri.close();
    await Deno.remove(root, { recursive: true });
  }
});
