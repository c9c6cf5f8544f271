import {
  COORDINATOR_DEFAULTS,
  checkTicketMatchesSession,
  issueSession,
  ProbeSchedule,
  ReceiptVerifier,
  type SessionRow,
  siteOf,
  subnetOf,
  TicketLimits,
} from "@streamrp2p/coordinator";
import { type Ed25519KeyPair, generateEd25519, signReceipt } from "@streamrp2p/protocol";
import { CoordinatorModel } from "./coordinator-model.ts";
import {
  attach,
  computeAvailability,
  type DeliveryContext,
  type DeliveryStats,
  playTick,
  route,
} from "./delivery.ts";
import { closeSimEpoch, type EpochBook, type EpochResult } from "./epochs.ts";
import { EventQueue } from "./event-queue.ts";
import { pickWeighted, randomIPv4 } from "./net.ts";
import { probeDue } from "./probes.ts";
import { Rng, zipfSampler } from "./rng.ts";
import type { Scenario } from "./scenario.ts";
import { buildNodes, buildStreams, type SimNode, type SimStream, type Viewer } from "./world.ts";

export interface SeriesPoint {
  t: number; // ms
  viewers: number;
  stallRatio: number;
  relays: number;
  ingestGbps: number;
}

export interface RunStats {
  series: SeriesPoint[];
  epochs: EpochResult[];
  stallMs: number;
  playMs: number;
  startups: number[];
  failovers: number;
  receipts: number;
  tamperReports: number;
  sessions: number;
  fakeSessions: number;
  fakeTicketsRefused: number;
  realReceipts: number;
  realVerifyMs: number;
  ingestBytes: number;
  originBytes: number;
  events: number;
  peakRssBytes: number;
  wallMs: number;
  /** Nodes the starvation attack took down, for the report. */
  darkAt: number | undefined;
}

export interface SimOptions {
  /** Called about every `progressEveryMs` of virtual time. */
  onProgress?: (line: string) => void;
}

/**
 * One scenario run: the virtual clock, the simulated nodes, streams and
 * viewers, and the coordinator's production rules in between (see
 * CoordinatorModel, delivery.ts, epochs.ts, probes.ts).
 */
export class Simulation {
  readonly queue = new EventQueue(0);
  readonly rng: Rng;
  readonly streams: SimStream[];
  readonly nodes: SimNode[];
  readonly model: CoordinatorModel;
  readonly book: EpochBook = { live: new Set(), ended: [], creditedSoFar: new Map() };
  readonly stats: RunStats;
  readonly #tick: DeliveryContext;
  readonly #arrivals: Rng;
  readonly #pickStream: () => number;
  #ticketKey: Ed25519KeyPair | undefined;
  #verifier: ReceiptVerifier | undefined;
  readonly #ticketLimits: TicketLimits;
  #pendingCrypto: Viewer[] = [];
  #realJobs: DeliveryStats["realReceipts"] = [];
  #sessionSeq = 0;

  constructor(
    readonly s: Scenario,
    readonly options: SimOptions = {},
  ) {
    this.rng = new Rng(s.seed);
    this.streams = buildStreams(s, this.rng.fork());
    this.nodes = buildNodes(s, this.rng.fork(), this.streams);
    this.model = new CoordinatorModel(this.nodes, this.streams, this.queue.now, this.rng.fork(), s.tickMs);
    this.#arrivals = this.rng.fork();
    this.#pickStream = zipfSampler(s.streams.count, s.streams.zipfS, this.rng.fork());
    const now = this.queue.now;
    this.#ticketLimits = new TicketLimits(COORDINATOR_DEFAULTS, now);
    this.stats = {
      series: [],
      epochs: [],
      stallMs: 0,
      playMs: 0,
      startups: [],
      failovers: 0,
      receipts: 0,
      tamperReports: 0,
      sessions: 0,
      fakeSessions: 0,
      fakeTicketsRefused: 0,
      realReceipts: 0,
      realVerifyMs: 0,
      ingestBytes: 0,
      originBytes: 0,
      events: 0,
      peakRssBytes: 0,
      wallMs: 0,
      darkAt: undefined,
    };
    this.#tick = {
      s,
      model: this.model,
      nodes: this.nodes,
      streams: this.streams,
      rng: this.rng.fork(),
      now: 0,
      tickMs: s.tickMs,
      ingestBytes: { value: 0 },
    };
  }

  async run(): Promise<RunStats> {
    const started = performance.now();
    this.#ticketKey = await generateEd25519();
    this.#verifier = new ReceiptVerifier(this.#ticketKey.publicKey);
    this.#schedule();
    const end = this.s.durationMs;
    for (let t = 0; t <= end; t += this.s.tickMs) {
      this.queue.run(t - 1);
      await this.#flushCrypto();
      this.queue.run(t);
      await this.#flushReceipts();
      this.stats.peakRssBytes = Math.max(this.stats.peakRssBytes, process.memoryUsage.rss());
    }
    this.queue.run(end + 1);
    this.stats.ingestBytes = this.#tick.ingestBytes.value;
    // The origin pushes every segment to its two ingest relays from the stream's start.
    this.stats.originBytes = this.streams.reduce(
      (sum, st) => sum + (2 * st.bitrateBps * (Math.max(0, end - st.startedAt) / 1000)) / 8,
      0,
    );
    this.stats.wallMs = performance.now() - started;
    return this.stats;
  }

  #schedule(): void {
    const { s, queue } = this;
    const end = s.durationMs;
    queue.every(0, s.tickMs, end, () => this.#onTick());
    const probeRng = this.rng.fork();
    // The prober's schedule, called once a tick (so a tick's worth of probes is owed per call).
    const probes = new ProbeSchedule(
      {
        probeIntervalMs: s.coordinator.probeIntervalMs,
        probeEachNodeMs: s.coordinator.probeEachNodeMs,
        maxProbesPerSecond: s.coordinator.maxProbesPerSecond,
        maxCatchUpMs: s.tickMs,
      },
      () => probeRng.next(),
    );
    queue.every(0, s.tickMs, end, () =>
      probeDue(probes, this.model, this.nodes, this.streams, this.#tick.rng, s),
    );
    for (let e = 0; e * s.coordinator.epochMs < end; e++) {
      const closeAt = Math.min(end, (e + 1) * s.coordinator.epochMs) + 1;
      queue.at(closeAt, () => this.#closeEpoch(e));
      if (s.attack.kind === "fake-viewers") this.#scheduleFakes(e);
    }
    this.#nextArrival(0);
    if (s.flash) this.#scheduleFlash();
    this.#scheduleChurn();
    if (s.attack.kind === "starvation") {
      const at = s.attack.atMs ?? s.viewers.peakAtMs ?? Math.floor(end / 2);
      queue.at(at, () => {
        this.stats.darkAt = at;
        for (const n of this.nodes) if (n.role === "supporter") this.#down(n);
      });
    }
  }

  /** The daily shape of arrivals at `t` (1 flat; peaks at `peakAtMs`). */
  #shape(t: number): number {
    const v = this.s.viewers;
    if (v.peakAtMs === undefined) return 1;
    return 1 + v.diurnalDepth * Math.cos((2 * Math.PI * (t - v.peakAtMs)) / 86_400_000);
  }

  /** The shape's mean over the run, so that `viewers.total` sessions arrive in expectation. */
  #meanShape = -1;

  /** Arrival rate (per ms) at `t`. */
  #rate(t: number): number {
    if (this.#meanShape < 0) {
      let sum = 0;
      for (let i = 0; i < 1000; i++) sum += this.#shape(((i + 0.5) / 1000) * this.s.durationMs);
      this.#meanShape = sum / 1000;
    }
    return ((this.s.viewers.total / this.s.durationMs) * this.#shape(t)) / this.#meanShape;
  }

  /** Non-homogeneous Poisson arrivals by thinning, one event at a time (no list of a million). */
  #nextArrival(from: number): void {
    const v = this.s.viewers;
    if (v.total === 0) return;
    const max = this.#rate(v.peakAtMs ?? 0) * (1 + v.diurnalDepth);
    let t = from;
    for (;;) {
      t += this.#arrivals.exp(1 / max);
      if (t > this.s.durationMs) return;
      if (this.#arrivals.next() * max <= this.#rate(t)) break;
    }
    this.queue.at(t, () => {
      const st = this.#liveStream();
      if (st) this.#join(st, this.#arrivals.exp(v.meanWatchMs));
      this.#nextArrival(t);
    });
  }

  /** A stream by popularity among those already live (viewers come for what is on). */
  #liveStream(): SimStream | undefined {
    const now = this.queue.now();
    for (let i = 0; i < 50; i++) {
      const st = this.streams[this.#pickStream()] as SimStream;
      if (st.startedAt <= now) return st;
    }
    return undefined;
  }

  #scheduleFlash(): void {
    const f = this.s.flash;
    if (!f) return;
    const st = this.streams[0] as SimStream;
    const stay = this.s.durationMs * 2; // they stay to the end
    for (let i = 0; i < f.from; i++)
      this.queue.at(Math.max(0, f.atMs - this.#arrivals.next() * 60_000), () => this.#join(st, stay));
    const extra = f.to - f.from;
    for (let i = 0; i < extra; i++)
      this.queue.at(f.atMs + (i / extra) * f.rampMs, () => this.#join(st, stay));
  }

  #scheduleChurn(): void {
    const { nodes: cfg } = this.s;
    const rng = this.rng.fork();
    for (const n of this.nodes) {
      const fail = (from: number) => {
        const at = from + rng.exp(cfg.mtbfMs);
        if (at > this.s.durationMs) return;
        this.queue.at(at, () => {
          if (!n.alive || (n.role === "supporter" && this.stats.darkAt !== undefined)) return;
          this.#down(n);
          this.queue.after(rng.exp(cfg.downMs), () => {
            if (n.role === "supporter" && this.stats.darkAt !== undefined) return;
            n.alive = true;
            fail(this.queue.now());
          });
        });
      };
      fail(0);
    }
  }

  #down(n: SimNode): void {
    n.alive = false;
    this.model.nodeDown(n);
  }

  #newSession(st: SimStream, addr: string): SessionRow {
    const now = this.queue.now();
    const sessionId = (++this.#sessionSeq).toString(16).padStart(32, "0");
    return {
      sessionId,
      streamId: st.id,
      viewerKey: null,
      clientAddr: addr,
      subnet: subnetOf(addr),
      site: siteOf(addr),
      issuedAt: now,
      // The ticket's lifetime, as issued; a watch longer than it ends with it (receipts past it are refused).
      expiresAt: now + COORDINATOR_DEFAULTS.ticketTtlMs,
      isProbe: false,
    };
  }

  #join(st: SimStream, watchMs: number): void {
    const now = this.queue.now();
    const addr = randomIPv4(this.#arrivals);
    if (!this.#ticketLimits.take(addr)) return;
    const v: Viewer = {
      session: this.#newSession(st, addr),
      stream: st,
      region: pickWeighted(this.s.viewers.regions, this.#arrivals),
      fake: false,
      node: undefined,
      candidates: [],
      next: 0,
      bufferMs: 0,
      started: false,
      waitedMs: 0,
      stallMs: 0,
      playMs: 0,
      endAt: now + Math.min(watchMs, COORDINATOR_DEFAULTS.ticketTtlMs),
      receipts: new Map(),
      mediaMs: new Map(),
      real: undefined,
    };
    this.stats.sessions++;
    route(this.#tick, v);
    const first = v.candidates[0];
    const n = first === undefined ? undefined : this.model.node(first);
    if (n) attach(v, n);
    this.book.live.add(v);
    if (this.#arrivals.int(1000) < this.s.coordinator.realCryptoPerMille) this.#pendingCrypto.push(v);
  }

  /** Fake viewers of the attack: sessions from one address block, receipts to the operator's nodes. */
  #scheduleFakes(epoch: number): void {
    const a = this.s.attack;
    if (a.kind !== "fake-viewers") return;
    const rng = this.rng.fork();
    const epochMs = this.s.coordinator.epochMs;
    for (let i = 0; i < a.sessionsPerEpoch; i++) {
      const at = epoch * epochMs + rng.next() * epochMs;
      if (at > this.s.durationMs) continue;
      this.queue.at(at, () => {
        const addr =
          a.addressing === "ipv4-24"
            ? `198.51.100.${1 + rng.int(254)}`
            : `2001:db8:beef:${rng.int(65536).toString(16)}::${(1 + rng.int(65535)).toString(16)}`;
        if (!this.#ticketLimits.take(addr)) {
          this.stats.fakeTicketsRefused++;
          return;
        }
        const ops = this.nodes.filter((n) => n.role === "fake-operator");
        const st = this.#liveStream();
        if (!st) return;
        const now = this.queue.now();
        const watch = rng.exp(this.s.viewers.meanWatchMs);
        const v: Viewer = {
          session: this.#newSession(st, addr),
          stream: st,
          region: "eu-west",
          fake: true,
          node: ops[rng.int(ops.length)],
          candidates: [],
          next: 0,
          bufferMs: 0,
          started: true,
          waitedMs: 0,
          stallMs: 0,
          playMs: 0,
          endAt: now + watch,
          receipts: new Map(),
          mediaMs: new Map(),
          real: undefined,
        };
        this.stats.fakeSessions++;
        this.book.live.add(v);
      });
    }
  }

  #onTick(): void {
    const now = this.queue.now();
    const c = this.#tick;
    c.now = now;
    for (const n of this.nodes) if (n.alive) this.model.heartbeat(n, this.s.tickMs);
    for (const n of this.nodes) n.bitsLastTick = 0;
    this.model.planTrees();
    computeAvailability(c);
    const tickStats: DeliveryStats = {
      stallMs: 0,
      playMs: 0,
      startups: this.stats.startups,
      failovers: 0,
      receipts: 0,
      realReceipts: this.#realJobs,
      tamperReports: 0,
    };
    for (const v of this.book.live) {
      if (v.endAt <= now) {
        this.#leave(v);
        continue;
      }
      playTick(c, v, tickStats);
    }
    this.stats.stallMs += tickStats.stallMs;
    this.stats.playMs += tickStats.playMs;
    this.stats.failovers += tickStats.failovers;
    this.stats.receipts += tickStats.receipts;
    this.stats.tamperReports += tickStats.tamperReports;
    this.#sample(now, tickStats);
  }

  #leave(v: Viewer): void {
    const carry = v.node?.carried.get(v.stream.id);
    if (carry && carry.viewers > 0) carry.viewers--;
    v.node = undefined;
    this.book.live.delete(v);
    this.book.ended.push(v);
  }

  #lastProgress = -1;
  #sample(now: number, t: DeliveryStats): void {
    const everyMs = Math.max(
      this.s.tickMs,
      Math.floor(this.s.durationMs / 400 / this.s.tickMs) * this.s.tickMs,
    );
    let relays = 0;
    for (const n of this.nodes) relays += n.carried.size;
    const ingestGbps = 0;
    if (now % everyMs === 0) {
      this.stats.series.push({
        t: now,
        viewers: this.book.live.size,
        stallRatio: t.playMs + t.stallMs > 0 ? t.stallMs / (t.playMs + t.stallMs) : 0,
        relays,
        ingestGbps,
      });
    }
    const step = Math.floor(this.s.durationMs / 20);
    const bucket = Math.floor(now / Math.max(1, step));
    if (bucket !== this.#lastProgress) {
      this.#lastProgress = bucket;
      const rss = (process.memoryUsage.rss() / 2 ** 20).toFixed(0);
      this.options.onProgress?.(
        `[${this.s.name}] t=${(now / 60_000).toFixed(0)} min viewers=${this.book.live.size} relays=${relays} sessions=${this.stats.sessions} epochs=${this.stats.epochs.length} rss=${rss} MiB`,
      );
    }
  }

  #closeEpoch(e: number): void {
    const r = closeSimEpoch(
      this.book,
      this.model,
      this.streams,
      e,
      this.s.coordinator.epochMs,
      this.s.economics.poolUsdPerViewerHour,
    );
    this.stats.epochs.push(r);
  }

  /** Sampled sessions get a real Ed25519 key and a real ticket through the coordinator's issuing path. */
  async #flushCrypto(): Promise<void> {
    const key = this.#ticketKey as Ed25519KeyPair;
    for (const v of this.#pendingCrypto.splice(0)) {
      const keys = await generateEd25519();
      let row: SessionRow | undefined;
      const ticket = await issueSession(
        {
          store: {
            insertSession: async (r) => {
              row = r;
            },
          },
          ticketKey: () => key,
          now: this.queue.now,
          ticketTtlMs: COORDINATOR_DEFAULTS.ticketTtlMs,
        },
        v.stream.id,
        keys.publicKey,
        v.session.clientAddr,
        false,
      );
      if (!row) continue;
      v.session = row;
      v.real = { keys, ticket };
    }
  }

  /** The sampled sessions' receipts: signed by the viewer key, verified by the coordinator's intake rules. */
  async #flushReceipts(): Promise<void> {
    const verifier = this.#verifier as ReceiptVerifier;
    for (const { v, nodeId } of this.#realJobs.splice(0)) {
      const held = v.receipts.get(nodeId);
      if (!held || !v.real) continue;
      const { json: _json, ...fields } = held;
      const receipt = await signReceipt(v.real.keys.privateKey, {
        ...fields,
        nodeId: fields.nodeId as `0x${string}`,
      });
      const t0 = performance.now();
      verifier.verify(
        { ticket: v.real.ticket, receipt },
        nodeId,
        this.queue.now(),
        COORDINATOR_DEFAULTS.ticketGraceMs,
      );
      checkTicketMatchesSession(v.real.ticket, v.session);
      this.stats.realVerifyMs += performance.now() - t0;
      this.stats.realReceipts++;
    }
  }
}
