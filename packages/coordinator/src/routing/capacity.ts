import type { NodeRow } from "../store.ts";

/**
 * Spare capacity as routing believes it. A node's declared capacityMbps is a
 * claim it signed but never demonstrated; what its heartbeats show it serving
 * is the evidence. The rule:
 *
 *   capacity = min(declared, max(UNPROVEN_CAPACITY_BPS, PROVEN_GROWTH × peak))
 *   used     = max(egressBps, connections × MIN_VIEWER_BPS) + pending × perViewer
 *   spare    = clamp(1 − used / capacity, 0, 1)
 *
 * `peak` is the highest egress the node has reported, halving every
 * PEAK_HALF_LIFE_MS: a new node is trusted with a slow-start share, and earns
 * more by serving it (like TCP slow start), so a node declaring 10 Gbit/s on
 * a home line does not attract a region's viewers before it has shown it can
 * carry them. `pending` counts viewers routed to it since its last heartbeat,
 * so a burst of tickets between two heartbeats does not all land on one node.
 *
 * Heartbeat figures are the node's own report; a node inflating its egress
 * gains at most its declared capacity, and what it is paid for is bytes that
 * viewers sign receipts for, weighted by probe quality. The prober's
 * throughput is not used here: it times one connection's segment download,
 * which bounds per-viewer speed (already in quality through time to first
 * byte), not how many viewers a node can take.
 */

/** Capacity a node is trusted with before it has shown any egress. */
export const UNPROVEN_CAPACITY_BPS = 100_000_000; // bit/s
/** A node may be sent up to this many times the egress it has shown. */
export const PROVEN_GROWTH = 2;
/** The shown peak halves this often while the node serves less. */
export const PEAK_HALF_LIFE_MS = 60 * 60_000; // ms
/** Each connection counts at least this much, even when idle (a viewer between segments). */
export const MIN_VIEWER_BPS = 500_000; // bit/s
/** A routed viewer's expected egress when the node reports no connections to average over. */
export const DEFAULT_VIEWER_BPS = 3_000_000; // bit/s

export interface CapacityState {
  /** Highest egress shown, bit/s, as of `peakAt`. */
  peakBps: number;
  peakAt: number; // ms
  /** Viewers routed here since the heartbeat at `heardAt`. */
  pending: number;
  heardAt: number; // ms
}

const decayed = (s: CapacityState, now: number) => s.peakBps * 0.5 ** ((now - s.peakAt) / PEAK_HALF_LIFE_MS);

/** The state after a (possibly repeated) report of `node`: a newer heartbeat clears `pending`. */
export function observe(prev: CapacityState | undefined, node: NodeRow, now: number): CapacityState {
  const peak = prev ? decayed(prev, now) : 0;
  const fresher = !prev || node.lastHeartbeatAt > prev.heardAt;
  return {
    peakBps: Math.max(peak, node.egressBps),
    peakAt: now,
    pending: fresher ? 0 : prev.pending,
    heardAt: Math.max(node.lastHeartbeatAt, prev?.heardAt ?? 0),
  };
}

export interface Spare {
  /** In [0, 1]: the share of believed capacity not in use. */
  spare: number;
  capacityBps: number;
  usedBps: number;
}

export function spareOf(node: NodeRow, s: CapacityState, now: number): Spare {
  const declared = node.capacityMbps * 1_000_000;
  const capacityBps = Math.min(declared, Math.max(UNPROVEN_CAPACITY_BPS, PROVEN_GROWTH * decayed(s, now)));
  const perViewer =
    node.connections > 0 ? Math.max(MIN_VIEWER_BPS, node.egressBps / node.connections) : DEFAULT_VIEWER_BPS;
  const usedBps = Math.max(node.egressBps, node.connections * MIN_VIEWER_BPS) + s.pending * perViewer;
  const spare = capacityBps <= 0 ? 0 : Math.min(1, Math.max(0, 1 - usedBps / capacityBps));
  return { spare, capacityBps, usedBps };
}
