// Types for the parts of node-media-server's RTMP protocol engine we use.
declare module "node-media-server/src/protocol/rtmp.js" {
  interface AVPacket {
    codec_type: number;
    codec_id: number;
    flags: number;
    dts: number;
    pts: number;
    size: number;
    data: Buffer;
  }
  interface InvokeMessage {
    cmd: string;
    transId: number;
    streamName?: string;
  }
  class Rtmp {
    streamApp: string;
    streamId: number;
    parserPacket: { header: { stream_id: number } };
    onConnectCallback: (req: unknown) => void;
    onPlayCallback: () => void;
    onPushCallback: () => void;
    onPacketCallback: (packet: AVPacket) => void;
    onOutputCallback: (buffer: Buffer) => void;
    parserData(buffer: Buffer): string | null | undefined;
    onPublish(invokeMessage: InvokeMessage): void;
    onPlay(invokeMessage: InvokeMessage): void;
    sendStatusMessage(sid: number, level: string, code: string, description: string): void;
  }
  export = Rtmp;
}
declare module "node-media-server/src/protocol/flv.js" {
  // biome-ignore lint/complexity/noStaticOnlyClass: mirrors the library's own shape
  class Flv {
    static createHeader(hasAudio: boolean, hasVideo: boolean): Buffer;
    static createMessage(packet: { codec_type: number; dts: number; size: number; data: Buffer }): Buffer;
  }
  export = Flv;
}
declare module "node-media-server/src/core/logger.js" {
  const logger: { level: string };
  export = logger;
}
