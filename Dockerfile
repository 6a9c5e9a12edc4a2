# The bridge as a container: multi-stage (build with the dev dependencies, run the one-file bundle),
# Node 24 slim, non-root, data in a volume, health checked on /healthz.
#   docker build -t logistics-bridge .
#   docker run -p 8787:8787 -v bridge-data:/var/lib/logistics-bridge logistics-bridge     (demo mode)
# Checked in `npm test` (test/deploy/deploy-files.test.ts); see README "Deployment".

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bridge ./bridge
COPY shared ./shared
COPY scripts/build.mjs ./scripts/build.mjs
RUN node scripts/build.mjs

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8787 \
    BRIDGE_DATA_DIR=/var/lib/logistics-bridge
WORKDIR /opt/logistics-bridge
# The bundle holds every dependency; nothing else from node_modules is needed at run time.
COPY --from=build /src/dist/bridge.mjs /src/dist/bridge.mjs.map ./dist/
RUN mkdir -p /var/lib/logistics-bridge && chown node:node /var/lib/logistics-bridge && chmod 0700 /var/lib/logistics-bridge
USER node
VOLUME ["/var/lib/logistics-bridge"]
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8787)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM stops it cleanly (the bridge finishes calls in flight and closes its store).
STOPSIGNAL SIGTERM
CMD ["node", "--enable-source-maps", "dist/bridge.mjs"]
