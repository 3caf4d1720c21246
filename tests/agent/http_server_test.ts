import assert from "@podperf/assert";
import {
  AgentHttpServer,
  ListenAddressError,
  parseListenAddress,
} from "../../lib/agent/http_server.ts";

Deno.test("listen addresses: host:port, :port, [v6]:port; garbage is a typed error", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:9100"), { hostname: "127.0.0.1", port: 9100 });
  assert.deepEqual(parseListenAddress(":9100"), { hostname: "0.0.0.0", port: 9100 });
  assert.deepEqual(parseListenAddress("[::1]:0"), { hostname: "::1", port: 0 });
  for (const bad of ["9100", "host:", "a:b", "1.2.3.4:70000", "[::1]9100"]) {
    assert.throws(() => parseListenAddress(bad), ListenAddressError, bad);
  }
});

Deno.test("probes answer 503 naming the failing check; /metrics joins every source", async () => {
  let ready = false;
  const server = new AgentHttpServer({
    address: "127.0.0.1:0",
    liveness: [{ name: "drain", check: () => ({ ok: true }) }],
    readiness: [{ name: "metadata", check: () => ({ ok: ready, detail: "not synced" }) }],
    metrics: [
      { renderMetrics: () => "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n" },
      {
        renderMetrics: () => {
          throw new Error("boom");
        },
      },
      { renderMetrics: () => "# HELP b B.\n# TYPE b gauge\nb 2\n" },
    ],
  });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const live = await fetch(`${base}/healthz`);
    assert.equal(live.status, 200);
    assert.equal(await live.text(), "ok drain\n");
    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.equal(await notReady.text(), "fail metadata: not synced\n");
    ready = true;
    const r = await fetch(`${base}/readyz`);
    assert.equal(r.status, 200);
    await r.body?.cancel();
    const m = await fetch(`${base}/metrics`);
    assert.match(m.headers.get("content-type") ?? "", /version=0\.0\.4/);
    const text = await m.text();
    assert.match(text, /^a_total 1$/m);
    assert.match(text, /^b 2$/m);
    assert.match(text, /source error: boom/);
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await server.close();
  }
});
