# runnel's container image: the release binary on Debian slim, running `runnel worker` with the
# worker properties file the Kubernetes manifests (deploy/kubernetes) mount.
#   docker build -t runnel:0.1 .                      (default features)
#   docker build --build-arg FEATURES=delta -t runnel:0.1-delta .
FROM rust:1.95-bookworm AS build
ARG FEATURES=""
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p runnel ${FEATURES:+--features $FEATURES} \
 && cp target/release/runnel /runnel

FROM debian:bookworm-slim
# CA certificates for TLS to databases, brokers, object stores and the Kubernetes API.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /runnel /usr/local/bin/runnel
# An unprivileged user; the state directory is a volume it owns (fsGroup in the manifests).
RUN useradd --system --uid 10001 --home-dir /var/lib/runnel runnel \
 && mkdir -p /var/lib/runnel && chown runnel /var/lib/runnel
USER 10001
EXPOSE 8083
ENTRYPOINT ["runnel"]
CMD ["worker", "--config", "/etc/runnel/worker.properties"]
