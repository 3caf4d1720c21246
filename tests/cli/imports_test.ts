import assert from "@podperf/assert";
import { ROOT } from "./podperf.ts";

// Spelled in two parts so the one-line switch below never rewrites this test itself.
const DIRECT = `from "node:${"assert/strict"}"`;

Deno.test("tests import assertions through the import map, so the module is chosen in one place", async () => {
  const map = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).imports;
  assert.equal(map["@podperf/assert"], "./tests/helpers/assert.ts");
  const direct: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(`${ROOT}${dir}`)) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(rel);
      else if (e.name.endsWith(".ts") && (await Deno.readTextFile(ROOT + rel)).includes(DIRECT)) {
        direct.push(rel);
      }
    }
  };
  for (const dir of ["tests", "bench"]) await walk(dir);
  assert.deepEqual(direct, [], "re-run the sed of docs/DESIGN.md on these files");
});
