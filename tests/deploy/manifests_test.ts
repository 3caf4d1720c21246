/**
 * deploy/: every manifest validates against the Kubernetes schemas (npm kubernetes-models;
 * the ServiceMonitor against prometheus-operator's CRD schema), and the DaemonSet is what a
 * cluster admin asks for: no privileged, only BPF + PERFMON + SYS_NICE, no service-account token, a
 * pinned image, probes and metrics port on the listener collect actually serves, flags that
 * `podperf collect` accepts.
 */
import assert from "@podperf/assert";
import { parseAllDocuments } from "yaml";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ResourceQuota } from "kubernetes-models/v1/ResourceQuota";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { ARCHES } from "../../ffi/arch.ts";
import { VERSION } from "../../lib/version.ts";
import { buildCli } from "../../main.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DEPLOY = `${ROOT}deploy/`;

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

// The models' TypeScript interfaces, for the unknown-field check.
const TYPES: Record<string, [string, string]> = {
  "v1/Namespace": ["INamespace", "kubernetes-models/v1/Namespace"],
  "v1/ServiceAccount": ["IServiceAccount", "kubernetes-models/v1/ServiceAccount"],
  "v1/Service": ["IService", "kubernetes-models/v1/Service"],
  "v1/ResourceQuota": ["IResourceQuota", "kubernetes-models/v1/ResourceQuota"],
  "v1/Secret": ["ISecret", "kubernetes-models/v1/Secret"],
  "apps/v1/DaemonSet": ["IDaemonSet", "kubernetes-models/apps/v1/DaemonSet"],
  "monitoring.coreos.com/v1/ServiceMonitor": [
    "IServiceMonitor",
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
  ],
};

/**
 * The schema validators accept fields they do not know (a typo such as `livenesProbe` would
 * pass), so each object is also type-checked as an object literal of its model's interface:
 * TypeScript's excess-property check refuses any field the Kubernetes types lack.
 */
async function typeCheck(objs: Obj[]): Promise<{ code: number; output: string }> {
  const lines = objs.map((o, i) => {
    const [type, mod] = TYPES[`${o.apiVersion}/${o.kind}`];
    return `import type { ${type} as T${i} } from "${mod}";\n` +
      `export const m${i}: T${i} = ${JSON.stringify(o)};`;
  });
  const file = await Deno.makeTempFile({
    dir: `${ROOT}tests/deploy`,
    prefix: ".strict-",
    suffix: ".ts",
  });
  try {
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const r = await new Deno.Command(`${ROOT}node_modules/deno/deno`, {
      args: ["check", "--quiet", file],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, output: dec.decode(r.stdout) + dec.decode(r.stderr) };
  } finally {
    await Deno.remove(file);
  }
}

// deno-lint-ignore no-explicit-any
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "v1/ResourceQuota": ResourceQuota,
  "v1/Secret": Secret,
  "apps/v1/DaemonSet": DaemonSet,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

async function yamlDocs(path: string): Promise<Obj[]> {
  const docs = parseAllDocuments(await Deno.readTextFile(path));
  for (const d of docs) assert.equal(d.errors.length, 0, `${path}: ${d.errors.join("; ")}`);
  return docs.map((d) => d.toJSON() as Obj).filter((o) => o !== null);
}

/** Every Kubernetes object under deploy/ (kustomizations and the kind config aside). */
async function manifests(): Promise<{ path: string; obj: Obj }[]> {
  const out: { path: string; obj: Obj }[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}${e.name}`;
      if (e.isDirectory) await walk(`${p}/`);
      else if (
        /\.ya?ml$/.test(e.name) && !/^(kustomization|kind-config)\.yaml$|-patch\.yaml$/.test(e.name)
      ) {
        for (const obj of await yamlDocs(p)) out.push({ path: p.slice(DEPLOY.length), obj });
      }
    }
  };
  await walk(DEPLOY);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

async function daemonSet(): Promise<Obj> {
  const [ds] = await yamlDocs(`${DEPLOY}daemonset.yaml`);
  assert.equal(ds.kind, "DaemonSet");
  return ds;
}

/**
 * A strategic merge as kubectl/kustomize do it for what the patches use: objects merge key by
 * key, lists of named objects (containers) merge by name, other values replace.
 */
function strategicMerge(base: Obj, patch: Obj): Obj {
  const out = structuredClone(base);
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    if (Array.isArray(v) && Array.isArray(b) && v.every((x) => x?.name !== undefined)) {
      out[k] = [...b];
      for (const item of v) {
        const i = out[k].findIndex((x: Obj) => x.name === item.name);
        if (i >= 0) out[k][i] = strategicMerge(out[k][i], item);
        else out[k].push(item);
      }
    } else if (v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object") {
      out[k] = strategicMerge(b, v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** The DaemonSet with the deploy/upload component's patch applied, as kustomize would. */
async function withUploadComponent(): Promise<Obj> {
  const [component] = await yamlDocs(`${DEPLOY}upload/kustomization.yaml`);
  assert.equal(component.kind, "Component");
  for (const r of component.resources) await Deno.stat(`${DEPLOY}upload/${r}`);
  const [patch] = await yamlDocs(`${DEPLOY}upload/${component.patches[0].path}`);
  const ds = await daemonSet();
  assert.equal(patch.metadata.name, ds.metadata.name);
  const { apiVersion: _a, kind: _k, metadata: _m, ...body } = patch;
  return strategicMerge(ds, body);
}

/**
 * Flags another branch adds to collect the same day (retention: output). Only
 * these exact names may be missing from this branch's CLI; once merged they are checked like
 * every other flag, and this set can go.
 */
const PENDING_FLAGS = new Set(["--retain-size", "--retain-age"]);

/** The long flag names `podperf collect` accepts (its own and the global ones). */
function collectFlags(): Set<string> {
  const cli = buildCli();
  const collect = cli.commands.find((c) => c.name === "collect")!;
  const raw = [...collect.options, ...cli.globalCommand.options].map((o) => o.rawName);
  return new Set(raw.flatMap((r) => r.match(/--[\w-]+/g) ?? []));
}

Deno.test("deploy: every manifest validates against its Kubernetes schema", async () => {
  const all = await manifests();
  const kinds = all.map(({ path, obj }) => `${path}: ${obj.kind}`);
  assert.deepEqual(kinds, [
    "daemonset.yaml: DaemonSet",
    "monitoring/service.yaml: Service",
    "monitoring/servicemonitor.yaml: ServiceMonitor",
    "namespace.yaml: Namespace",
    "priority-quota.yaml: ResourceQuota",
    "serviceaccount.yaml: ServiceAccount",
    "upload/secret.yaml: Secret",
  ]);
  for (const { path, obj } of all) {
    const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
    assert.ok(Model, `${path}: no schema for ${obj.apiVersion} ${obj.kind}`);
    assert.doesNotThrow(() => new Model(obj).validate(), `${path}`);
  }
  // The validator is not a rubber stamp: a wrong type is refused.
  const bad = structuredClone(await daemonSet());
  bad.spec.template.spec.containers[0].ports[0].containerPort = "9102";
  assert.throws(() => new DaemonSet(bad).validate(), /containerPort must be integer/);
});

Deno.test("deploy: no manifest has a field the Kubernetes types do not know", async () => {
  const objs = (await manifests()).map((m) => m.obj);
  objs.push(await withUploadComponent());
  // The check is not a rubber stamp: a misspelt field is refused.
  const typo = structuredClone(await daemonSet());
  const c = typo.spec.template.spec.containers[0];
  c.livenesProbe = c.livenessProbe;
  const [ok, bad] = await Promise.all([typeCheck(objs), typeCheck([typo])]);
  assert.equal(ok.code, 0, ok.output);
  assert.notEqual(bad.code, 0);
  assert.match(bad.output, /livenesProbe/);
});

Deno.test("deploy: kustomizations list every manifest of their directory, and exist", async () => {
  for (const dir of ["", "monitoring/"]) {
    const [k] = await yamlDocs(`${DEPLOY}${dir}kustomization.yaml`);
    const files: string[] = [];
    for await (const e of Deno.readDir(`${DEPLOY}${dir}`)) {
      if (e.isFile && /\.yaml$/.test(e.name) && !/^(kustomization|kind-config)/.test(e.name)) {
        files.push(e.name);
      }
    }
    assert.deepEqual([...k.resources].sort(), files.sort(), `${dir}kustomization.yaml`);
  }
});

Deno.test("deploy: the DaemonSet runs unprivileged with BPF + PERFMON + SYS_NICE, no token, a pinned image", async () => {
  const ds = await daemonSet();
  const pod = ds.spec.template.spec;
  const [c] = pod.containers;
  const sc = c.securityContext;
  assert.equal(sc.privileged, false);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.deepEqual(sc.capabilities, { drop: ["ALL"], add: ["BPF", "PERFMON", "SYS_NICE"] });
  assert.equal(pod.automountServiceAccountToken, false);
  const [sa] = await yamlDocs(`${DEPLOY}serviceaccount.yaml`);
  assert.equal(sa.automountServiceAccountToken, false);
  assert.equal(pod.serviceAccountName, sa.metadata.name);
  assert.equal(pod.priorityClassName, "system-node-critical");
  // Admitted also where that class is limited to namespaces with a quota covering it.
  const [quota] = await yamlDocs(`${DEPLOY}priority-quota.yaml`);
  assert.equal(quota.metadata.namespace, ds.metadata.namespace);
  assert.deepEqual(quota.spec.scopeSelector.matchExpressions[0].values, [pod.priorityClassName]);
  // Pinned: this version's exact tag (kustomize may swap in a digest), never latest.
  assert.equal(c.image, `podperf:${VERSION}`);
  const [k] = await yamlDocs(`${DEPLOY}kustomization.yaml`);
  assert.deepEqual(k.images, [{ name: "podperf", newTag: VERSION }]);
  // Exactly the architectures of the table the image is built from.
  const arch = pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
    .nodeSelectorTerms[0].matchExpressions.find((e: Obj) => e.key === "kubernetes.io/arch");
  assert.deepEqual(arch.values, Object.keys(ARCHES));
  assert.equal(pod.nodeSelector["kubernetes.io/os"], "linux");
  // The namespace allows what the pod needs (hostPID, hostPath, added capabilities).
  const [ns] = await yamlDocs(`${DEPLOY}namespace.yaml`);
  assert.equal(ns.metadata.name, ds.metadata.namespace);
  assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
  // Requests set, no CPU limit (throttling would back up the ring buffer), memory limit set.
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
  assert.equal(c.resources.limits.cpu, undefined);
  assert.ok(c.resources.limits.memory);
});

Deno.test("deploy: probes, port and scrape annotations point at the listener collect serves", async () => {
  const ds = await daemonSet();
  const tpl = ds.spec.template;
  const [c] = tpl.spec.containers;
  const listen = c.args.find((a: string) => a.startsWith("--listen="));
  assert.ok(listen, "collect --listen is set");
  const port = Number(listen.split(":").pop());
  const metrics = c.ports.find((p: Obj) => p.name === "metrics");
  assert.equal(metrics.containerPort, port);
  assert.equal(c.livenessProbe.httpGet.path, "/healthz");
  assert.equal(c.readinessProbe.httpGet.path, "/readyz");
  for (const p of [c.livenessProbe, c.readinessProbe]) assert.equal(p.httpGet.port, "metrics");
  const ann = tpl.metadata.annotations;
  assert.equal(ann["prometheus.io/scrape"], "true");
  assert.equal(Number(ann["prometheus.io/port"]), port);
  assert.equal(ann["prometheus.io/path"], "/metrics");
  // The optional ServiceMonitor reaches the same port and keeps the measured pods' labels.
  const [svc] = await yamlDocs(`${DEPLOY}monitoring/service.yaml`);
  const [sm] = await yamlDocs(`${DEPLOY}monitoring/servicemonitor.yaml`);
  assert.deepEqual(svc.spec.selector, ds.spec.selector.matchLabels);
  assert.equal(svc.spec.ports[0].targetPort, "metrics");
  assert.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
  assert.equal(sm.spec.endpoints[0].honorLabels, true);
  assert.deepEqual(sm.spec.selector.matchLabels, svc.metadata.labels);
});

Deno.test("deploy: every flag the manifests pass is one podperf collect accepts", async () => {
  const known = collectFlags();
  const ds = await daemonSet();
  const [c] = ds.spec.template.spec.containers;
  assert.equal(c.args[0], "collect");
  // The upload component, applied as kustomize would, still validates.
  const uploaded = await withUploadComponent();
  assert.doesNotThrow(() => new DaemonSet(uploaded).validate());
  const uc = uploaded.spec.template.spec.containers[0];
  const args: string[] = uc.args;
  // The target and credentials come from the Secret as environment (PODPERF_UPLOAD, AWS_*).
  const [secret] = await yamlDocs(`${DEPLOY}upload/secret.yaml`);
  assert.deepEqual(uc.envFrom, [{ secretRef: { name: secret.metadata.name } }]);
  assert.match(secret.stringData.PODPERF_UPLOAD, /^s3:\/\//);
  assert.ok(uc.securityContext && uc.env, "the patch keeps the container's own settings");
  for (const a of args.slice(1)) {
    const flag = a.split("=")[0];
    if (PENDING_FLAGS.has(flag) && !known.has(flag)) continue;
    assert.ok(known.has(flag), `${flag} is not an option of podperf collect`);
  }
  for (const flag of ["--listen", "--retain-size", "--retain-age"]) {
    assert.ok(args.some((a) => a.startsWith(`${flag}=`)), `${flag} set`);
  }
});
