/** Where the artifacts put things on the VM; the unit, cloud-init and the updater agree on these. */
export const VM_PATHS = {
  app: "/opt/streamrp2p",
  config: "/etc/streamrp2p/relay.yaml",
  env: "/etc/default/streamrp2p-relay",
  state: "/var/lib/streamrp2p",
  unit: "streamrp2p-relay.service",
  updateService: "streamrp2p-update.service",
  updateTimer: "streamrp2p-update.timer",
} as const;

/**
 * The relay as a hardened systemd service: restarts on failure, SIGTERM
 * drains it (viewers and child relays move, last receipts go out) within
 * TimeoutStopSec, its key lives in the state directory only it can read.
 */
export function relayUnit(): string {
  return `[Unit]
Description=StreamrP2P relay node (restreaming as support)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
DynamicUser=yes
WorkingDirectory=${VM_PATHS.app}
Environment=SRP_DATA_DIR=${VM_PATHS.state}
EnvironmentFile=-${VM_PATHS.env}
ExecStart=/usr/bin/node ${VM_PATHS.app}/packages/cli/bin/streamrp2p.js relay --config ${VM_PATHS.config}
Restart=on-failure
RestartSec=5s
# SIGTERM drains the node; give the drain its time before SIGKILL.
KillSignal=SIGTERM
TimeoutStopSec=60s
StateDirectory=streamrp2p
StateDirectoryMode=0700
# Port 80 for the ACME http-01 challenge (and 443 if the relay serves there), nothing else.
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/** Daily self-update: pull the tracked branch; when it moved, reinstall and restart (which drains). */
export function updateService(): string {
  return `[Unit]
Description=Update StreamrP2P and restart the relay when it changed
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/bin/sh ${VM_PATHS.app}/scripts/node-update.sh
`;
}

export function updateTimer(): string {
  return `[Unit]
Description=Daily StreamrP2P update

[Timer]
OnCalendar=daily
RandomizedDelaySec=1h
Persistent=true
Unit=${VM_PATHS.updateService}

[Install]
WantedBy=timers.target
`;
}
