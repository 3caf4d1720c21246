import assert from "@podperf/assert";
import { parseBytes, parseDurationNs, UsageError } from "../../lib/cli/units.ts";

Deno.test("durations parse with units, fractions and bare seconds", () => {
  assert.equal(parseDurationNs("d", "1ms"), 1_000_000n);
  assert.equal(parseDurationNs("d", "2.5s"), 2_500_000_000n);
  assert.equal(parseDurationNs("d", "10m"), 600_000_000_000n);
  assert.equal(parseDurationNs("d", "250us"), 250_000n);
  assert.equal(parseDurationNs("d", 3), 3_000_000_000n);
});

Deno.test("a malformed duration names the flag and an example", () => {
  assert.throws(() => parseDurationNs("duration", "ten seconds"), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.flag, "duration");
    assert.match(e.message, /^--duration: "ten seconds" is not a duration \(examples: /);
    return true;
  });
});

Deno.test("sizes parse in SI and binary units", () => {
  assert.equal(parseBytes("s", "256MiB"), 256 * 1024 * 1024);
  assert.equal(parseBytes("s", "1G"), 1e9);
  assert.equal(parseBytes("s", "4096"), 4096);
  assert.throws(() => parseBytes("rotate-size", "12 parsecs"), UsageError);
});
