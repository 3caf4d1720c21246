/**
 * One run of the writer-on-the-loop benchmark, in its own process so peak RSS is its own:
 * rows arrive like the collector's (a batch every 50 ms), written either inline on the loop
 * (RotatingParquetWriter.appendMany, how collect wrote before the Worker) or through the
 * ParquetSink Worker. A 1 ms timer measures the loop's lag; with `--nri=<socket>` the NRI
 * plugin runs on the same loop and a real containerd is driven through `--cri=<socket>`, timing
 * CreateContainer (which waits for the plugin's reply).
 * Prints one JSON line. Usage: writer_loop.ts inline|worker <rowsPerSec> <seconds> [--nri= --cri=]
 */
import { ParquetSink, RotatingParquetWriter } from "../lib/output/mod.ts";
import type { FileConfig, OutputRow } from "../lib/output/schema.ts";

const [mode, rateArg, secondsArg] = Deno.args;
const flag = (n: string) => Deno.args.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3);
const rate = Number(rateArg), seconds = Number(secondsArg);
const CONFIG: FileConfig = {
  version: "bench",
  node: "bench",
  intervalNs: 1_000_000n,
  monoToWallOffsetNs: 1_700_000_000_000_000_000n,
  cpus: 2,
  counters: [],
};

function makeRow(i: number): OutputRow {
  const p = i % 40;
  const h = Math.imul(i, 2654435761) >>> 0;
  return {
    monoNs: 10_000_000_000n + BigInt(Math.floor(i / 40)) * 1_000_000n,
    tgid: 1000 + p * 7,
    comm: `proc-${p}`,
    cgroupId: 4026531835n + BigInt(p % 15),
    cpuNs: h % 1_000_000,
    cycles: null,
    instructions: null,
    llcMisses: null,
    pageFaults: h % 3,
    contextSwitches: h % 5,
    scaled: false,
    records: 1 + (h % 4),
    podName: p % 3 ? `pod-${p % 15}` : null,
    podNamespace: p % 3 ? "shop" : null,
    podUid: p % 3 ? `uid-${p % 15}` : null,
    containerName: p % 3 ? "app" : null,
    containerId: p % 3 ? `cid-${p % 15}` : null,
    metaSource: p % 3 ? "nri" : null,
  };
}

const pct = (a: number[], q: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? +s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(2) : null;
};

const dir = await Deno.makeTempDir({ prefix: "podperf-writer-loop-" });
const opts = { dir, prefix: "bench", maxBytes: 2 << 20, maxAgeMs: 3_600_000, metadata: CONFIG };
let write: (rows: OutputRow[]) => void;
let close: () => Promise<void>;
if (mode === "inline") {
  const w = new RotatingParquetWriter(opts);
  write = (rows) => w.appendMany(rows);
  close = () => w.close();
} else {
  const s = await ParquetSink.open({ ...opts, wallOffsetNs: () => CONFIG.monoToWallOffsetNs });
  write = (rows) => s.append(rows);
  close = async () => {
    await s.close();
    if (s.stats().rowsDropped > 0) console.error(`dropped ${s.stats().rowsDropped}`);
  };
}

// the loop's lag: a 1 ms timer, how late each firing is
const lag: number[] = [];
let expected = performance.now() + 1;
const lagTimer = setInterval(() => {
  const now = performance.now();
  lag.push(Math.max(0, now - expected));
  expected = now + 1;
}, 1);

// the NRI plugin on the same loop, and CreateContainer timed against a real containerd
const nriSocket = flag("nri"), criSocket = flag("cri");
const createMs: number[] = [];
let nriDone: Promise<void> = Promise.resolve();
if (nriSocket && criSocket) {
  const { startNriPlugin } = await import("../lib/nri/client.ts");
  const { MetadataStore } = await import("../lib/metadata/store.ts");
  const harness = await import("../tests/harness/mod.ts");
  const nri = startNriPlugin({ socketPath: nriSocket, store: new MetadataStore() });
  await nri.synchronized;
  const cri = await harness.CriClient.connect(criSocket);
  const uid = crypto.randomUUID();
  const spec = {
    name: "w",
    namespace: "bench",
    uid,
    cgroupParent: `/kubepods/besteffort/pod${uid}`,
  };
  const podId = await cri.runPodSandbox(spec);
  nriDone = (async () => {
    const end = performance.now() + seconds * 1000;
    for (let i = 0; performance.now() < end; i++) {
      const t = performance.now();
      const id = await cri.createContainer(podId, spec, {
        name: `c${i}`,
        command: [...harness.COMMANDS.idle],
      });
      createMs.push(performance.now() - t);
      await cri.removeContainer(id);
    }
    await cri.stopPodSandbox(podId);
    await cri.removePodSandbox(podId);
    cri.close();
    await nri.close();
  })();
}

let next = 0, busy = 0;
const perBatch = Math.round(rate / 20);
const started = performance.now();
while (performance.now() - started < seconds * 1000) {
  const rows = Array.from({ length: perBatch }, (_, k) => makeRow(next + k));
  next += perBatch;
  const t = performance.now();
  write(rows);
  busy += performance.now() - t;
  await new Promise((r) => setTimeout(r, 50));
}
const t = performance.now();
await close();
const closeMs = performance.now() - t;
await nriDone;
clearInterval(lagTimer);
let bytes = 0;
for await (const e of Deno.readDir(dir)) bytes += (await Deno.stat(`${dir}/${e.name}`)).size;
await Deno.remove(dir, { recursive: true });
const hwm = Number(Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+)/)![1]) * 1024;
console.log(JSON.stringify({
  mode,
  rows: next,
  loopBusyMsPerSec: +(busy / seconds).toFixed(1),
  closeMs: Math.round(closeMs),
  lagP50Ms: pct(lag, 0.5),
  lagP99Ms: pct(lag, 0.99),
  lagMaxMs: pct(lag, 1),
  createP50Ms: pct(createMs, 0.5),
  createP99Ms: pct(createMs, 0.99),
  creates: createMs.length,
  peakRssMb: Math.round(hwm / 2 ** 20),
  bytes,
}));
