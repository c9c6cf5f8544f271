import { type ReceiptBatch, type SigningDomain, SrpError, signProbeTask } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import { isHealthy, liveEdgeOf, type NodeStanding } from "../routing.ts";
import type { CoordinatorStore, NodeRow, StreamRow } from "../store.ts";
import { closeEpoch, type EpochCloserDeps, epochOf, nodeReputation } from "./epoch-closer.ts";
import type { EpochParams } from "./epoch-compute.ts";
import { recordEvidence } from "./evidence.ts";
import { ProbeSchedule } from "./probe-schedule.ts";
import { fetchVia, type ProbeVia } from "./probe-via.ts";
import { type ProberDeps, probeOnce } from "./prober.ts";
import { intakeReceipts } from "./receipt-intake.ts";
import { ReceiptVerifier } from "./receipt-verifier.ts";
import { betterOf, needsSecondOpinion, REPUTATION_PARAMS, type ReputationParams } from "./reputation.ts";
import { SegmentRecorder } from "./segment-recorder.ts";
import type { SessionIssuer } from "./sessions.ts";
import { TamperIndex } from "./tamper.ts";
import { UptimeTracker } from "./uptime.ts";

/** A new leader settles at most this many epochs the last one closed and left unsettled. */
const MAX_TAKEOVER_EPOCHS = 16;
/** The prober looks at what is due this often (or every probeIntervalMs, when shorter). */
const PROBE_TICK_MS = 1_000;
/**
 * Longest a probe runs: up to three go-betweens, each request with its timeout. Probes in
 * flight are bounded by the budget times this, so slow nodes cannot pile probes up.
 */
const PROBE_MAX_SECONDS = 20;

export interface AccountingOptions {
  epochMs: number;
  /** At least one probe this often; 0 disables the built-in prober (run it as its own process instead). */
  probeIntervalMs: number;
  /** Each node carrying a stream is probed about this often (ms), within `maxProbesPerSecond`. */
  probeEachNodeMs?: number;
  /** The built-in prober's budget for the whole network (probes/s). */
  maxProbesPerSecond?: number;
  recordIntervalMs: number;
  /** Receipts for a session whose ticket expired this long ago are still taken. */
  ticketGraceMs: number;
  nodeTimeoutMs: number;
  /** Unproven tamper reports count this long (ms); proofs for ever. */
  evidenceTtlMs: number;
  epochParams?: EpochParams;
  reputationParams?: ReputationParams;
}

export interface AccountingDeps {
  store: CoordinatorStore;
  /** The deployment attestations and delivery signatures are checked in. */
  domain: SigningDomain;
  issuer: SessionIssuer;
  log: Logger;
  now: () => number;
  viewerOrigin: () => string;
  fetch?: typeof fetch;
  /** Uniform in [0, 1): which node to probe and through which relay (injected for tests and the simulator). */
  random?: () => number;
  /** Nodes with their latest reports (the replica's view; default: read from the store). */
  nodes?: () => Promise<NodeRow[]>;
  /**
   * Whether this replica leads (holds the epoch lease, renewing it): only the leader closes
   * and settles epochs and runs probes. Default: always (one coordinator).
   */
  lead?: () => Promise<boolean>;
  /**
   * The lease is renewed this often (ms) on its own timer, so it never lapses while the
   * holder is busy closing or settling (a settlement waits for the chain).
   */
  leaseRenewMs?: number;
  /** Called after epochs close (settlement); a failure is retried with the next close. */
  onEpochsClosed?: (epochs: number[]) => Promise<void>;
}

/** Proof of restreaming inside the coordinator: ledger, receipts, probes, reputation, epochs. */
export class AccountingService {
  readonly uptime: UptimeTracker;
  readonly #d: AccountingDeps;
  readonly #o: AccountingOptions;
  readonly #recorder: SegmentRecorder;
  #verifier: ReceiptVerifier | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  #nextEpoch: number | undefined;
  #busy = new Set<string>();
  #leading = false;
  /** Closed epochs whose settlement has not succeeded yet. */
  #unsettled: number[] = [];
  /** Latest quality per node from probes and uptime, for routing (refreshed with the ledger). */
  readonly #quality = new Map<string, number>();
  /** Evidence that counts, per (node, stream), as of the last refresh. */
  #tamper = new TamperIndex();
  readonly #probes: ProbeSchedule;
  #probesInFlight = 0;

  constructor(deps: AccountingDeps, options: AccountingOptions) {
    this.#d = deps;
    this.#o = options;
    this.uptime = new UptimeTracker(
      options.nodeTimeoutMs,
      (options.reputationParams ?? REPUTATION_PARAMS).halfLifeMs,
    );
    this.#recorder = new SegmentRecorder(deps.store.accounting, deps.domain, deps.fetch);
    this.#probes = new ProbeSchedule(
      {
        probeIntervalMs: options.probeIntervalMs,
        probeEachNodeMs: options.probeEachNodeMs ?? 0,
        maxProbesPerSecond: options.maxProbesPerSecond ?? 0,
      },
      deps.random ?? Math.random,
    );
  }

  #nodes(): Promise<NodeRow[]> {
    return this.#d.nodes ? this.#d.nodes() : this.#d.store.listNodes();
  }

  /** Leads now: true without replicas; with them, holds the lease (renewed by this call). */
  async #leads(): Promise<boolean> {
    const leads = this.#d.lead ? await this.#d.lead() : true;
    if (leads !== this.#leading) this.#d.log.info(leads ? "epoch lease taken: leading" : "epoch lease lost");
    if (leads && !this.#leading) await this.#takeOver();
    this.#leading = leads;
    return leads;
  }

  /**
   * Becoming leader (at start, or after the last leader stopped renewing): go on from the
   * last epoch any replica closed, and settle the closed epochs the last leader may have
   * left unsettled (settling is idempotent: a posted root is recognised on-chain).
   */
  async #takeOver(): Promise<void> {
    const last = await this.#d.store.accounting.lastEpoch();
    if (last) this.#nextEpoch = last.epoch + 1;
    if (!last || !this.#d.onEpochsClosed) return;
    const s = await this.#d.store.accounting.lastSettlement();
    const settled = s ? (s.txHash ? s.epoch : s.epoch - 1) : -1;
    const from = Math.max(settled + 1, last.epoch - MAX_TAKEOVER_EPOCHS + 1);
    for (let e = from; e <= last.epoch; e++) {
      // Only epochs some replica really closed (the first one closed is wherever the network
      // started), each once.
      if (this.#unsettled.includes(e) || !(await this.#d.store.accounting.getEpoch(e))) continue;
      this.#unsettled.push(e);
    }
  }

  /**
   * Settles the closed epochs in order, checking before each that this replica still leads:
   * roots are cumulative, so an epoch is never settled past one that failed for a reason
   * that may pass (the chain is down). An epoch that does not exist is dropped.
   */
  async #settleUnsettled(settle: (epochs: number[]) => Promise<void>): Promise<void> {
    while (this.#unsettled.length > 0) {
      const epoch = this.#unsettled[0] as number;
      if (!(await this.#leads())) return;
      try {
        await settle([epoch]);
      } catch (err) {
        if (!(err instanceof SrpError && err.code === "NOT_FOUND")) throw err;
        this.#d.log.warn("not settling an epoch that was never closed", { epoch });
      }
      this.#unsettled.shift();
    }
  }

  get #closer(): EpochCloserDeps {
    return {
      store: this.#d.store.accounting,
      uptime: this.uptime,
      tamperAt: async (at) => new TamperIndex(await this.#d.store.tamperFlags(at - this.#o.evidenceTtlMs)),
      epochMs: this.#o.epochMs,
      ticketGraceMs: this.#o.ticketGraceMs,
      epochParams: this.#o.epochParams,
      reputationParams: this.#o.reputationParams,
    };
  }

  async start(): Promise<void> {
    const last = await this.#d.store.accounting.lastEpoch();
    this.#nextEpoch = last ? last.epoch + 1 : epochOf(this.#d.now(), this.#o.epochMs);
    const every = (ms: number, name: string, task: () => Promise<unknown>) => {
      if (ms <= 0) return;
      this.#timers.push(
        setInterval(() => {
          if (this.#busy.has(name)) return; // never overlap a slow run with the next
          this.#busy.add(name);
          task()
            .catch((err: unknown) => this.#d.log.warn(`${name} failed`, { err }))
            .finally(() => this.#busy.delete(name));
        }, ms),
      );
    };
    every(this.#o.recordIntervalMs, "segment ledger", async () => {
      try {
        await this.recordSegments();
      } finally {
        await this.refreshQuality(); // reputation and tamper flags move on whatever the ledger did
      }
    });
    every(Math.min(this.#o.probeIntervalMs, PROBE_TICK_MS), "probe", async () => {
      if (this.#leading) await this.probeDue();
    });
    if (this.#d.lead) every(this.#d.leaseRenewMs ?? 1_000, "lease renewal", () => this.#leads());
    every(Math.min(1_000, Math.max(100, this.#o.epochMs / 4)), "epoch close", async () => {
      if (!(await this.#leads())) return;
      for (const e of await this.closeDueEpochs()) if (!this.#unsettled.includes(e)) this.#unsettled.push(e);
      if (this.#d.onEpochsClosed) await this.#settleUnsettled(this.#d.onEpochsClosed);
    });
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
  }

  verifier(ticketPublicKey: string): ReceiptVerifier {
    this.#verifier ??= new ReceiptVerifier(ticketPublicKey);
    return this.#verifier;
  }

  intake(nodeId: string, batch: ReceiptBatch, ticketPublicKey: string) {
    if (batch.nodeId !== nodeId) throw new SrpError("FORBIDDEN", "batch names another node");
    return intakeReceipts(
      this.#d.store.accounting,
      this.verifier(ticketPublicKey),
      nodeId,
      batch,
      this.#d.now(),
      this.#o.ticketGraceMs,
    );
  }

  async recordSegments(): Promise<number> {
    const nodes = new Map((await this.#nodes()).map((n) => [n.nodeId, n]));
    const targets = (await this.#d.store.listStreams())
      .map((s) => ({
        streamId: s.streamId,
        signer: s.signer,
        urls: s.ingest.flatMap((id) => nodes.get(id)?.url ?? []),
      }))
      .filter((t) => t.urls.length > 0);
    return this.#recorder.record(targets);
  }

  /** Healthy nodes with the registered streams each holds (what a probe can ask them for). */
  async #probeable(): Promise<Array<{ nodeId: string; node: NodeRow; streamIds: string[] }>> {
    const now = this.#d.now();
    const streams = new Set((await this.#d.store.listStreams()).map((s) => s.streamId));
    return (await this.#nodes()).flatMap((node) => {
      if (!isHealthy(node, now, this.#o.nodeTimeoutMs)) return [];
      const streamIds = node.load
        .filter((l) => liveEdgeOf(node, l.streamId) >= 0 && streams.has(l.streamId))
        .map((l) => l.streamId);
      return streamIds.length > 0 ? [{ nodeId: node.nodeId, node, streamIds }] : [];
    });
  }

  /** Probes one random (healthy node, stream it carries). */
  async probeRandom() {
    const random = this.#d.random ?? Math.random;
    const pairs = (await this.#probeable()).flatMap((p) =>
      p.streamIds.map((streamId) => ({ n: p.node, streamId })),
    );
    const pick = pairs[Math.floor(random() * pairs.length)];
    if (!pick) return undefined;
    return this.probe(pick.n.nodeId, pick.n.url, pick.streamId);
  }

  /**
   * Starts the probes the schedule says are due now (ProbeSchedule: a rate that follows the
   * number of nodes, least recently probed first), each on a random stream the node holds.
   * Returns the number started; they run on, bounded in number, and store their rows.
   */
  async probeDue(): Promise<number> {
    const random = this.#d.random ?? Math.random;
    const due = this.#probes.due(this.#d.now(), await this.#probeable());
    const maxInFlight = Math.max(1, Math.ceil((this.#o.maxProbesPerSecond ?? 0) * PROBE_MAX_SECONDS));
    let started = 0;
    for (const p of due) {
      if (this.#probesInFlight >= maxInFlight) break;
      const streamId = p.streamIds[Math.floor(random() * p.streamIds.length)] as string;
      this.#probesInFlight++;
      started++;
      this.probe(p.nodeId, p.node.url, streamId)
        .catch((err: unknown) => this.#d.log.warn("probe failed", { err, nodeId: p.nodeId }))
        .finally(() => {
          this.#probesInFlight--;
        });
    }
    return started;
  }

  /**
   * Probes `nodeId` on `streamId` through a go-between relay and stores the
   * row. Bad news from one go-between is checked through a second one (of
   * another host where there is one; the coordinator itself when there is no
   * other relay); when the two disagree a third decides, and the row combines
   * the majority's measures: one hostile relay cannot fail or slow a rival's
   * probes. A go-between that does not answer properly gets a failed probe row
   * of its own.
   */
  async probe(nodeId: string, url: string, streamId: string) {
    const stream = await this.#d.store.getStream(streamId);
    if (!stream) throw new SrpError("STREAM_NOT_FOUND", `stream ${streamId} is not registered`);
    const target = { nodeId, url, streamId, signer: stream.signer };
    const tried: ProbeVia[] = [];
    const first = await this.#probeThrough(target, stream, await this.#probeVia(nodeId, url, tried));
    let row = first.row;
    if (first.via) tried.push(first.via);
    const params = this.#o.reputationParams ?? REPUTATION_PARAMS;
    if (first.via && needsSecondOpinion(row, params)) {
      const second = await this.#probeThrough(target, stream, await this.#probeVia(nodeId, url, tried));
      if (second.via) tried.push(second.via);
      if (needsSecondOpinion(second.row, params)) {
        row = betterOf(first.row, second.row); // two witnesses agree
      } else {
        // They disagree: a third decides, so one hostile go-between cannot spoil a probe and
        // a flaky node does not get every failure forgiven by a second roll.
        const third = await this.#probeThrough(target, stream, await this.#probeVia(nodeId, url, tried));
        row = needsSecondOpinion(third.row, params)
          ? betterOf(first.row, third.row)
          : betterOf(second.row, third.row);
      }
    }
    await this.#d.store.accounting.insertProbe(row);
    return row;
  }

  async #probeThrough(
    target: { nodeId: string; url: string; streamId: string; signer: string },
    stream: StreamRow,
    via: ProbeVia | undefined,
  ) {
    const f = this.#d.fetch ?? fetch;
    let viaFault: string | undefined;
    const deps: ProberDeps = {
      store: this.#d.store.accounting,
      domain: this.#d.domain,
      issuer: this.#d.issuer,
      viewerOrigin: this.#d.viewerOrigin,
      fetch: via
        ? fetchVia(
            via,
            (t) => signProbeTask(this.#d.issuer.ticketKey().privateKey, t),
            this.#d.now,
            f,
            (reason) => {
              viaFault ??= reason;
            },
          )
        : f,
      now: this.#d.now,
      onTamper: (e) =>
        recordEvidence(this.#d.store, this.#d.domain, stream, e, this.#d.now()).catch((err: unknown) =>
          this.#d.log.warn("probe evidence refused", { err }),
        ),
    };
    const row = await probeOnce(deps, target, via?.nodeId ?? null);
    if (via && viaFault !== undefined) {
      this.#d.log.warn("probe go-between at fault", {
        via: via.nodeId,
        probed: target.nodeId,
        reason: viaFault,
      });
      await this.#d.store.accounting.insertProbe({
        nodeId: via.nodeId,
        streamId: target.streamId,
        at: row.at,
        ok: false,
        ttfbMs: null,
        throughputBps: null,
        edgeLag: null,
        error: `as a probe go-between: ${viaFault}`,
        via: null,
      });
    }
    return { row, via };
  }

  /**
   * Another relay to send a probe through (heard from recently, not leaving,
   * not the probed node, none already `tried`, preferring a host not tried):
   * the probed node must not recognise the prober by its address. Only when
   * there is none does the coordinator probe directly.
   */
  async #probeVia(nodeId: string, url: string, tried: ProbeVia[]): Promise<ProbeVia | undefined> {
    const now = this.#d.now();
    const hostOf = (u: string) => new URL(u).hostname;
    const triedHosts = new Set(tried.map((t) => hostOf(t.url)));
    const candidates = (await this.#nodes()).filter(
      (n) =>
        n.nodeId !== nodeId &&
        n.url !== url &&
        !tried.some((t) => t.nodeId === n.nodeId) &&
        isHealthy(n, now, this.#o.nodeTimeoutMs),
    );
    const elsewhere = candidates.filter((n) => !triedHosts.has(hostOf(n.url)));
    const pool = elsewhere.length > 0 ? elsewhere : candidates;
    const pick = pool[Math.floor((this.#d.random ?? Math.random)() * pool.length)];
    return pick ? { nodeId: pick.nodeId, url: pick.url } : undefined;
  }

  /** Closes every epoch that has ended; returns their numbers. */
  async closeDueEpochs(): Promise<number[]> {
    const closed: number[] = [];
    const now = this.#d.now();
    while (this.#nextEpoch !== undefined && (this.#nextEpoch + 1) * this.#o.epochMs <= now) {
      const epoch = this.#nextEpoch;
      const out = await closeEpoch(this.#closer, epoch, now);
      this.#d.log.info("epoch closed", {
        epoch,
        nodes: out.credits.length,
        creditedBytes: out.credits.reduce((n, c) => n + c.creditedBytes, 0),
      });
      this.#nextEpoch = epoch + 1;
      closed.push(epoch);
    }
    return closed;
  }

  /** The stream's newest segment in the ledger (verified origin signatures), if any was recorded. */
  ledgerEdge(streamId: string): number | undefined {
    return this.#recorder.edgeOf(streamId);
  }

  /**
   * Routing's view of a node for one stream: quality in [0, 1] (1 before anything is known),
   * `tampered` with a proof on this stream (never routed to for it), `suspect` with unexpired
   * unproven evidence on it (ranked lower). Evidence on another stream does not count here.
   */
  qualityOf(nodeId: string, streamId: string): NodeStanding {
    const quality = this.#quality.get(nodeId) ?? 1;
    const state = this.#tamper.of(nodeId, streamId);
    if (state === "proven") return { quality: 0, tampered: true, suspect: false };
    return { quality, tampered: false, suspect: state === "suspect" };
  }

  async refreshQuality(): Promise<void> {
    const now = this.#d.now();
    this.#tamper = await this.#closer.tamperAt(now);
    for (const n of await this.#nodes()) {
      this.#quality.set(n.nodeId, (await nodeReputation(this.#closer, n.nodeId, now, false)).quality);
    }
  }

  async score(nodeId: string) {
    // The overview flags a proof on any stream; routing and rewards apply it per stream.
    const tampered = (await this.#closer.tamperAt(this.#d.now())).provenOnAnyStream(nodeId);
    const rep = await nodeReputation(this.#closer, nodeId, this.#d.now(), tampered);
    const credits = await this.#d.store.accounting.nodeCredits(nodeId);
    return { nodeId, reputation: rep, epochs: credits };
  }
}
