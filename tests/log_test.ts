import assert from "@podperf/assert";

const DENO = Deno.execPath();
const LOG = new URL("../lib/log.ts", import.meta.url).href;

Deno.test("throttled logs one line per kind per minute and counts what it held back", async () => {
  const script = `
    import { log, THROTTLE_MS } from "${LOG}";
    for (let i = 0; i < 5; i++) log.throttled("disk", "error", "write failed", { i }, 1000 + i);
    log.throttled("nri", "warn", "socket gone", {}, 1001);
    log.throttled("disk", "error", "write failed", { i: 9 }, 1000 + THROTTLE_MS);
  `;
  const out = await new Deno.Command(DENO, { args: ["eval", script], stderr: "piped" }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stderr).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => [l.kind, l.i ?? null, l.suppressed ?? 0]),
    [["disk", 0, 0], ["nri", null, 0], ["disk", 9, 4]],
  );
});
