import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "@streamrp2p/service";
import nmsLogger from "node-media-server/src/core/logger.js";
import Flv from "node-media-server/src/protocol/flv.js";
import Rtmp from "node-media-server/src/protocol/rtmp.js";

nmsLogger.level = "error"; // its console lines would bypass our structured log

/**
 * The RTMP engine allocates each message's whole declared length (up to
 * 16 MiB, zero-filled) when its first chunk header arrives, per chunk
 * stream: 142 bytes could reserve 16 MiB, before any stream key. Before a
 * publish is accepted only commands flow (a few hundred bytes each); after,
 * a keyframe may be a few MiB.
 */
const MAX_COMMAND_MESSAGE_BYTES = 64 * 1024; // bytes per message before the publish is accepted
const MAX_CONNECTION_MESSAGE_BYTES = 64 * 1024 * 1024; // bytes of message buffers one connection may hold

const FLV_TYPE_AUDIO = 8;
const FLV_TYPE_VIDEO = 9;

/** Where an accepted publish's media goes, as an FLV byte stream. */
export interface PublishSink {
  write(flv: Buffer): void;
  end(): void;
}

export interface RtmpIngestOptions {
  host: string;
  port: number;
  /** The stream a publish (app, key) may feed, or undefined to refuse it. */
  authorize(app: string, key: string): string | undefined;
  /** Called once per accepted publish; undefined refuses it (e.g. already live). */
  onPublish(streamId: string, remote: string): PublishSink | undefined;
  log: Logger;
}

/**
 * RTMP ingest as OBS and ffmpeg speak it. The wire protocol (handshake,
 * chunking, AMF) is node-media-server's engine; the decision to accept a
 * publish is ours, made before any media is taken: ffmpeg's own RTMP listener
 * accepts any stream key.
 */
export class RtmpIngest {
  readonly #o: RtmpIngestOptions;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  constructor(options: RtmpIngestOptions) {
    this.#o = options;
  }

  get port(): number {
    const a = this.#server?.address();
    return typeof a === "object" && a ? a.port : this.#o.port;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.#session(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#o.port, this.#o.host, () => resolve());
    });
    this.#server = server;
    this.#o.log.info("rtmp listening", { url: `rtmp://${this.#o.host}:${this.port}/live` });
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /**
   * Wraps the engine's per-message allocation with our limits; throwing
   * inside it surfaces as a protocol error, which closes the connection.
   */
  #boundAllocations(rtmp: Rtmp, publishing: () => boolean): void {
    const engine = rtmp as unknown as {
      packetAlloc(): void;
      parserPacket: { header: { length: number }; capacity: number };
      inPackets: Map<number, { capacity: number }>;
    };
    const alloc = engine.packetAlloc.bind(rtmp);
    engine.packetAlloc = () => {
      const length = engine.parserPacket.header.length;
      const limit = publishing() ? MAX_CONNECTION_MESSAGE_BYTES : MAX_COMMAND_MESSAGE_BYTES;
      let held = length;
      for (const p of engine.inPackets.values()) if (p !== engine.parserPacket) held += p.capacity;
      if (length > limit || held > MAX_CONNECTION_MESSAGE_BYTES) {
        throw new Error(`RTMP message of ${length} bytes (${held} held) is over the limit`);
      }
      alloc();
    };
  }

  #session(socket: Socket): void {
    const { log } = this.#o;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    let sink: PublishSink | undefined;
    const rtmp = new Rtmp();
    const refuse = (code: string, description: string, streamId: number) => {
      rtmp.sendStatusMessage(streamId, "error", code, description);
      log.warn("rtmp publish refused", { remote, code, description });
      socket.end();
    };
    this.#boundAllocations(rtmp, () => sink !== undefined);
    rtmp.onOutputCallback = (buffer) => {
      if (!socket.destroyed) socket.write(buffer);
    };
    rtmp.onPlay = () =>
      refuse(
        "NetStream.Play.Failed",
        "this origin only accepts publishing",
        rtmp.parserPacket.header.stream_id,
      );
    rtmp.onPublish = (msg) => {
      const sid = rtmp.parserPacket.header.stream_id;
      const key = String(msg.streamName ?? "").split("?")[0] ?? "";
      const streamId = this.#o.authorize(String(rtmp.streamApp ?? ""), key);
      if (!streamId) return refuse("NetStream.Publish.BadName", "unknown stream key", sid);
      sink = this.#o.onPublish(streamId, remote);
      if (!sink) return refuse("NetStream.Publish.BadName", "stream is already being published", sid);
      rtmp.sendStatusMessage(sid, "status", "NetStream.Publish.Start", `${streamId} is now published.`);
      sink.write(Flv.createHeader(true, true));
      log.info("rtmp publish started", { remote, streamId });
    };
    rtmp.onPacketCallback = (packet) => {
      // Script data (@setDataFrame) is dropped: ffmpeg probes codecs from the sequence headers.
      if (sink && (packet.codec_type === FLV_TYPE_AUDIO || packet.codec_type === FLV_TYPE_VIDEO)) {
        sink.write(Flv.createMessage(packet));
      }
    };
    socket.on("data", (data) => {
      try {
        const err = rtmp.parserData(data);
        if (err) throw new Error(err);
      } catch (err) {
        log.warn("rtmp protocol error", { remote, err });
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#sockets.delete(socket);
      if (sink) {
        log.info("rtmp publish ended", { remote });
        sink.end();
        sink = undefined;
      }
    });
  }
}
