import { request } from "node:http";
import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import {
  type Coordinator,
  type CoordinatorOptions,
  createCoordinator,
  SqliteStore,
} from "@streamrp2p/coordinator";
import {
  type Ed25519KeyPair,
  generateEd25519,
  type Receipt,
  type ReceiptSubmission,
  signNodeRegistration,
  signReceipt,
  signStreamRegistration,
  type Ticket,
} from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import type { LocalAccount } from "viem";
import { expect } from "vitest";
import { newAccount } from "../../../../test/support/fixtures.ts";
import { tempDir } from "../../../../test/support/tools.ts";
import { issueSession } from "../../src/accounting/sessions.ts";

export const EPOCH_MS = 60_000;
export const SEG = 100_000; // bytes per attested segment in the ledger

export interface Viewer {
  ticket: Ticket;
  key: CryptoKey;
  publicKey: string;
}

export interface EpochBody {
  epoch: number;
  credits: Array<{
    nodeId: string;
    streamId: string;
    creditedBytes: number;
    claimedBytes: number;
    sessions: number;
    subnets: number;
    weight: number;
    flags: string[];
  }>;
  inputs: Record<string, unknown> & {
    sessionChecks: Array<{ sessionId: string }>;
    creditedBefore: Record<string, number>;
  };
}

/** POSTs JSON from a chosen loopback source address (all of 127/8 is loopback on Linux). */
export function postFrom(
  baseUrl: string,
  path: string,
  body: unknown,
  from = "127.0.0.1",
): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, baseUrl);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        localAddress: from,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/**
 * A real coordinator (HTTP on 127.0.0.1, SQLite file) with an injected clock
 * and ticket key, one registered node, and streams whose segment ledger the
 * test writes. Viewers can come from any 127.x.y.z (all of 127/8 is loopback
 * on Linux): the coordinator sees distinct client addresses and subnets.
 */
export class AccountingHarness {
  t = Math.ceil(Date.now() / EPOCH_MS) * EPOCH_MS + 1_000; // just after an epoch boundary
  coordinator!: Coordinator;
  client!: CoordinatorClient;
  store!: SqliteStore;
  dbDir = "";
  ticketKey!: Ed25519KeyPair;
  readonly streamer = newAccount();
  node!: LocalAccount;
  token = "";
  #nextSeq = 0;

  get nodeId(): `0x${string}` {
    return this.node.address.toLowerCase() as `0x${string}`;
  }

  async start(options: Partial<CoordinatorOptions> = {}, streams = ["show"]): Promise<this> {
    this.dbDir = join(tempDir("accounting"), "db");
    this.store = new SqliteStore(this.dbDir);
    this.ticketKey = await generateEd25519();
    this.coordinator = createCoordinator(
      {
        port: 0,
        dataDir: this.dbDir,
        epochMs: EPOCH_MS,
        probeIntervalMs: 0,
        recordIntervalMs: 0,
        ticketBurst: 100,
        ticketsPerMinute: 100,
        ...options,
      },
      { store: this.store, log: silentLogger, now: () => this.t, ticketKey: this.ticketKey },
    );
    await this.coordinator.start();
    this.client = new CoordinatorClient({ baseUrl: this.coordinator.url });
    for (const s of streams)
      await this.client.registerStream(await signStreamRegistration(this.streamer, s, Date.now()));
    this.node = newAccount();
    const reg = await signNodeRegistration(this.node, {
      url: "http://127.0.0.1:9",
      region: "local",
      capacityMbps: 100,
      ingest: false,
      streams: [],
      issuedAt: Date.now(),
    });
    this.token = (await this.client.registerNode(reg)).token;
    return this;
  }

  stop(): Promise<void> {
    return this.coordinator.stop();
  }

  /** `n` ledger segments of `streamId` produced from now on, one a second. */
  async produce(n: number, streamId = "show"): Promise<void> {
    const rows = Array.from({ length: n }, (_, i) => ({
      streamId,
      rendition: "main",
      seq: this.#nextSeq + i,
      byteLength: SEG,
      durationMs: 1000,
      producedAt: this.t + i * 1000,
    }));
    this.#nextSeq += n;
    await this.store.accounting.upsertSegments(rows);
  }

  /** POSTs JSON to the coordinator from a chosen loopback source address. */
  post(path: string, body: unknown, from = "127.0.0.1"): Promise<{ status: number; body: unknown }> {
    return postFrom(this.coordinator.url, path, body, from);
  }

  /** A viewer session from `from`; throws unless the ticket is granted. */
  async viewer(streamId = "show", from = "127.0.0.1"): Promise<Viewer> {
    const keys = await generateEd25519();
    const res = await this.post(`/v1/streams/${streamId}/sessions`, { viewerKey: keys.publicKey }, from);
    if (res.status !== 201) throw new Error(`session refused: ${res.status} ${JSON.stringify(res.body)}`);
    return {
      ticket: (res.body as { ticket: Ticket }).ticket,
      key: keys.privateKey,
      publicKey: keys.publicKey,
    };
  }

  async receipt(v: Viewer, fields: Partial<Omit<Receipt, "signature">> = {}): Promise<Receipt> {
    this.t += 10;
    return signReceipt(v.key, {
      sessionId: v.ticket.sessionId,
      nodeId: this.nodeId,
      streamId: v.ticket.streamId,
      bytes: SEG,
      segments: 1,
      lastSeq: 1,
      issuedAt: this.t,
      ...fields,
    });
  }

  async submit(items: ReceiptSubmission[]): Promise<string[]> {
    const { results } = await this.client.submitReceipts(this.token, {
      nodeId: this.nodeId,
      submissions: items,
    });
    return results.map((r) => r.outcome);
  }

  /** Moves the clock into the next epoch, closes what is due, returns the last closed epoch's public body. */
  async closeEpoch(): Promise<EpochBody> {
    this.t = (Math.floor(this.t / EPOCH_MS) + 1) * EPOCH_MS + 1_000;
    const closed = await this.coordinator.accounting.closeDueEpochs();
    const n = closed.at(-1);
    if (n === undefined) throw new Error("no epoch closed");
    return (await (await fetch(`${this.coordinator.url}/v1/epochs/${n}`)).json()) as EpochBody;
  }
}

/**
 * Issues sessions as if from IPv6 clients. The sandbox reaches the coordinator over IPv4 loopback
 * only, so they are issued by the coordinator's own issuer (its store, key and clock); receipts and
 * epochs still go over HTTP.
 */
export function ipv6Issuer(h: AccountingHarness): (addr: string, streamId?: string) => Promise<Viewer> {
  const issuer = {
    store: h.store.accounting,
    ticketKey: () => h.ticketKey,
    now: () => h.t,
    ticketTtlMs: 7_200_000,
  };
  return async (addr, streamId = "show") => {
    const keys = await generateEd25519();
    const ticket = await issueSession(issuer, streamId, keys.publicKey, addr, false);
    return { ticket, key: keys.privateKey, publicKey: keys.publicKey };
  };
}

/** What a closed epoch's published inputs say was withheld. */
export type Withheld = {
  inputs: { withheld: Array<{ nodeId: string; streamId: string; bytes: number; reason: string }> };
};

/**
 * An epoch in which `streams` each produce `n` segments and every viewer claims all `n` of its
 * stream's; returns the closed epoch.
 */
export function epochWatcher(h: AccountingHarness, streams: string[]) {
  return async (viewers: Viewer[], n = 20): Promise<EpochBody & Withheld> => {
    for (const s of streams) await h.produce(n, s);
    h.t += n * 1000;
    for (const v of viewers) {
      const r = await h.receipt(v, { bytes: n * SEG, segments: n, lastSeq: 1_000_000 });
      expect(await h.submit([{ ticket: v.ticket, receipt: r }])).toEqual(["stored"]);
    }
    return (await h.closeEpoch()) as EpochBody & Withheld;
  };
}
