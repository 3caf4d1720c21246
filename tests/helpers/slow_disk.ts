/**
 * A real filesystem whose writeback is slow: ext4 (no journal, as this VM's root is) on a loop
 * device, with the block layer's own write throttle on that device. Buffered writes land in the
 * page cache at once; an fsync waits for the throttled writeback, as on a node whose disk or
 * whose I/O completions are starved (BENCHMARKS.md, twenty-first pass).
 *
 * The throttle is cgroup v1 blkio's, set at its root: writeback there is charged to the root
 * group, where v1 applies it to every writer of the device (only ours). Returns null with the
 * reason where this host has no such control (pure cgroup v2, where writeback is charged to
 * the writer's own group, needs io.max on a group the test would move into).
 */
const BLKIO_ROOT = "/sys/fs/cgroup/blkio";

export interface SlowDisk {
  /** the mounted filesystem's root */
  dir: string;
  /** lifts the throttle: what is waiting drains at the device's speed */
  unthrottle(): void;
  /** unmounts and removes everything */
  remove(): Promise<void>;
}

async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text;
}

/** A `sizeMiB` filesystem whose writeback runs at `bytesPerS`; null (and why) where unsupported. */
export async function slowDisk(
  bytesPerS: number,
  sizeMiB = 64,
): Promise<SlowDisk | { unsupported: string }> {
  const control = `${BLKIO_ROOT}/blkio.throttle.write_bps_device`;
  try {
    Deno.statSync(control);
  } catch {
    return { unsupported: `no ${control} (cgroup v1 blkio)` };
  }
  const work = await Deno.makeTempDir({ prefix: "podperf-slowdisk-" });
  const image = `${work}/disk.img`;
  const dir = `${work}/mnt`;
  await Deno.mkdir(dir);
  let loop: string | null = null;
  let device = "";
  let mounted = false;
  const unthrottle = () => {
    if (device) Deno.writeTextFileSync(control, `${device} 0`);
  };
  const remove = async () => {
    unthrottle();
    if (mounted) await run("umount", dir).catch(() => run("umount", "-l", dir));
    if (loop) await run("losetup", "-d", loop).catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  };
  try {
    await run("truncate", "-s", `${sizeMiB}M`, image);
    await run("mkfs.ext4", "-q", "-F", "-O", "^has_journal", image);
    loop = await run("losetup", "-f", "--show", image);
    const rdev = Deno.statSync(loop).rdev ?? 0;
    // Linux's dev_t: major in bits 8–19 (and 32+), minor in 0–7 and 20–31
    device = `${(rdev >> 8) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
    await run("mount", loop, dir);
    mounted = true;
    Deno.writeTextFileSync(control, `${device} ${bytesPerS}`);
    return { dir, unthrottle, remove };
  } catch (err) {
    await remove();
    return { unsupported: String((err as Error).message ?? err) };
  }
}
