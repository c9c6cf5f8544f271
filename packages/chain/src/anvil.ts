import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { SrpError } from "@streamrp2p/protocol";

export interface DevChain {
  rpcUrl: string;
  chainId: number;
  /** anvil's well-known dev accounts' private keys (test mnemonic); for the local chain only. */
  keys: `0x${string}`[];
  stop(): Promise<void>;
}

/** anvil's default dev keys (from its public test mnemonic): never hold real value. */
const DEV_KEYS: `0x${string}`[] = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
  try {
    return require.resolve(`${pkg}/bin/anvil`);
  } catch (cause) {
    throw new SrpError(
      "UNAVAILABLE",
      `anvil binary for ${process.platform}/${process.arch} not installed (npm package ${pkg})`,
      { cause },
    );
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts anvil (the binary the npm package ships) on 127.0.0.1: a real EVM,
 * offline, instant blocks. `blockTime` 0 mines on every transaction.
 */
export async function startDevChain(options: { port?: number; chainId?: number } = {}): Promise<DevChain> {
  const port = options.port ?? (await freePort());
  const chainId = options.chainId ?? 31337;
  const proc: ChildProcess = spawn(
    anvilBinary(),
    ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId), "--silent"],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new SrpError("UNAVAILABLE", `anvil exited: ${stderr.trim()}`);
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new SrpError("TIMEOUT", "anvil did not answer within 15 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    rpcUrl,
    chainId,
    keys: DEV_KEYS,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    },
  };
}
