/** The CPUs the sampler opens perf events on. */

/** Parses a kernel CPU list such as "0-3,6,8-9" into CPU numbers. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(",")) {
    if (part === "") continue;
    const [lo, hi] = part.split("-").map(Number);
    for (let c = lo; c <= (hi ?? lo); c++) cpus.push(c);
  }
  return cpus;
}

/** Online CPUs from /sys/devices/system/cpu/online. */
export function onlineCpus(): number[] {
  return parseCpuList(Deno.readTextFileSync("/sys/devices/system/cpu/online"));
}
