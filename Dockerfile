# podperf node agent image: one compiled binary plus libbpf.so.1, for linux/amd64 and
# linux/arm64:  docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/podperf:0.1.0 .
# The build stage runs on the build machine's own platform and cross-builds for TARGETARCH:
# the BPF object with clang's BPF target and that architecture's define, the binary with
# `deno compile --target` (both from the table in ffi/arch.ts).
FROM --platform=$BUILDPLATFORM debian:bookworm AS build
ARG TARGETARCH
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates clang llvm bpftool libbpf-dev linux-libc-dev nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# npm ci rejects this lock (it lists only the linux-x64 optional binaries); install follows it.
RUN npm install --no-audit --no-fund --loglevel=error
COPY . .
# vmlinux.h comes from the build host's BTF whatever TARGETARCH is: the programs use only
# CO-RE-relocated kernel types, never pt_regs (see scripts/build_bpf.sh).
RUN arch=${TARGETARCH:-$(uname -m)} \
 && PODPERF_ARCH=$arch bash scripts/build_bpf.sh \
 && target=$(node_modules/deno/deno run --quiet --no-config ffi/arch.ts "$arch" denoTarget) \
 && bash scripts/compile.sh "$target" /out/podperf

# Runtime stage, of the target platform: nothing but libbpf (and its libelf/zlib).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/podperf /usr/local/bin/podperf
# malloc heaps that grow in large steps (lib/malloc.ts): set at launch, they cover every thread
ENV GLIBC_TUNABLES=glibc.malloc.top_pad=8388608:glibc.malloc.trim_threshold=8388608:glibc.malloc.mmap_threshold=33554432
ENTRYPOINT ["/usr/local/bin/podperf"]
CMD ["collect", "--output", "/var/lib/podperf", "--listen", ":9102"]
