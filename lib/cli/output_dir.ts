/** `--output DIR` checked before anything starts, so a wrong path is one clear line. */
import { UsageError } from "./units.ts";

/**
 * Returns `dir` when it is a directory or can be one (it or its nearest existing ancestor is a
 * directory); a path that exists as something else is a usage error saying so.
 */
export async function checkOutputDir(dir: string): Promise<string> {
  let path = dir;
  for (;;) {
    try {
      const st = await Deno.stat(path);
      if (st.isDirectory) return dir;
      throw new UsageError(
        "output",
        path === dir
          ? `--output: ${dir} exists and is not a directory`
          : `--output: ${dir} cannot be created: ${path} exists and is not a directory`,
      );
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
      const up = path.replace(/\/+[^/]*\/*$/, "");
      if (up === path || up === "") return dir;
      path = up;
    }
  }
}
