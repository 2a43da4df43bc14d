/**
 * What a conntrack node agent hands to its next run (src/agent/agent.ts): how many connections it
 * counted but could not ship before it stopped (the operator unreachable, its buffer not
 * acknowledged). The next run reports them as dropped with its first batch, so the Segmentations
 * show `FlowsComplete=False` instead of losing them silently. A small JSON file, written
 * atomically (temporary file + rename) as ./resume-file.ts writes the Hubble agent's resume point;
 * in the DaemonSet it lives on an `emptyDir`, which survives container restarts but not the pod.
 *
 * The file is input from disk: validated (zod); an unreadable or invalid one is logged and read as
 * nothing unshipped, never trusted or fatal.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { writeFileAtomically } from '../runtime/atomic-file.js';

const stateSchema = z.object({
  unshippedConnections: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export class AgentStateFile {
  #writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string, private readonly log: Logger) {}

  /** The connections the previous run left unshipped (0: none, no file, or an invalid one). */
  async readUnshipped(): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, file: this.file }, 'cannot read the agent state file');
      return 0;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    const parsed = stateSchema.safeParse(value);
    if (!parsed.success) {
      this.log.warn({ file: this.file }, 'the agent state file is invalid; ignored');
      return 0;
    }
    return parsed.data.unshippedConnections;
  }

  /** Stores the count (writes are serialized). Never rejects. */
  writeUnshipped(connections: number): Promise<void> {
    const text = JSON.stringify({ unshippedConnections: connections });
    this.#writing = this.#writing.then(async () => {
      try {
        await writeFileAtomically(this.file, text);
      } catch (err) {
        this.log.warn({ err, file: this.file }, 'cannot write the agent state file');
      }
    });
    return this.#writing;
  }
}
