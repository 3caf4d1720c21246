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
