import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { createOrigin, FileBroadcastState, type Origin } from "@streamrp2p/origin";
import { DEFAULT_LADDER, type Ladder } from "@streamrp2p/protocol";
import { createRelay, type Relay, type RelayOptions, type ServedBytes } from "@streamrp2p/relay";
import { createLogger, type Logger } from "@streamrp2p/service";
import { privateKeyToAccount } from "viem/accounts";
import { type DevEconomy, type DevEconomyOptions, startDevEconomy } from "./dev-economy.ts";
import { loadOrCreateKey, loadOrCreateStreamKey } from "./keys.ts";

export interface LocalNetworkOptions {
  dataDir: string;
  host: string;
  coordinatorPort: number;
  rtmpPort: number;
  originHttpPort: number;
  /** One port per relay (0 = any); the first `ingestRelays` take pushes, the rest pull. */
  relayPorts: number[];
  ingestRelays: number;
  streamId: string;
  srtPort?: number;
  heartbeatIntervalMs: number;
  /** Reward epoch length; short on a local network so the economy is visible. */
  epochMs: number;
  probeIntervalMs: number;
  receiptSubmitIntervalMs: number;
  /** Settle epochs on a local dev chain (anvil + the contracts); false: compute epochs only. */
  chain: false | Partial<DevEconomyOptions>;
  /** Extra options per relay, by index (e.g. a test-only corrupting relay). */
  relayOptions?: Array<Partial<RelayOptions>>;
  /** Per relay (by index): what it serves for an object, when a test makes one lie. */
  relayServedBytes?: Array<ServedBytes | undefined>;
  /** The stream's adaptive-bitrate ladder (default: the source alone). */
  ladder: Ladder;
  /** Where the services' JSON log lines go. */
  logWrite: (line: string) => void;
}

export const LOCAL_NETWORK_DEFAULTS: LocalNetworkOptions = {
  dataDir: ".data/up",
  host: "127.0.0.1",
  coordinatorPort: 7700,
  rtmpPort: 1935,
  originHttpPort: 8090,

  relayPorts: [8081, 8082, 8083],
  ingestRelays: 2,
  streamId: "demo",
  heartbeatIntervalMs: 1_000, // ms: a local network converges fast
  epochMs: 60_000, // ms
  probeIntervalMs: 5_000, // ms
  receiptSubmitIntervalMs: 2_000, // ms
  chain: false,
  ladder: DEFAULT_LADDER,
  logWrite: (line) => process.stderr.write(line),
};

export interface LocalNetwork {
  coordinator: Coordinator;
  relays: Relay[];
  origin: Origin;
  streamId: string;
  /** Secret: what OBS needs. */
  streamKey: string;
  signer: string;
  rtmpPublishUrl: string;
  /** The dev chain and contracts, when `chain` was asked for. */
  economy: DevEconomy | undefined;
  playlistUrl(relay: Relay): string;
  stop(): Promise<void>;
}

/**
 * The whole network on one machine, in one process: coordinator (SQLite under
 * dataDir), ingest relays, pulling relays, and an origin. Keys persist in dataDir.
 */
export async function startLocalNetwork(init: Partial<LocalNetworkOptions> = {}): Promise<LocalNetwork> {
  const o: LocalNetworkOptions = { ...LOCAL_NETWORK_DEFAULTS, ...init };
  const log: Logger = createLogger("up", { write: o.logWrite });
  const stopped: Array<() => Promise<void>> = [];
  try {
    const signingKey = loadOrCreateKey(join(o.dataDir, `${o.streamId}.signing.key`)).key;
    const economy = o.chain === false ? undefined : await startDevEconomy({ epochMs: o.epochMs, ...o.chain });
    if (economy) {
      stopped.push(() => economy.stop());
      await economy.createPool(o.streamId, signingKey);
    }
    // The dev chain is new on every start: so are the coordinator's ledgers, or old cumulative
    // rewards would be owed by contracts that never received them.
    const coordinatorDir = join(o.dataDir, economy ? `coordinator-${Date.now()}` : "coordinator");
    const coordinator = createCoordinator(
      {
        host: o.host,
        port: o.coordinatorPort,
        dataDir: coordinatorDir,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        nodeTimeoutMs: o.heartbeatIntervalMs * 3,
        epochMs: o.epochMs,
        probeIntervalMs: o.probeIntervalMs,
        recordIntervalMs: o.heartbeatIntervalMs,
      },
      {
        store: new SqliteStore(coordinatorDir),
        log: log.child("coordinator"),
        settlement: economy?.settlement,
      },
    );
    await coordinator.start();
    stopped.push(() => coordinator.stop());
    const client = new CoordinatorClient({ baseUrl: coordinator.url });

    const relays: Relay[] = [];
    for (const [i, port] of o.relayPorts.entries()) {
      const relayKey = loadOrCreateKey(join(o.dataDir, `relay-${i + 1}.key`)).key;
      const account = privateKeyToAccount(relayKey);
      const relay = createRelay(
        {
          host: o.host,
          port,
          ingest: i < o.ingestRelays,
          heartbeatIntervalMs: o.heartbeatIntervalMs,
          receiptSubmitIntervalMs: o.receiptSubmitIntervalMs,
          ...o.relayOptions?.[i],
        },

        {
          account,
          log: log.child(`relay${i + 1}`),
          coordinator: client,
          ...(o.relayServedBytes?.[i] ? { servedBytes: o.relayServedBytes[i] } : {}),
        },
      );
      await relay.start();
      stopped.push(() => relay.stop());
      relays.push(relay);
      await economy?.registerNode(relayKey);
    }

    const streamKey = loadOrCreateStreamKey(join(o.dataDir, `${o.streamId}.stream-key`));
    const origin = createOrigin(
      {
        host: o.host,
        rtmpPort: o.rtmpPort,
        httpPort: o.originHttpPort,
        ingestRefreshMs: o.heartbeatIntervalMs * 2,
        ladder: o.ladder,
      },
      [{ streamId: o.streamId, streamKey, signingKey, srtPort: o.srtPort }],
      {
        log: log.child("origin"),
        coordinator: client,
        broadcastState: (id) => new FileBroadcastState(o.dataDir, id),
      },
    );
    await origin.start();
    stopped.push(() => origin.stop());

    return {
      coordinator,
      relays,
      origin,
      streamId: o.streamId,
      streamKey,
      signer: privateKeyToAccount(signingKey).address.toLowerCase(),
      rtmpPublishUrl: `${origin.rtmpUrl()}/${streamKey}`,
      economy,
      playlistUrl: (relay) => `${relay.url}/live/${o.streamId}/index.m3u8`,
      async stop() {
        for (const stop of stopped.reverse()) await stop();
      },
    };
  } catch (err) {
    for (const stop of stopped.reverse()) await stop().catch(() => {});
    throw err;
  }
}
