/**
 * The long fuzz run: the parser properties with many more runs, then many
 * more random HTTP requests against relay, coordinator and origin running as
 * separate processes on 127.0.0.1.
 *
 *   node --import tsx bench/fuzz.ts [--seed N] [--requests 30000] [--parser-runs 3000]
 *
 * The seed is printed first; the same seed replays the same inputs. Ends with
 * `RESULT fuzz_requests <n> count` and `RESULT fuzz_failures <n> count`, and
 * exits non-zero on any failure (a 5xx, a dead or unhealthy process, RSS
 * growth past the bound, a failed parser property) or when it could not run.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  type FuzzStats,
  generateRequests,
  runRequests,
  type ServiceKind,
  signedPool,
} from "../test/support/http-fuzz.ts";
import { type ProcessNetwork, rssKiB, startProcessNetwork } from "../test/support/processes.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    requests: { type: "string", default: "30000" },
    "parser-runs": { type: "string", default: "3000" },
  },
});
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const totalRequests = Number(values.requests);
const parserRuns = Number(values["parser-runs"]);
const BATCH = 2_000; // requests between health and RSS checks
const CONCURRENCY = 16; // connections in flight
const CLIENT_TIMEOUT_MS = 3_000; // ms; no answer (a long-poll) is not a failure
const RSS_GROWTH_LIMIT_KIB = 200 * 1024; // over the whole run
const PARSER_FUZZ_FILES = [
  "packages/protocol/test/fuzz-hls.test.ts",
  "packages/protocol/test/fuzz-wire.test.ts",
  "packages/origin/test/fuzz-fmp4.test.ts",
  "packages/service/test/fuzz-url.test.ts",
];
const say = (line: string) => console.log(`[bench] ${line}`);

/** The parser properties through vitest, with this seed and more runs; returns the failed test count. */
function parserFuzz(): number {
  const r = spawnSync("npx", ["vitest", "run", "--reporter=json", ...PARSER_FUZZ_FILES], {
    env: { ...process.env, FUZZ_SEED: String(seed), FUZZ_RUNS: String(parserRuns) },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const json = /\{"numTotalTestSuites".*\}/s.exec(r.stdout)?.[0];
  if (!json) throw new Error(`vitest gave no report (exit ${r.status}):\n${r.stderr.slice(-4000)}`);
  const report = JSON.parse(json) as {
    numTotalTests: number;
    numFailedTests: number;
    testResults: { assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
  };
  for (const t of report.testResults.flatMap((f) => f.assertionResults)) {
    if (t.status !== "passed")
      say(`parser FAIL ${t.fullName}\n${t.failureMessages.join("\n").slice(0, 4000)}`);
  }
  say(
    `parser properties: ${report.numTotalTests} tests at ${parserRuns} runs each, ${report.numFailedTests} failed`,
  );
  return report.numFailedTests + (report.numTotalTests === 0 ? 1 : 0);
}

async function httpFuzz(net: ProcessNetwork, stats: FuzzStats): Promise<number> {
  const key = readFileSync(join(net.keyDir, `${net.streamId}.signing.key`), "utf8").trim() as Hex;
  const nodes = (await (await fetch(`${net.coordinator.url}/v1/nodes`)).json()) as {
    nodes: { nodeId: string }[];
  };
  const ctx = {
    streamId: net.streamId,
    nodeIds: nodes.nodes.map((n) => n.nodeId),
    signed: await signedPool(privateKeyToAccount(key), net.streamId, 40),
  };
  const urls: Record<ServiceKind, string> = {
    relay: net.relay.url,
    coordinator: net.coordinator.url,
    origin: net.origin.url,
  };
  const baseline = Object.fromEntries(net.all().map((p) => [p.name, rssKiB(p.pid)]));
  let failures = 0;
  for (let done = 0, batch = 0; done < totalRequests; batch++) {
    const n = Math.min(BATCH, totalRequests - done);
    const share = { relay: Math.floor(n * 0.47), coordinator: Math.floor(n * 0.47) };
    const counts: Record<ServiceKind, number> = { ...share, origin: n - share.relay - share.coordinator };
    const requests = (Object.keys(counts) as ServiceKind[]).flatMap((s, i) =>
      generateRequests(s, urls[s], ctx, seed + batch * 3 + i, counts[s]),
    );
    const before = stats.failures.length;
    await runRequests((s) => urls[s], requests, CONCURRENCY, CLIENT_TIMEOUT_MS, stats);
    for (const f of stats.failures.slice(before))
      say(`FAIL ${f.service} ${f.status} ${f.code ?? "-"} batch ${batch}: ${f.request}`);
    done += n;
    for (const p of net.all()) {
      const growth = p.exited ? Number.NaN : rssKiB(p.pid) - (baseline[p.name] ?? 0);
      const healthy = await fetch(`${p.url}/healthz`, { signal: AbortSignal.timeout(3_000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (p.exited || !healthy || !(growth < RSS_GROWTH_LIMIT_KIB)) {
        failures += 1;
        say(
          `FAIL ${p.name}: exited ${JSON.stringify(p.exited)}, healthy ${healthy}, RSS growth ${growth} KiB\n${p.output().slice(-4000)}`,
        );
      }
    }
    say(
      `${done}/${totalRequests} requests, ${stats.failures.length} 5xx, statuses ${JSON.stringify(stats.byStatus)}`,
    );
    if (failures > 0) break; // a dead process makes every later answer meaningless
  }
  for (const p of net.all())
    say(`${p.name} RSS ${baseline[p.name]} -> ${p.exited ? "exited" : rssKiB(p.pid)} KiB`);
  return failures + stats.failures.length;
}

async function main(): Promise<number> {
  say(
    `seed ${seed} (replay: --seed ${seed}); ${totalRequests} requests, ${parserRuns} runs per parser property`,
  );
  let failures = parserFuzz();
  const stats: FuzzStats = { requests: 0, byStatus: {}, byCode: {}, failures: [], slowestMs: 0 };
  const net = await startProcessNetwork("bench-fuzz");
  const started = Date.now();
  try {
    failures += await httpFuzz(net, stats);
  } finally {
    await net.stop();
  }
  say(
    `${stats.requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, slowest answer ${Math.round(stats.slowestMs)} ms`,
  );
  console.log(`RESULT fuzz_requests ${stats.requests} count`);
  console.log(`RESULT fuzz_failures ${failures} count`);
  return failures;
}

main().then(
  (failures) => process.exit(failures === 0 ? 0 : 1),
  (err: unknown) => {
    say(`could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    console.log("RESULT fuzz_failures 1 count");
    process.exit(2);
  },
);
