import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/tools.ts";

const SCRIPT = resolve("scripts/node-update.sh");
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();

/** What the daily timer runs on a deployed node, against a real git remote and a real npm ci. */
describe("scripts/node-update.sh", () => {
  it("does nothing when the branch has not moved; updates, reinstalls and restarts when it has", () => {
    const dir = tempDir("node-update");
    const upstream = join(dir, "upstream");
    execFileSync("git", ["init", "-q", "-b", "main", upstream]);
    writeFileSync(
      join(upstream, "package.json"),
      JSON.stringify({
        name: "n",
        version: "1.0.0",
        private: true,
        scripts: { postinstall: "touch installed" },
      }),
    );
    writeFileSync(
      join(upstream, "package-lock.json"),
      JSON.stringify({
        name: "n",
        version: "1.0.0",
        lockfileVersion: 3,
        requires: true,
        packages: { "": { name: "n", version: "1.0.0" } },
      }),
    );
    git(upstream, "add", "-A");
    git(upstream, "commit", "-q", "-m", "v1");
    const app = join(dir, "app");
    // As cloud-init clones it: shallow, one branch.
    execFileSync("git", ["clone", "-q", "--depth", "1", "--branch", "main", `file://${upstream}`, app]);
    const marker = join(dir, "restarted");
    const update = () =>
      spawnSync("sh", [SCRIPT], {
        encoding: "utf8",
        env: { ...process.env, SRP_APP_DIR: app, SRP_RESTART: `touch ${marker}` },
      });

    const same = update();
    expect(same.status, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/up to date at [0-9a-f]{40}/);
    expect(existsSync(marker)).toBe(false);

    writeFileSync(join(upstream, "NEW"), "v2\n");
    git(upstream, "add", "-A");
    git(upstream, "commit", "-q", "-m", "v2");
    const moved = update();
    expect(moved.status, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(/updated [0-9a-f]{40} -> [0-9a-f]{40}/);
    expect(git(app, "rev-parse", "HEAD")).toBe(git(upstream, "rev-parse", "HEAD"));
    expect(existsSync(join(app, "NEW"))).toBe(true);
    expect(existsSync(join(app, "installed"))).toBe(true); // npm ci ran (the package's postinstall)
    expect(existsSync(marker)).toBe(true);

    // A dead remote fails loudly and leaves the checkout as it was.
    git(app, "remote", "set-url", "origin", `file://${join(dir, "gone")}`);
    const dead = update();
    expect(dead.status).not.toBe(0);
    expect(git(app, "rev-parse", "HEAD")).toBe(git(upstream, "rev-parse", "HEAD"));
  });
});
