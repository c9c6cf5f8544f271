import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NodeConfigSchema } from "@streamrp2p/protocol";
import { writeNodeConfig } from "../node-config.ts";

const CLI = fileURLToPath(new URL("../../bin/streamrp2p.js", import.meta.url));

export interface LocalNode {
  index: number;
  config: string;
  process: ChildProcess;
  nodeId: string;
  url: string;
}

export interface LocalDeployOptions {
  count: number;
  coordinator: string;
  support: string[];
  /** Node i listens on portBase + i (0: any free port). */
  portBase: number;
  dataDir: string;
  say: (line: string) => void;
}

/**
 * `deploy --local N`: N relay processes on this machine, each from its own
 * generated config and key, joining the network as a cloud node would.
 */
export async function startLocalNodes(o: LocalDeployOptions): Promise<LocalNode[]> {
  const nodes: LocalNode[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const dir = join(o.dataDir, `node-${i + 1}`);
      mkdirSync(dir, { recursive: true });
      const config = join(dir, "relay.yaml");
      writeNodeConfig(
        config,
        NodeConfigSchema.parse({
          coordinator: o.coordinator,
          port: o.portBase === 0 ? 0 : o.portBase + i,
          support: o.support,
          dataDir: dir,
          region: "local",
        }),
      );
      // Own process group: a terminal's Ctrl-C reaches only us, and we drain the nodes once
      // (a second signal would make a node exit at once).
      const child = spawn(process.execPath, [CLI, "relay", "--config", config], {
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      child.stderr?.resume(); // the node's JSON logs; not echoed (they would drown the summary)
      const started = await new Promise<{ nodeId: string; url: string }>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`node ${i + 1} did not start within 30 s`)), 30_000);
        child.stdout?.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /relay (0x[0-9a-fA-F]{40}).* serving at (http\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve({ nodeId: (m[1] as string).toLowerCase(), url: m[2] as string });
          }
        });
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`node ${i + 1} exited with ${code} before it started: ${out}`));
        });
      });
      nodes.push({ index: i + 1, config, process: child, ...started });
      o.say(`node ${i + 1}/${o.count} ${started.nodeId} at ${started.url} (config ${config})`);
    }
    return nodes;
  } catch (err) {
    await stopLocalNodes(nodes);
    throw err;
  }
}

/** SIGTERM to every node (each drains), then waits for all to exit. */
export async function stopLocalNodes(nodes: LocalNode[]): Promise<void> {
  await Promise.all(
    nodes.map(
      (n) =>
        new Promise<void>((resolve) => {
          if (n.process.exitCode !== null) return resolve();
          n.process.once("exit", () => resolve());
          n.process.kill("SIGTERM");
        }),
    ),
  );
}
