import assert from "@podperf/assert";
import {
  OciConfigError,
  podMetaFromAnnotations,
  readOciConfig,
  SANDBOX_CONTAINER_NAME,
} from "../../lib/metadata/oci_annotations.ts";

import { IDS, makeFixtureLayout } from "./fixtures/layout.ts";

const FIX = makeFixtureLayout();
globalThis.addEventListener("unload", () => FIX.remove());
const CRIO = FIX.crioContainers;
const CTRD = `${FIX.containerdState}/io.containerd.runtime.v2.task/k8s.io`;
const CRIO_CID = IDS.crioContainer;
const CRIO_SID = IDS.crioSandbox;
const CTRD_CID = IDS.ctrdContainer;
const CTRD_SID = IDS.ctrdSandbox;

Deno.test("readOciConfig resolves a CRI-O container from its bundle", () => {
  const meta = readOciConfig(`${CRIO}/${CRIO_CID}/userdata/config.json`, CRIO_CID);
  assert.deepEqual(meta, {
    podName: "web-0",
    podNamespace: "shop",
    podUid: "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    containerName: "nginx",
    containerId: CRIO_CID,
    image: "docker.io/library/nginx:1.27",
    source: "oci",
    sandbox: false,
    sandboxId: CRIO_SID,
    runtime: "cri-o",
  });
});

Deno.test("readOciConfig names a CRI-O infra container as the pod's sandbox", () => {
  const meta = readOciConfig(`${CRIO}/${CRIO_SID}/userdata/config.json`, CRIO_SID);
  assert.equal(meta.sandbox, true);
  assert.equal(meta.containerName, SANDBOX_CONTAINER_NAME);
  assert.equal(meta.podName, "web-0");
  assert.equal(meta.sandboxId, CRIO_SID);
  assert.equal(meta.image, "registry.k8s.io/pause:3.10");
});

Deno.test("readOciConfig resolves a containerd container and its sandbox", () => {
  const c = readOciConfig(`${CTRD}/${CTRD_CID}/config.json`, CTRD_CID);
  assert.deepEqual(c, {
    podName: "api-7d9f",
    podNamespace: "prod",
    podUid: "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a",
    containerName: "server",
    containerId: CTRD_CID,
    image: "registry.example/api:2.1",
    source: "oci",
    sandbox: false,
    sandboxId: CTRD_SID,
    runtime: "containerd",
  });
  const s = readOciConfig(`${CTRD}/${CTRD_SID}/config.json`, CTRD_SID);
  assert.equal(s.sandbox, true);
  assert.equal(s.containerName, SANDBOX_CONTAINER_NAME);
  assert.equal(s.podName, "api-7d9f");
  assert.equal(s.image, null);
  assert.equal(s.sandboxId, CTRD_SID);
});

Deno.test("readOciConfig reports a spec without annotations", () => {
  const path = `${CRIO}/${IDS.crioNoAnnotations}/userdata/config.json`;
  assert.throws(() => readOciConfig(path, IDS.crioNoAnnotations), (err: unknown) => {
    assert.ok(err instanceof OciConfigError);
    assert.equal(err.problem, "no-annotations");
    assert.equal(err.path, path);
    return true;
  });
});

Deno.test("readOciConfig reports a truncated config.json as malformed", () => {
  const path = `${CRIO}/${IDS.crioMalformed}/userdata/config.json`;
  assert.throws(() => readOciConfig(path, "x"), (err: unknown) => {
    assert.ok(err instanceof OciConfigError);
    assert.equal(err.problem, "malformed");
    assert.match(err.message, /bad0.*malformed/);
    return true;
  });
});

Deno.test("readOciConfig passes NotFound through for a bundle not written yet", () => {
  assert.throws(
    () => readOciConfig(`${CRIO}/nope/userdata/config.json`, "nope"),
    Deno.errors.NotFound,
  );
});

Deno.test("readOciConfig rejects specs that are not objects or have odd annotations", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const f = `${dir}/config.json`;
    for (
      const [text, problem] of [
        ["[1,2]", "malformed"],
        ['"x"', "malformed"],
        ['{"annotations": ["a"]}', "malformed"],
        ['{"annotations": null}', "no-annotations"],
        ['{"annotations": {"io.containerd.image.name": "x"}}', "no-pod-annotations"],
      ]
    ) {
      Deno.writeTextFileSync(f, text);
      assert.throws(() => readOciConfig(f, "id"), { name: "OciConfigError", problem }, text);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("podMetaFromAnnotations ignores empty and non-string values", () => {
  const meta = podMetaFromAnnotations("c1", {
    "io.kubernetes.cri.sandbox-name": "p",
    "io.kubernetes.cri.sandbox-namespace": "",
    "io.kubernetes.cri.sandbox-uid": 42,
    "io.kubernetes.cri.container-name": "app",
  });
  assert.equal(meta?.podName, "p");
  assert.equal(meta?.podNamespace, null);
  assert.equal(meta?.podUid, null);
  assert.equal(meta?.containerName, "app");
  assert.equal(meta?.sandbox, false);
  assert.equal(podMetaFromAnnotations("c1", { "io.kubernetes.cri.sandbox-uid": "" }), null);
  assert.equal(podMetaFromAnnotations("c1", {}), null);
});
