import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import {
  type LocalNetwork,
  type LocalNetworkOptions,
  startLocalNetwork,
  startTestSource,
  type TestSourceOptions,
} from "@streamrp2p/cli";
import { requireFfmpeg, tempDir, waitUntil } from "./tools.ts";

export interface LiveTestNetwork {
  net: LocalNetwork;
  source: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The local network on free ports with ffmpeg publishing a test source;
 * with `waitLive`, returns once the pulling relay holds a few segments.
 */
export async function startLiveTestNetwork(
  name: string,
  extra: Partial<LocalNetworkOptions> = {},
  waitLive = true,
  /** The test source's picture (default 640x360 at 30 fps). */
  sourceOptions: Omit<TestSourceOptions, "url"> = {},
): Promise<LiveTestNetwork> {
  requireFfmpeg();
  const net = await startLocalNetwork({
    dataDir: join(tempDir(name), "net"),
    coordinatorPort: 0,
    rtmpPort: 0,
    originHttpPort: 0,
    relayPorts: [0, 0, 0],
    logWrite: () => {},
    ...extra,
  });
  const source = startTestSource({ ...sourceOptions, url: net.rtmpPublishUrl });
  const stop = async () => {
    source.kill("SIGKILL");
    await net.stop();
  };
  if (waitLive) {
    await waitUntil(
      "live on the pulling relay",
      () => ((net.relays[2]?.stream(net.streamId)?.liveEdgeSeq ?? -1) >= 2 ? true : undefined),
      20_000,
    ).catch(async (err: unknown) => {
      await stop();
      throw err;
    });
  }
  return { net, source, stop };
}
