/**
 * Builds the one image the harness uses, as an OCI image-layout tarball for
 * `ctr images import`: a single layer with Debian's static busybox and a symlink per applet.
 * It is the CRI sandbox ("pause") image and the workload image at once.
 */

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { CACHE_DIR, RUNTIME_FILES } from "./runtime_files.ts";
import { type TarEntry, writeTar } from "./tar.ts";

/** The image reference the harness imports and configures as CRI `sandbox_image`. */
export const SANDBOX_IMAGE = "localhost/podperf/busybox:1";

/** What the sandbox container runs: sleep "forever" (the CRI stops it with SIGKILL). */
export const SANDBOX_COMMAND: readonly string[] = ["/bin/sleep", "2147483647"];

const encoder = new TextEncoder();

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function applets(): Promise<string[]> {
  const out = await new Deno.Command(RUNTIME_FILES.busybox, { args: ["--list"], stdout: "piped" })
    .output();
  if (!out.success) throw new Error(`${RUNTIME_FILES.busybox} --list failed (exit ${out.code})`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((s) => s && s !== "busybox")
    .sort();
}

function layer(busybox: Uint8Array, names: string[]): Uint8Array {
  const entries: TarEntry[] = [
    { kind: "dir", path: "bin" },
    { kind: "file", path: "bin/busybox", data: busybox, mode: 0o755 },
  ];
  for (const n of names) entries.push({ kind: "symlink", path: `bin/${n}`, target: "busybox" });
  // Mount points runc and the CRI expect to exist; tmp is world-writable like on any distro.
  for (const d of ["dev", "etc", "proc", "sys", "root", "var", "usr", "usr/bin", "sbin"]) {
    entries.push({ kind: "dir", path: d });
  }
  entries.push({ kind: "dir", path: "tmp", mode: 0o1777 });
  entries.push({
    kind: "file",
    path: "etc/passwd",
    data: encoder.encode("root:x:0:0:root:/root:/bin/sh\n"),
  });
  entries.push({ kind: "file", path: "etc/group", data: encoder.encode("root:x:0:\n") });
  return writeTar(entries);
}

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Builds the OCI image-layout tarball bytes for `SANDBOX_IMAGE` from the cached busybox. */
export async function buildSandboxImage(): Promise<Uint8Array> {
  const busybox = await Deno.readFile(RUNTIME_FILES.busybox);
  const layerTar = layer(busybox, await applets());
  const layerDigest = sha256(layerTar);
  const config = json({
    created: "1970-01-01T00:00:00Z",
    architecture: "amd64",
    os: "linux",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: SANDBOX_COMMAND,
      WorkingDir: "/",
    },
    // The layer is stored uncompressed, so its diff id is its own digest.
    rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
  });
  const configDigest = sha256(config);
  const manifest = json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: `sha256:${configDigest}`,
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: `sha256:${layerDigest}`,
      size: layerTar.length,
    }],
  });
  const manifestDigest = sha256(manifest);
  const index = json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: `sha256:${manifestDigest}`,
      size: manifest.length,
      platform: { architecture: "amd64", os: "linux" },
      // ctr import names the image from this annotation.
      annotations: {
        "io.containerd.image.name": SANDBOX_IMAGE,
        "org.opencontainers.image.ref.name": SANDBOX_IMAGE.split(":").pop(),
      },
    }],
  });
  return writeTar([
    { kind: "file", path: "oci-layout", data: json({ imageLayoutVersion: "1.0.0" }) },
    { kind: "file", path: "index.json", data: index },
    { kind: "dir", path: "blobs" },
    { kind: "dir", path: "blobs/sha256" },
    { kind: "file", path: `blobs/sha256/${layerDigest}`, data: layerTar },
    { kind: "file", path: `blobs/sha256/${configDigest}`, data: config },
    { kind: "file", path: `blobs/sha256/${manifestDigest}`, data: manifest },
  ]);
}

/** Returns the path of the image tarball, building it into .cache/images/ on first use. */
export async function sandboxImageTarball(): Promise<string> {
  const busybox = await Deno.readFile(RUNTIME_FILES.busybox);
  // Keyed by the busybox binary, so a new busybox from the fetch script rebuilds the image.
  const path = `${CACHE_DIR}/images/podperf-busybox-${sha256(busybox).slice(0, 16)}.oci.tar`;
  if (existsSync(path)) return path;
  await Deno.mkdir(`${CACHE_DIR}/images`, { recursive: true });
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeFile(tmp, await buildSandboxImage());
  await Deno.rename(tmp, path); // atomic: parallel test processes never see half a file
  return path;
}
