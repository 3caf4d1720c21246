/**
 * Runs a small program in a fresh Deno process: for what one test process cannot show about
 * itself (V8 flags fixed at launch, malloc settings taken from the environment at start).
 */
import assert from "./assert.ts";

/** How to run the program: deno flags before it, its arguments, environment variables added. */
export interface ScriptRun {
  flags?: string[];
  args?: string[];
  env?: Record<string, string>;
}

/**
 * Writes `files` to a temporary directory, runs `main.js` among them with `deno run -A
 * --no-config` and returns its output; fails the test if it exits non-zero.
 */
export async function runScript(
  files: Record<string, string>,
  run: ScriptRun = {},
): Promise<{ stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "podperf-script-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-config",
        ...(run.flags ?? []),
        `${dir}/main.js`,
        ...(run.args ?? []),
      ],
      env: run.env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    return { stdout: new TextDecoder().decode(out.stdout), stderr };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
