/**
 * Backpressure from a consumer to its flow sources: while the gate is shut, the Hubble file follower
 * reads nothing more (./follow/follower.ts), the Hubble stream returns no HTTP/2 receive credit, so
 * the server stops sending once its window is spent (./hubble-grpc/source.ts), and the edge receiver
 * answers agents 503 `paused` (src/operator/receiver.ts). Nothing is dropped here: a file waits on
 * disk, agents keep their batches and retry, and Hubble reports what its own buffer could not keep
 * as lost events.
 *
 * The operator shuts it when the input held back during a store pass grows past its bound
 * (src/operator/flow-sources.ts) and opens it when the pass ends.
 */

/** What a source sees of a gate. */
export interface IntakeGate {
  /** Whether sources may deliver now. */
  readonly isOpen: boolean;
  /** Resolves once the gate is open (at once when it is), or as soon as `signal` aborts. */
  whenOpen(signal?: AbortSignal): Promise<void>;
  /** Calls `listener` on every change (open or shut); returns what unsubscribes it. */
  onChange(listener: (open: boolean) => void): () => void;
}

/** A gate its owner opens and shuts. Starts open. */
export class Gate implements IntakeGate {
  #open = true;
  readonly #listeners = new Set<(open: boolean) => void>();

  get isOpen(): boolean {
    return this.#open;
  }

  open(): void {
    this.#set(true);
  }

  shut(): void {
    this.#set(false);
  }

  whenOpen(signal?: AbortSignal): Promise<void> {
    if (this.#open || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        unsubscribe();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const unsubscribe = this.onChange((open) => {
        if (open) done();
      });
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  onChange(listener: (open: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(open: boolean): void {
    if (this.#open === open) return;
    this.#open = open;
    for (const listener of [...this.#listeners]) listener(open);
  }
}
