/**
 * Debian's chromium, headless, as the report's real viewer: the DOM after the page's scripts
 * ran, every console line the page printed, and optionally a screenshot.
 */

/** What chromium showed of a page. */
export interface RenderedPage {
  dom: string;
  /** the page's console lines (chromium logs every level as INFO:CONSOLE) */
  console: string[];
  /** wall ms chromium took from start to exit */
  ms: number;
}

/** chromium is not installed: `bash scripts/setup.sh` installs it for the tests. */
export class ChromiumMissingError extends Error {
  override name = "ChromiumMissingError";
  constructor() {
    super("chromium is not installed (apt-get install -y chromium; scripts/setup.sh does it)");
  }
}

function binary(): string {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    try {
      Deno.statSync(p);
      return p;
    } catch { /* next */ }
  }
  throw new ChromiumMissingError();
}

async function run(args: string[]): Promise<{ stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  const home = await Deno.makeTempDir({ prefix: "podperf-chromium-" });
  try {
    const out = await new Deno.Command(binary(), {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        `--user-data-dir=${home}`,
        "--enable-logging=stderr",
        "--v=0",
        ...args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const stderr = dec.decode(out.stderr);
    if (!out.success) throw new Error(`chromium exited ${out.code}:\n${stderr}`);
    return { stdout: dec.decode(out.stdout), stderr, ms: performance.now() - t0 };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

const consoleLines = (stderr: string) => stderr.split("\n").filter((l) => l.includes(":CONSOLE"));

/** Loads a local HTML file and returns its DOM after load, and what it printed. */
export async function dumpDom(path: string): Promise<RenderedPage> {
  const r = await run(["--dump-dom", `file://${path}`]);
  return { dom: r.stdout, console: consoleLines(r.stderr), ms: r.ms };
}

/** Saves a screenshot of a local HTML file; returns what the page printed. */
export async function screenshot(
  path: string,
  png: string,
  size = "1300,2400",
): Promise<RenderedPage> {
  const r = await run([`--window-size=${size}`, `--screenshot=${png}`, `file://${path}`]);
  return { dom: "", console: consoleLines(r.stderr), ms: r.ms };
}
