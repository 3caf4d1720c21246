# podperf node agent image: one compiled binary plus libbpf.so.1.
# Build stage: compile the CO-RE BPF object, then the single Deno binary that embeds it.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates clang llvm bpftool libbpf-dev linux-libc-dev nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# npm ci rejects this lock (it lists only the linux-x64 optional binaries); install follows it.
RUN npm install --no-audit --no-fund --loglevel=error
COPY . .
# vmlinux.h comes from the build host's BTF; CO-RE relocates the object on every node kernel.
RUN bash scripts/build_bpf.sh \
 && node_modules/deno/deno compile -A --unstable-raw-imports --include lib/output/writer_worker.ts -o /out/podperf main.ts

# Runtime stage: nothing but libbpf (and its libelf/zlib) next to the binary.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/podperf /usr/local/bin/podperf
ENTRYPOINT ["/usr/local/bin/podperf"]
CMD ["collect", "--output", "/var/lib/podperf"]
