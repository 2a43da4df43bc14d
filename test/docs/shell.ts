/**
 * Running a document's `sh` blocks like a reader pastes them into a terminal: the commands are
 * read from the markdown (a command may span lines: an open quote or a trailing backslash goes
 * on), and run one after the other in one long-lived bash, so `cd`, shell variables and `$(…)`
 * behave as they do for the reader.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface ShellResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Scans one line of shell, continuing the quote state of the lines before it. Returns the line
 * without its comment (a `#` at the start of a word, outside quotes) and the quote still open at
 * its end, if any.
 */
function scanLine(line: string, open: "'" | '"' | undefined): { code: string; open: "'" | '"' | undefined } {
  let quote = open;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (quote === '"') {
      if (c === '\\') i++;
      else if (c === '"') quote = undefined;
    } else if (c === '\\') {
      i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return { code: line.slice(0, i).trimEnd(), open: undefined };
    }
  }
  return { code: line.trimEnd(), open: quote };
}

/** The commands of a markdown document's ```sh blocks, in order, without comments; blank lines dropped. */
export function shCommands(markdown: string): string[] {
  const commands: string[] = [];
  // A block may be indented (inside a list item): its lines are, by as much as its fence.
  for (const block of markdown.matchAll(/^( *)```sh\n([\s\S]*?)^\1```/gm)) {
    let pending: string[] = [];
    let open: "'" | '"' | undefined;
    for (const line of block[2]!.split('\n').map((l) => l.slice(block[1]!.length))) {
      const scanned = scanLine(line, open);
      open = scanned.open;
      const code = pending.length === 0 ? scanned.code.trim() : scanned.code;
      if (pending.length === 0 && code === '') continue;
      pending.push(code);
      if (open === undefined && !code.endsWith('\\')) {
        commands.push(pending.join('\n'));
        pending = [];
      }
    }
    if (pending.length > 0) throw new Error(`unterminated command in a sh block: ${pending.join('\n')}`);
  }
  return commands;
}

const END = '__hivewall_docs_end__';

/** One bash, fed a command at a time; each call returns that command's exit code and output. */
export class Shell {
  private readonly bash: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';
  private wake: (() => void) | undefined;
  private exited = false;

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd, env });
    this.bash.stdout.on('data', (c: Buffer) => { this.stdout += c.toString(); this.wake?.(); });
    this.bash.stderr.on('data', (c: Buffer) => { this.stderr += c.toString(); this.wake?.(); });
    this.bash.on('exit', () => { this.exited = true; this.wake?.(); });
  }

  /** Runs `command` as the user of `kubeconfig` (KUBECONFIG is exported first, as a reader's shell has it). */
  async run(command: string, kubeconfig: string): Promise<ShellResult> {
    if (this.exited) throw new Error(`the shell has exited; cannot run: ${command}`);
    this.stdout = '';
    this.stderr = '';
    const quoted = `'${kubeconfig.replace(/'/g, `'\\''`)}'`;
    // stdin is the script itself: commands must not read it (none of the documented ones does).
    this.bash.stdin.write(`export KUBECONFIG=${quoted}\n${command}\n__rc=$?; printf '\\n${END} %d\\n' "$__rc"; printf '\\n${END}\\n' >&2\n`);
    const outEnd = new RegExp(`\\n${END} (\\d+)\\n$`);
    const errEnd = new RegExp(`\\n${END}\\n$`);
    while (!(outEnd.test(this.stdout) && errEnd.test(this.stderr))) {
      if (this.exited) throw new Error(`the shell exited while running: ${command}\n${this.stderr}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    const code = Number(outEnd.exec(this.stdout)![1]);
    return { code, stdout: this.stdout.replace(outEnd, ''), stderr: this.stderr.replace(errEnd, '') };
  }

  close(): void {
    if (!this.exited) this.bash.stdin.end('exit\n');
  }
}
