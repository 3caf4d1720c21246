/** Pod metadata: the store keyed by cgroup inode, and cgroup directory resolution. */
export {
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_ENTRIES,
  type EntryInput,
  type MetadataEntry,
  MetadataStore,
  type MetadataStoreOptions,
  type PodMeta,
  type StoreChange,
} from "./store.ts";
export {
  CgroupPathError,
  type CgroupResolution,
  CgroupResolver,
  type CgroupResolverOptions,
  cgroupsPathToDirs,
  detectCgroup2Mount,
  expandSlice,
  readProcCgroup2,
} from "./cgroup_dir.ts";
export {
  type CgroupDriver,
  CgroupPathIndex,
  type CgroupPathIndexOptions,
  type CgroupRuntime,
  NoCgroup2Error,
  parseCgroupPath,
  type ParsedCgroupPath,
  type QosClass,
} from "./cgroup_path.ts";
export {
  OciConfigError,
  type OciPodMeta,
  podMetaFromAnnotations,
  readOciConfig,
  SANDBOX_CONTAINER_NAME,
} from "./oci_annotations.ts";
export {
  containerdTaskDir,
  OciBundleWatcher,
  type OciBundleWatcherOptions,
} from "./oci_watcher.ts";
export {
  type CgroupMetaSource,
  type CgroupPathSource,
  type ContainerMetaSource,
  MetadataResolver,
  type MetadataResolverOptions,
  type ResolverStats,
} from "./resolver.ts";
export { hostUnitMeta, isHostUnitMeta, parseHostUnit } from "./host_unit.ts";
