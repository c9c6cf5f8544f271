import { execFileSync } from "node:child_process";

/** Browser tests load the pages and player the coordinator serves: build them from the current sources, never test stale ones. */
export default function setup(): void {
  execFileSync(process.execPath, ["--import", "tsx", "packages/coordinator/build.ts"], { stdio: "inherit" });
}
