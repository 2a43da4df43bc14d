/**
 * Where a Hubble node agent resumes after a restart: the Hubble resume point (time of the newest
 * flow whose edges the controller has acknowledged, and the identities delivered at exactly that
 * time) in a small JSON file, written atomically (temporary file + rename) so a crash mid-write
 * leaves the previous point. In the DaemonSet the file lives on an `emptyDir`, which survives
 * container restarts (a crash, an OOM kill) but not the pod.
 *
 * The file is input from disk: it is validated (zod) and an unreadable or invalid one is logged
 * and ignored (the agent then starts with new flows only), never trusted or fatal.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { writeFileAtomically } from '../runtime/atomic-file.js';
import { parseTimestampNanos, type HubbleResumePoint } from '../ingest/hubble-grpc/index.js';

const resumeSchema = z.object({
  since: z.string().max(64).refine((s) => parseTimestampNanos(s) !== undefined, 'not an RFC 3339 UTC time'),
  seen: z.array(z.string().max(256)).max(100_000),
  lostEvents: z.array(z.string().max(4_096)).max(1_024).optional(),
});

export class ResumeFile {
  #writing: Promise<void> = Promise.resolve();
  #last: string | undefined;

  constructor(readonly file: string, private readonly log: Logger) {}

  /** The stored point, or undefined (no file yet, or one that is not a valid point). */
  async read(): Promise<HubbleResumePoint | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, file: this.file }, 'cannot read the Hubble resume point; starting with new flows');
      return undefined;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.log.warn({ file: this.file }, 'the Hubble resume point is not JSON; starting with new flows');
      return undefined;
    }
    const parsed = resumeSchema.safeParse(value);
    if (!parsed.success) {
      this.log.warn({ file: this.file, issue: parsed.error.issues[0]?.message }, 'the Hubble resume point is invalid; starting with new flows');
      return undefined;
    }
    this.#last = text;
    return parsed.data;
  }

  /** Resolves when the writes asked for so far are done. */
  written(): Promise<void> {
    return this.#writing;
  }

  /** Stores `point` (writes are serialized; an unchanged point is not written again). Never rejects. */
  write(point: HubbleResumePoint): Promise<void> {
    const text = JSON.stringify(point);
    if (text === this.#last) return this.#writing;
    this.#last = text;
    this.#writing = this.#writing.then(async () => {
      try {
        await writeFileAtomically(this.file, text);
      } catch (err) {
        this.#last = undefined;
        this.log.warn({ err, file: this.file }, 'cannot store the Hubble resume point');
      }
    });
    return this.#writing;
  }
}
