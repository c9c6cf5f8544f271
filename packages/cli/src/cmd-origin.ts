import { CoordinatorClient } from "@streamrp2p/api-client";
import { createOrigin, FileBroadcastState, ORIGIN_DEFAULTS } from "@streamrp2p/origin";
import { describeLadder, parseLadderSpec } from "@streamrp2p/protocol";
import { createLogger } from "@streamrp2p/service";
import { privateKeyToAccount } from "viem/accounts";
import { intFlag, parseFlags, stringFlag } from "./args.ts";
import { coordinatorUrlsFlag } from "./coordinator-flag.ts";
import { loadOrCreateKey, loadOrCreateStreamKey } from "./keys.ts";
import { stopOnSignal } from "./lifecycle.ts";

export const originHelp = `streamrp2p origin --coordinator URL[,URL...] --stream ID [--host 127.0.0.1] [--rtmp-port 1935] [--srt-port N]
                  [--http-port 8090] [--key-dir .data/origin] [--relay-addresses auto|public|any]
                  [--ladder source,720p,480p,360p] [--encoder auto|libx264|h264_nvenc|h264_vaapi]
  Accepts RTMP (and SRT) for one stream, packages HLS with ffmpeg, signs and pushes every segment.
  --coordinator takes the coordinator's replicas, comma-separated, with failover between them.
  The stream key and signing key are created on first start and kept in --key-dir.
  --http-port serves /healthz and /metrics (0: any free port, printed).
  --relay-addresses: "public" refuses to push to internal addresses (checked at connect time);
  "auto" (default) is "any" when the coordinator is on loopback, else "public"; a LAN sets "any".
  --ladder: the adaptive-bitrate renditions viewers can switch between: source (passthrough), presets
  (1080p 720p 480p 360p 240p 144p) or name:height:videoKbps:audioKbps; default: source only.
  --encoder: "auto" (default) uses VAAPI or NVENC when a trial encode works, else libx264.`;

export async function runOrigin(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    coordinator: { type: "string" },
    stream: { type: "string" },
    host: { type: "string" },
    "rtmp-port": { type: "string" },
    "srt-port": { type: "string" },
    "http-port": { type: "string" },
    "key-dir": { type: "string" },
    "relay-addresses": { type: "string" },
    ladder: { type: "string" },
    encoder: { type: "string" },
  });
  const ladder = parseLadderSpec(stringFlag(flags, "ladder", "source"));
  const encoder = stringFlag(flags, "encoder", ORIGIN_DEFAULTS.encoder);
  if (encoder !== "auto" && encoder !== "libx264" && encoder !== "h264_nvenc" && encoder !== "h264_vaapi")
    throw new Error(`--encoder must be auto, libx264, h264_nvenc or h264_vaapi, not ${encoder}`);
  const relayAddresses = stringFlag(flags, "relay-addresses", ORIGIN_DEFAULTS.relayAddresses);
  if (relayAddresses !== "auto" && relayAddresses !== "public" && relayAddresses !== "any")
    throw new Error(`--relay-addresses must be auto, public or any, not ${relayAddresses}`);
  const streamId = stringFlag(flags, "stream", "");
  if (flags.coordinator === undefined || !streamId)
    throw new Error("--coordinator URL and --stream ID are required");
  const coordinatorUrls = coordinatorUrlsFlag(flags, "");
  const keyDir = stringFlag(flags, "key-dir", ".data/origin");
  const signingKey = loadOrCreateKey(`${keyDir}/${streamId}.signing.key`).key;
  const streamKey = loadOrCreateStreamKey(`${keyDir}/${streamId}.stream-key`);
  const srtPort = flags["srt-port"] === undefined ? undefined : intFlag(flags, "srt-port", 0);
  const log = createLogger("origin");
  const origin = createOrigin(
    {
      host: stringFlag(flags, "host", ORIGIN_DEFAULTS.host),
      rtmpPort: intFlag(flags, "rtmp-port", ORIGIN_DEFAULTS.rtmpPort),
      httpPort: intFlag(flags, "http-port", ORIGIN_DEFAULTS.httpPort),
      relayAddresses,
      ladder,
      encoder,
    },
    [{ streamId, streamKey, signingKey, srtPort }],
    {
      log,
      coordinator: new CoordinatorClient({
        baseUrls: coordinatorUrls,
        onFailover: (url, err) => log.warn("coordinator replica failed; trying the next", { url, err }),
      }),
      broadcastState: (id) => new FileBroadcastState(keyDir, id),
    },
  );
  await origin.start();
  console.log(`stream ${streamId} signed by ${privateKeyToAccount(signingKey).address}`);
  console.log(
    `publish with OBS: server ${origin.rtmpUrl()}  stream key (in ${keyDir}/${streamId}.stream-key)`,
  );
  console.log(`origin health and metrics at ${origin.httpUrl}`);
  console.log(`ladder: ${describeLadder(origin.ladder)}`);
  await stopOnSignal(() => origin.stop());
}
