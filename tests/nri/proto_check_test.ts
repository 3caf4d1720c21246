/**
 * Checks our proto/nri.proto against upstream pkg/api/api.proto from Debian's
 * golang-github-containerd-nri-dev (NRI v0.6.1, the version containerd 1.7.24 vendors),
 * downloaded at test time into .cache/debs/: every field we declare must have the same number,
 * wire type and cardinality upstream.
 */
import assert from "@podperf/assert";
import protobuf from "protobufjs";
import { protoRoots } from "../../lib/nri/proto.ts";

const PKG = "golang-github-containerd-nri-dev";
const DEBS = ".cache/debs";
const OUT = ".cache/nri-api";

async function run(cmd: string, args: string[], cwd?: string): Promise<boolean> {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  return r.success;
}

function findFile(dir: string, name: string): string | null {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) {
      const f = findFile(p, name);
      if (f) return f;
    } else if (p.endsWith(name)) return p;
  }
  return null;
}

/** Downloads and unpacks the package once; returns the path of upstream api.proto. */
async function upstreamApiProto(): Promise<string> {
  const cached = (() => {
    try {
      return findFile(OUT, "pkg/api/api.proto");
    } catch {
      return null;
    }
  })();
  if (cached) return cached;
  Deno.mkdirSync(DEBS, { recursive: true });
  const have = () => [...Deno.readDirSync(DEBS)].find((e) => e.name.startsWith(`${PKG}_`));
  if (!have()) {
    // bookworm has no such package; trixie (added with a low pin by scripts/fetch_containerd.sh)
    // carries 0.6.1.
    const ok = await run("apt-get", ["download", `${PKG}/trixie`], DEBS) ||
      await run("apt-get", ["download", PKG], DEBS);
    assert.ok(ok, `apt-get download ${PKG} failed: run scripts/fetch_containerd.sh first`);
  }
  const deb = have()!;
  Deno.mkdirSync(OUT, { recursive: true });
  assert.ok(await run("dpkg-deb", ["-x", `${DEBS}/${deb.name}`, OUT]), "dpkg-deb -x failed");
  const found = findFile(OUT, "pkg/api/api.proto");
  assert.ok(found, `${deb.name} has no pkg/api/api.proto`);
  return found;
}

/**
 * Fields from NRI releases newer than the Debian package (split Synchronize, v0.7): upstream
 * v0.6.1 lacks them, so for these we check the number is still free there.
 */
const NEWER: Record<string, string> = {
  "SynchronizeRequest.more": "v0.7 bool more = 3",
  "SynchronizeResponse.more": "v0.7 bool more = 2",
};

const WIRE: Record<string, number> = {
  int32: 0,
  int64: 0,
  uint32: 0,
  uint64: 0,
  sint32: 0,
  sint64: 0,
  bool: 0,
  fixed64: 1,
  sfixed64: 1,
  double: 1,
  string: 2,
  bytes: 2,
  fixed32: 5,
  sfixed32: 5,
  float: 5,
};

function describe(f: protobuf.Field): string {
  f.resolve();
  const kind = f.map
    ? `map<${(f as unknown as protobuf.MapField).keyType},${f.type}>`
    : f.resolvedType instanceof protobuf.Type
    ? `message ${f.resolvedType.name}`
    : f.resolvedType instanceof protobuf.Enum
    ? `enum(wire 0)`
    : `wire ${WIRE[f.type]}`;
  return `#${f.id} ${f.repeated ? "repeated " : ""}${kind}`;
}

Deno.test("proto: every NRI field we declare matches upstream api.proto (v0.6.1)", async () => {
  const path = await upstreamApiProto();
  const upstream = protobuf.parse(Deno.readTextFileSync(path), { keepCase: false }).root;
  upstream.resolveAll();
  const ours = protoRoots.nri.lookup("nri.pkg.api.v1alpha1") as protobuf.Namespace;
  let checked = 0;
  for (const obj of ours.nestedArray) {
    const up = upstream.lookup(`nri.pkg.api.v1alpha1.${obj.name}`);
    assert.ok(up, `${obj.name} exists upstream`);
    if (obj instanceof protobuf.Type) {
      assert.ok(up instanceof protobuf.Type);
      for (const f of obj.fieldsArray) {
        const uf: protobuf.Field | undefined = up.fields[f.name];
        if (!uf && NEWER[`${obj.name}.${f.name}`]) {
          assert.equal(up.fieldsById[f.id], undefined, `${obj.name} #${f.id} is free upstream`);
          checked++;
          continue;
        }
        assert.ok(uf, `${obj.name}.${f.name} exists upstream`);
        assert.equal(describe(f), describe(uf), `${obj.name}.${f.name}`);
        checked++;
      }
    } else if (obj instanceof protobuf.Enum) {
      assert.ok(up instanceof protobuf.Enum);
      for (const [k, v] of Object.entries(obj.values)) {
        assert.equal(up.values[k], v, `${obj.name}.${k}`);
        checked++;
      }
    }
  }
  // Sanity: the walk looked at what we declared (a check over nothing cannot fail).
  assert.ok(checked >= 50, `checked ${checked} fields`);
  console.log(`proto check: ${checked} fields and enum values match ${path}`);
});
