import assert from "@podperf/assert";
import { editDistance, suggest } from "../../lib/cli/suggest.ts";
import { keepNegativeValues, parseLogLevel } from "../../lib/cli/help.ts";
import { checkOutputDir } from "../../lib/cli/output_dir.ts";
import { UsageError } from "../../lib/cli/units.ts";

Deno.test("edit distance counts inserts, deletes and substitutions", () => {
  assert.equal(editDistance("collect", "collect"), 0);
  assert.equal(editDistance("colect", "collect"), 1);
  assert.equal(editDistance("summray", "summary"), 2);
  assert.equal(editDistance("", "pods"), 4);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

Deno.test("suggest picks a close word or a prefix, and nothing for a stranger", () => {
  const cmds = ["collect", "summary", "pods"];
  assert.equal(suggest("colect", cmds), "collect");
  assert.equal(suggest("COLLECT", cmds), "collect");
  assert.equal(suggest("pod", cmds), "pods");
  assert.equal(suggest("sum", cmds), "summary");
  assert.equal(suggest("frobnicate", cmds), undefined);
  assert.equal(suggest("x", cmds), undefined);
});

Deno.test("a negative value after a flag is joined to it; other arguments are left alone", () => {
  assert.deepEqual(keepNegativeValues(["summary", "--top", "-1", "f"]), [
    "summary",
    "--top=-1",
    "f",
  ]);
  assert.deepEqual(keepNegativeValues(["--cpus", "-0.5"]), ["--cpus=-0.5"]);
  assert.deepEqual(keepNegativeValues(["--json", "-h"]), ["--json", "-h"]);
  assert.deepEqual(keepNegativeValues(["--top=-1"]), ["--top=-1"]);
  assert.deepEqual(keepNegativeValues(["--top"]), ["--top"]);
});

Deno.test("log levels are the four names; anything else is a usage error", () => {
  assert.equal(parseLogLevel("warn"), "warn");
  assert.throws(() => parseLogLevel("WARN"), UsageError);
  assert.throws(() => parseLogLevel(true), /--log-level: "true" is not one of/);
});

Deno.test("an output dir may exist or be creatable; a file in the way is named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await checkOutputDir(dir), dir);
    assert.equal(await checkOutputDir(`${dir}/new/deeper`), `${dir}/new/deeper`);
    assert.equal(await checkOutputDir("relative-out"), "relative-out");
    await Deno.writeTextFile(`${dir}/f`, "");
    await assert.rejects(checkOutputDir(`${dir}/f`), {
      name: "UsageError",
      message: `--output: ${dir}/f exists and is not a directory`,
    });
    await assert.rejects(checkOutputDir(`${dir}/f/sub/`), {
      message: `--output: ${dir}/f/sub/ cannot be created: ${dir}/f exists and is not a directory`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
