/**
 * A container image recipe for the relay, built from the repository root:
 * `docker build -f <out>/docker/Dockerfile -t streamrp2p-relay .`. Runs as
 * the unprivileged `node` user; the node key lives on the volume; SIGTERM
 * (docker stop) drains it, so stop with a timeout: `docker stop -t 60`.
 */
export function dockerfile(port: number): string {
  return `# syntax=docker/dockerfile:1
FROM node:20-bookworm-slim
WORKDIR /opt/streamrp2p
COPY package.json package-lock.json ./
COPY packages ./packages
COPY scripts ./scripts
RUN npm ci --omit=dev --no-audit --no-fund \\
 && npm cache clean --force \\
 && mkdir -p /var/lib/streamrp2p \\
 && chown node:node /var/lib/streamrp2p
ENV SRP_HOST=0.0.0.0 \\
    SRP_PORT=${port} \\
    SRP_DATA_DIR=/var/lib/streamrp2p
VOLUME ["/var/lib/streamrp2p"]
USER node
# ${port}: the relay; 80: the ACME http-01 challenge with SRP_TLS=acme (SRP_ACME_IDENTIFIER: the public IP or name).
EXPOSE ${port} 80
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \\
  CMD ["node", "-e", "const t = (process.env.SRP_TLS ?? 'off') !== 'off'; require(t ? 'node:https' : 'node:http').get('http' + (t ? 's' : '') + '://127.0.0.1:${port}/healthz', { rejectUnauthorized: false }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
ENTRYPOINT ["node", "packages/cli/bin/streamrp2p.js", "relay"]
`;
}

/** Keeps the build context small and free of local state (keys, data). */
export function dockerignore(): string {
  return `node_modules
**/node_modules
.data
.git
test-artifacts
packages/player/dist
**/*.key
`;
}
