#!/usr/bin/env bash
# The end-to-end flow on a real Kubernetes cluster, for machines with Docker and kind:
# build the image, start a kind node with NRI on, deploy the DaemonSet, run a busy pod,
# copy a Parquet file back and check that the busy pod's rows carry its name.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is required (this flow needs Docker + kind)" >&2; exit 2; }
done
cluster=${PODPERF_KIND_CLUSTER:-podperf-e2e}
keep=${PODPERF_KEEP_CLUSTER:-0}
work=$(mktemp -d)
cleanup() {
  rm -rf "$work"
  [ "$keep" = 1 ] || kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The manifests pin podperf:<version>; build exactly that tag.
image="podperf:$(sed -n 's/^export const VERSION = "\(.*\)";$/\1/p' lib/version.ts)"
docker build -t "$image" .
kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --config deploy/kind-config.yaml --wait 120s
kind load docker-image "$image" --name "$cluster"
kubectl apply -k deploy/
kubectl -n podperf rollout status ds/podperf --timeout=120s

kubectl create namespace e2e --dry-run=client -o yaml | kubectl apply -f -
kubectl -n e2e run busy --image=busybox:1.36 --restart=Never -- sh -c 'while :; do :; done'
kubectl -n e2e wait --for=condition=Ready pod/busy --timeout=120s
sleep 20
kubectl -n e2e delete pod busy --wait=false
# Rotation makes a complete file at each age boundary; a restart of the agent finishes the
# current one, which is what we copy back.
kubectl -n podperf rollout restart ds/podperf
kubectl -n podperf rollout status ds/podperf --timeout=120s
node=$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')
docker cp "$node:/var/lib/podperf" "$work/out"
ls -l "$work/out"
node_modules/deno/deno run -A main.ts summary --by pod "$work"/out/*.parquet | tee "$work/summary.txt"
grep -q 'e2e.*busy' "$work/summary.txt" || { echo "e2e: pod e2e/busy not found in the summary" >&2; exit 1; }
echo "e2e: ok"
