import { stringify } from "yaml";
import { relayUnit, updateService, updateTimer, VM_PATHS } from "./systemd.ts";

/**
 * Values spliced into the user-data. Concrete for `deploy --target cloud-init`;
 * Terraform template expressions (`${...}`) for the Terraform modules, so one
 * generator serves both and they cannot drift.
 */
export interface CloudInitSlots {
  repo: string;
  ref: string;
  port: string;
  /** The relay's config file, as text. */
  relayYaml: string;
}

/**
 * cloud-init user-data for a fresh Debian 13 VM: Node.js (20.x from Debian)
 * and ffmpeg, the relay as a systemd service that restarts on failure,
 * daily self-updates plus unattended OS security upgrades, the relay port
 * and port 80 (ACME http-01) open in ufw, HTTPS with an IP certificate. The node key is made on first start, on the VM, and never
 * leaves it; its address is in `journalctl -u streamrp2p-relay`.
 */
export function cloudInit(s: CloudInitSlots): string {
  const doc = {
    package_update: true,
    package_upgrade: true,
    packages: ["nodejs", "npm", "ffmpeg", "git", "ufw", "unattended-upgrades"],
    write_files: [
      { path: VM_PATHS.config, permissions: "0644", content: s.relayYaml },
      { path: `/etc/systemd/system/${VM_PATHS.unit}`, permissions: "0644", content: relayUnit() },
      {
        path: `/etc/systemd/system/${VM_PATHS.updateService}`,
        permissions: "0644",
        content: updateService(),
      },
      { path: `/etc/systemd/system/${VM_PATHS.updateTimer}`, permissions: "0644", content: updateTimer() },
      {
        path: "/etc/apt/apt.conf.d/20auto-upgrades",
        permissions: "0644",
        content: 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n',
      },
    ],
    runcmd: [
      ["git", "clone", "--depth", "1", "--branch", s.ref, s.repo, VM_PATHS.app],
      ["sh", "-c", `cd ${VM_PATHS.app} && npm ci --omit=dev --no-audit --no-fund`],
      // The address viewers reach this VM at: its first (public) address, over HTTPS with a
      // certificate for that IP address from Let's Encrypt (its short-lived profile), obtained and
      // renewed by the relay itself over http-01 on port 80: no domain and no manual step.
      [
        "sh",
        "-c",
        `ip=$(hostname -I | cut -d' ' -f1) && printf 'SRP_PUBLIC_URL=https://%s:${s.port}\\nSRP_TLS=acme\\nSRP_ACME_IDENTIFIER=%s\\nSRP_ACME_PROFILE=shortlived\\n' "$ip" "$ip" > ${VM_PATHS.env}`,
      ],
      ["ufw", "allow", "22/tcp"],
      ["ufw", "allow", "80/tcp"],
      ["ufw", "allow", `${s.port}/tcp`],
      ["ufw", "--force", "enable"],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", VM_PATHS.unit, VM_PATHS.updateTimer],
    ],
    final_message:
      "StreamrP2P relay started after $UPTIME s: journalctl -u streamrp2p-relay shows its address",
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
