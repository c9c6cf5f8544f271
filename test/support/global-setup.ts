import { execFileSync } from "node:child_process";

/** Browser tests load the bundled player: build it from the current sources, never test a stale one. */
export default function setup(): void {
  execFileSync(process.execPath, ["--import", "tsx", "packages/player/build.ts"], { stdio: "inherit" });
}
