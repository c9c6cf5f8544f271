import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describeLadder, parseLadderSpec } from "@streamrp2p/protocol";
import { intFlag, parseFlags, stringFlag } from "./args.ts";
import { stopOnSignal } from "./lifecycle.ts";
import { LOCAL_NETWORK_DEFAULTS, startLocalNetwork } from "./local-network.ts";
import { startTestSource } from "./test-source.ts";

export const upHelp = `streamrp2p up [--test-source] [--no-chain] [--epoch-seconds 30] [--data-dir .data/up] [--rtmp-port 1935] [--srt-port N]
              [--coordinator-port 7700] [--origin-http-port 8090] [--relay-port-base 8081] [--verbose]
              [--ladder source,720p,480p,360p]

  The whole network on this machine: coordinator, origin, 2 ingest relays and 1 pulling relay, and
  (unless --no-chain) a local dev chain (anvil) with the contracts, the stream's pool funded, epochs settled.
  --test-source also starts ffmpeg publishing a test pattern with a tone. Ctrl-C stops everything.
  --ladder: the adaptive-bitrate renditions (as for: streamrp2p origin --help); default: source only.`;

export async function runUp(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    "test-source": { type: "boolean" },
    "data-dir": { type: "string" },
    "rtmp-port": { type: "string" },
    "srt-port": { type: "string" },
    "coordinator-port": { type: "string" },
    "origin-http-port": { type: "string" },
    "relay-port-base": { type: "string" },
    verbose: { type: "boolean" },
    "no-chain": { type: "boolean" },
    "epoch-seconds": { type: "string" },
    ladder: { type: "string" },
  });
  const ladder = parseLadderSpec(stringFlag(flags, "ladder", "source"));
  const dataDir = stringFlag(flags, "data-dir", LOCAL_NETWORK_DEFAULTS.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const logFile = join(dataDir, "network.log");
  const logStream = createWriteStream(logFile, { flags: "a" });
  const base = intFlag(flags, "relay-port-base", 8081);
  const say = (line: string) => console.log(`[up] ${line}`);

  say(`starting ${flags["no-chain"] ? "" : "dev chain, "}coordinator, 3 relays and the origin…`);
  const net = await startLocalNetwork({
    dataDir,
    coordinatorPort: intFlag(flags, "coordinator-port", LOCAL_NETWORK_DEFAULTS.coordinatorPort),
    rtmpPort: intFlag(flags, "rtmp-port", LOCAL_NETWORK_DEFAULTS.rtmpPort),
    originHttpPort: intFlag(flags, "origin-http-port", LOCAL_NETWORK_DEFAULTS.originHttpPort),
    srtPort: flags["srt-port"] === undefined ? undefined : intFlag(flags, "srt-port", 0),
    relayPorts: [base, base + 1, base + 2],
    epochMs: intFlag(flags, "epoch-seconds", 30) * 1000,
    chain: flags["no-chain"] ? false : { disputeWindowSeconds: 10 },
    ladder,
    logWrite: flags.verbose ? (l) => process.stderr.write(l) : (l) => logStream.write(l),
  });
  say(`coordinator   ${net.coordinator.url}`);
  say(`origin        ${net.origin.httpUrl}/healthz`);
  say(`ladder        ${describeLadder(net.origin.ladder)}`);

  say(`publish RTMP  server ${net.origin.rtmpUrl()}  stream key ${net.streamKey}`);
  if (flags["srt-port"] !== undefined)
    say(`publish SRT   srt://127.0.0.1:${String(flags["srt-port"])}?passphrase=${net.streamKey}`);
  for (const [i, r] of net.relays.entries()) {
    say(`relay ${i + 1} (${i < 2 ? "ingest" : "pull  "}) ${net.playlistUrl(r)}`);
  }
  say(`watch         ${net.coordinator.url}/watch/${net.streamId}`);
  say(`dashboard     ${net.coordinator.url}/dashboard`);
  if (net.economy) {
    const c = net.economy.deployment;
    say(`dev chain     ${net.economy.chain.rpcUrl} (anvil, chain id ${net.economy.chain.chainId})`);
    say(
      `contracts     token ${c.token}  pools ${c.pools}  distributor ${c.distributor}  registry ${c.registry}`,
    );
    say(
      `epochs        every ${intFlag(flags, "epoch-seconds", 30)} s: ${net.coordinator.url}/v1/epochs, proofs at /v1/epochs/N/proofs/ADDRESS`,
    );
  }
  say(`logs          ${logFile}`);

  const source = flags["test-source"] ? startTestSource({ url: net.rtmpPublishUrl }) : undefined;
  if (source) {
    say("test source   ffmpeg testsrc2 + 440 Hz tone → RTMP");
    source.on("exit", (code) => say(`test source exited (${code ?? "signal"})`));
  } else {
    say("waiting for a publisher (OBS: Settings → Stream → Custom, server and key above)…");
  }

  const progress = setInterval(() => {
    const stats = net.origin.stats(net.streamId);
    const edges = net.relays.map((r) => r.stream(net.streamId)?.liveEdgeSeq ?? -1);
    say(
      `${stats?.live ? "LIVE" : "idle"}  segments ${stats?.segments ?? 0}  relay live edges ${edges.join(" / ")}`,
    );
  }, 5_000);

  await stopOnSignal(async () => {
    clearInterval(progress);
    source?.kill("SIGTERM");
    await net.stop();
    logStream.end();
  }, say);
  say("stopped");
}
