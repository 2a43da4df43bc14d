/**
 * Test support for the agent: a fake {@link CommandRunner} whose children write the lines a test
 * gives them and exit on cue. Not used by production code.
 */
import { PassThrough } from 'node:stream';
import type { ChildExit, ChildHandle, CommandRunner } from './command.js';

export class FakeChild implements ChildHandle {
  readonly #out = new PassThrough();
  readonly #err = new PassThrough();
  readonly stdout: AsyncIterable<Uint8Array | string> = this.#out;
  readonly stderr: AsyncIterable<Uint8Array | string> = this.#err;
  readonly exit: Promise<ChildExit>;
  killed = false;
  exited = false;
  #resolve!: (exit: ChildExit) => void;

  constructor(readonly argv: readonly string[]) {
    this.exit = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Writes lines to stdout (a newline is added to each). */
  write(...lines: string[]): void {
    if (!this.exited) this.#out.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** Writes raw text to stdout. */
  writeRaw(text: string): void {
    if (!this.exited) this.#out.write(text);
  }

  writeStderr(...lines: string[]): void {
    if (!this.exited) this.#err.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** Ends both pipes, then reports the exit (as a real process: 'close' after the pipes). */
  finish(exit: ChildExit = { code: 0, signal: null }): void {
    if (this.exited) return;
    this.exited = true;
    this.#out.end();
    this.#err.end();
    setImmediate(() => this.#resolve(exit));
  }

  kill(): void {
    this.killed = true;
    this.finish({ code: null, signal: 'SIGTERM' });
  }
}

/** Records every command started; `onSpawn` decides what each child does (default: nothing, it keeps running). */
export class FakeRunner {
  readonly children: FakeChild[] = [];
  onSpawn: (child: FakeChild) => void = () => {};

  readonly runner: CommandRunner = (argv) => {
    const child = new FakeChild(argv);
    this.children.push(child);
    this.onSpawn(child);
    return child;
  };

  /** Children whose command contains `flag` (`-E` for events, `-L` for dumps). */
  started(flag: '-E' | '-L'): FakeChild[] {
    return this.children.filter((c) => c.argv.includes(flag));
  }
}
