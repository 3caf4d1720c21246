/** cgroup id → path on this node, for summaries that show where a cgroup is. */
import { CgroupPathIndex } from "../metadata/mod.ts";

/**
 * Walks this node's cgroup2 tree once and returns a lookup of cgroup id → path; undefined when
 * no cgroup2 is mounted. Cgroups gone since their rows were written are not found (the caller
 * shows the inode alone).
 */
export async function localCgroupPaths(): Promise<
  ((id: bigint) => string | undefined) | undefined
> {
  let index: CgroupPathIndex;
  try {
    index = new CgroupPathIndex({ minRewalkMs: Infinity });
  } catch {
    return undefined;
  }
  await index.refresh();
  return (id) => index.pathOf(id);
}
