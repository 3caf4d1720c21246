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

Deno.test("the throttle remembers at most 256 kinds: the oldest is forgotten first", async () => {
  const { throttledWriter } = await import("../lib/log.ts");
  const out: string[] = [];
  const t = throttledWriter((_level, msg) => out.push(msg));
  for (let i = 0; i < 257; i++) t(`k${i}`, "warn", `m${i}`, {}, 0);
  t("k0", "warn", "k0 again", {}, 1); // k0 was forgotten: logged again at once
  t("k256", "warn", "k256 again", {}, 1); // still remembered: held back
  assert.equal(out.length, 258);
  assert.equal(out[257], "k0 again");
});
