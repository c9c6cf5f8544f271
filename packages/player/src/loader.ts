import type { Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats } from "hls.js";
import { AllNodesFailed } from "./fetch-with-failover.ts";
import type { ViewerSession } from "./viewer-session.ts";

function freshStats(): LoaderStats {
  return {
    aborted: false,
    loaded: 0,
    retry: 0,
    total: 0,
    chunkCount: 0,
    bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 },
  };
}

/**
 * An hls.js loader that fetches every playlist and segment through the
 * viewer session: best relay first, verified against the streamer's
 * signature, failing over inside the loader. hls.js sees an error only when
 * every relay failed, and then as a 503 so that it retries (it does not retry
 * status 0 or 4xx). Stats are those of the attempt that delivered the bytes.
 */
export function createLoaderClass(session: ViewerSession): new (config: unknown) => Loader<LoaderContext> {
  return class SrpLoader implements Loader<LoaderContext> {
    context: LoaderContext | null = null;
    stats: LoaderStats = freshStats();
    #abort: AbortController | undefined;

    load(
      context: LoaderContext,
      _config: LoaderConfiguration,
      callbacks: LoaderCallbacks<LoaderContext>,
    ): void {
      this.context = context;
      // Reset in place: hls.js holds this very object (frag.stats = loader.stats, before load()) and its
      // bandwidth estimator reads the fragment's timings from it; a new object would leave it zeros and
      // adaptive bitrate could never measure a faster network (it stayed on the lowest rung).
      Object.assign(this.stats, freshStats(), { retry: this.stats.retry });
      this.stats.loading.start = performance.now();
      const abort = new AbortController();
      this.#abort = abort;
      // The query carries LL-HLS delivery directives (_HLS_msn, ...); the session passes on only those.
      const url = new URL(context.url);
      const path = `${url.pathname}${url.search}`;
      session.load(path, abort.signal).then(
        (result) => {
          if (abort.signal.aborted) return;
          this.#abort = undefined; // done: a later abort() or destroy() is no abort of this load
          const { data, timing } = result.value;
          const size = typeof data === "string" ? data.length : data.byteLength;
          this.stats.loading = { start: timing.start, first: timing.first, end: timing.end };
          this.stats.loaded = size;
          this.stats.total = size;
          this.stats.retry = result.failures.length;
          this.stats.chunkCount = 1;
          callbacks.onSuccess({ url: context.url, data, code: 200 }, this.stats, context, null);
        },
        (err: unknown) => {
          if (abort.signal.aborted) return;
          this.#abort = undefined;
          this.stats.loading.end = performance.now();
          const text = err instanceof AllNodesFailed ? err.message : String(err);
          callbacks.onError({ code: 503, text }, context, null, this.stats);
        },
      );
    }

    /**
     * Cuts the load in flight. A load already done is left as it is: hls.js
     * aborts and destroys loaders after success too, and a finished
     * fragment marked aborted is left out of its bandwidth estimate.
     */
    abort(): void {
      const inFlight = this.#abort;
      if (!inFlight) return;
      this.#abort = undefined;
      this.stats.aborted = true;
      inFlight.abort();
    }

    destroy(): void {
      this.abort();
      this.context = null;
    }
  };
}
