# purr's container image:   docker build -t purr .   (or podman build)
#
# Stage `build-source` builds purr in release and the example Rust plugins;
# the last stage is a slim Debian with the binary, those plugins and
# deploy/container.toml as /etc/purr/purr.toml, run as the user `purr`
# (uid 10001) with its data in the volume /data. See README, "Run it in
# production", and docs/operations.md.
#
# The base images are arguments, so a machine without a registry can name
# local ones. PURR_BUILD=prebuilt skips the Rust build: the build context
# named `prebuilt` (podman/docker build --build-context prebuilt=DIR) then
# holds bin/purr and plugins/*.wasm, built on the host (scripts/test-container).
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
ARG PURR_BUILD=source

FROM ${RUST_IMAGE} AS build-source
WORKDIR /src
COPY . .
RUN rustup target add wasm32-wasip2 \
 && cargo build --locked --release \
 && scripts/build-plugins echo guard remind webhook \
 && mkdir -p /out/bin /out/plugins \
 && cp target/release/purr /out/bin/ \
 && cp plugins/dist/echo.wasm plugins/dist/guard.wasm plugins/dist/remind.wasm \
       plugins/dist/webhook.wasm /out/plugins/

FROM scratch AS build-prebuilt
COPY --from=prebuilt bin/purr /out/bin/purr
COPY --from=prebuilt plugins/ /out/plugins/

FROM build-${PURR_BUILD} AS build

FROM ${RUNTIME_IMAGE}
# TLS roots are compiled into purr (webpki-roots): no ca-certificates needed.
RUN useradd --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin purr \
 && mkdir -p /data /etc/purr \
 && chown purr:purr /data && chmod 0700 /data
COPY --from=build /out/bin/purr /usr/local/bin/purr
COPY --from=build /out/plugins/ /usr/lib/purr/plugins/
COPY deploy/container.toml /etc/purr/purr.toml
USER purr
VOLUME /data
EXPOSE 8080
# JSON log lines for the log stack; PURR_API_TOKEN or PURR_API_TOKEN_FILE
# sets the API token, else purr makes /data/api-token on the first start.
ENV PURR_CONFIG=/etc/purr/purr.toml PURR_LOG_FORMAT=json
# purr handles SIGTERM as PID 1 itself (drain for [host] shutdown_grace_ms,
# then exit 0) and starts no child processes, so no init is needed.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["purr", "health"]
ENTRYPOINT ["purr"]
CMD ["run"]
