// The browser bundle's entry: `window.StreamrP2P.attachPlayer(video, options)`.
import { attachPlayer } from "./player.ts";

(globalThis as unknown as { StreamrP2P: unknown }).StreamrP2P = { attachPlayer };
