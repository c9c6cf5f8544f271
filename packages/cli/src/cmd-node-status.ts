import { existsSync } from "node:fs";
import { CoordinatorClient } from "@streamrp2p/api-client";
import type { NodeStatus } from "@streamrp2p/protocol";
import { formatEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { parseFlags, stringFlag } from "./args.ts";
import { coordinatorUrlsFlag } from "./coordinator-flag.ts";
import { loadOrCreateKey } from "./keys.ts";

const MB = 1_000_000;
const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
const mb = (bytes: number) => `${(bytes / MB).toFixed(2)} MB`;

/** The operator's view, as text: streams, viewers, bytes, reputation with reasons, rewards per payee. */
export function formatNodeStatus(s: NodeStatus): string {
  const lines = [
    `node ${s.nodeId}  ${s.draining ? "DRAINING" : s.healthy ? "healthy" : "NOT HEARD FROM"}  ${s.url}  region ${s.region}${s.ingest ? "  ingest" : ""}`,
    `  supports   ${s.supports.length > 0 ? s.supports.join(", ") : "any stream"}`,
    `  now        ${s.viewers} viewers, ${s.connections} connections, ${(s.egressBps / MB).toFixed(2)} of ${s.capacityMbps} Mbit/s`,
    `  served     ${mb(s.bytesServed)} since start`,
  ];
  for (const st of s.streams) {
    lines.push(
      `    ${st.streamId}: ${st.viewers} viewers, live edge ${st.liveEdgeSeq}, ${st.upstream ? `from ${st.upstream}` : "pushed by the origin"}`,
    );
  }
  lines.push(
    `  receipts   ${mb(s.receipts.bytes)} from ${s.receipts.sessions} viewer sessions; ${mb(s.receipts.pendingBytes)} pending the next epoch`,
    `  credited   ${mb(s.credited.bytes)} over ${s.credited.epochs} epochs (weight ${s.credited.weight.toFixed(0)})`,
    `  reputation ${pct(s.reputation.quality)}: success ${pct(s.reputation.success)}, latency ${pct(s.reputation.latency)}, freshness ${pct(s.reputation.freshness)}, uptime ${pct(s.reputation.uptime)}, ${s.reputation.probes.toFixed(1)} probes${s.reputation.tampered ? ", PROVEN TAMPERING" : ""}`,
  );
  for (const why of s.reputation.explain) lines.push(`    - ${why}`);
  if (!s.rewards) {
    lines.push(`  rewards    unavailable: ${s.rewardsError ?? "unknown"}`);
  } else {
    lines.push(`  rewards    as of epoch ${s.rewards.latestEpoch ?? "none yet"} (tokens)`);
    for (const p of s.rewards.payees) {
      lines.push(
        `    ${p.role.padEnd(8)} ${p.account} ${(p.bps / 100).toFixed(2).padStart(6)} %  earned ${formatEther(BigInt(p.earned))}, claimable ${formatEther(BigInt(p.claimable))}, pending ${formatEther(BigInt(p.pending))}, claimed ${formatEther(BigInt(p.claimed))}`,
      );
    }
  }
  return lines.join("\n");
}

/** `streamrp2p node status [NODE]`: NODE defaults to this machine's node key. */
export async function runNodeStatus(argv: string[]): Promise<void> {
  const node = argv[0]?.startsWith("--") ? undefined : argv[0];
  const flags = parseFlags(node ? argv.slice(1) : argv, {
    coordinator: { type: "string" },
    "key-file": { type: "string" },
    json: { type: "boolean" },
  });
  let nodeId = node;
  if (!nodeId) {
    const file = stringFlag(flags, "key-file", ".data/relay/node.key");
    if (!existsSync(file)) throw new Error(`no node key at ${file}: give NODE or --key-file of a node`);
    const { key } = loadOrCreateKey(file);
    nodeId = privateKeyToAccount(key).address;
  }
  if (!/^0x[0-9a-fA-F]{40}$/.test(nodeId)) throw new Error(`NODE must be a 0x address, got ${nodeId}`);
  const client = new CoordinatorClient({
    baseUrls: coordinatorUrlsFlag(flags, process.env.SRP_COORDINATOR ?? "http://127.0.0.1:7700"),
  });
  const status = await client.nodeStatus(nodeId.toLowerCase());
  console.log(flags.json === true ? JSON.stringify(status, null, 2) : formatNodeStatus(status));
}
