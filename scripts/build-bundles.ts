/**
 * `npm run build` step: bundles each command into one CommonJS file with esbuild,
 *
 *   dist/bundle/hivewall.cjs          (entry src/cli/bin.ts)
 *   dist/bundle/kubectl-hivewall.cjs  (entry src/cli/kubectl-plugin/bin.ts)
 *   dist/bundle/proto/                the Hubble .proto files the gRPC client loads at run time
 *
 * which bin/*.js, the container image and the single-executable binaries (scripts/build-binaries.ts)
 * run. CommonJS because a Node single-executable application runs a CommonJS script.
 *
 * Start-up: the file holds the command line (commander, the option tables) as code and every
 * subcommand that the command line `import()`s lazily (src/cli/main.ts, src/cli/kubectl-plugin/main.ts)
 * as its own bundle, deflated, in a base64 string literal. V8 skips a string literal in
 * microseconds but has to pre-parse code, so `--help` reads and compiles only the command line;
 * a subcommand's section is inflated (a few ms) and compiled when it runs (and cached by Node's
 * compile cache, see bin/hivewall.js). Modules the command
 * line already holds (the CLI errors, whose classes `instanceof` checks) are shared with the
 * sections, not copied into them. Bundled from the tsc output in dist/ (run after
 * `tsc -p tsconfig.build.json`).
 */
import { cp, mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { constants, deflateRawSync } from 'node:zlib';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { packageRoot } from '../src/report/assets.js';

export const BUNDLE_DIR = join('dist', 'bundle');

const ERRORS = join('dist', 'src', 'cli', 'errors.js');
const PARSER_THREADS = join('dist', 'src', 'ingest', 'hubble', 'parser-threads.js');

/**
 * Each bundle with the modules of its command line that its sections use too (`shared`): one
 * instance, so `instanceof` holds and the parser threads `hivewall` starts early
 * (src/cli/parser-prestart.ts) are the ones its `learn` section takes.
 */
export const BUNDLES = [
  { name: 'hivewall', entry: join('dist', 'src', 'cli', 'bin.js'), shared: [ERRORS, PARSER_THREADS] },
  { name: 'kubectl-hivewall', entry: join('dist', 'src', 'cli', 'kubectl-plugin', 'bin.js'), shared: [ERRORS] },
] as const;
type Bundle = (typeof BUNDLES)[number];

/** The learn parser thread's own bundle (src/ingest/hubble/parser-threads.ts starts it from this text). */
const PARSE_WORKER = { entry: join('dist', 'src', 'ingest', 'hubble', 'parse-worker.js'), define: '__HIVEWALL_PARSE_WORKER__' };

/** `import.meta.url` in CommonJS: this file's URL (a section's is its bundle's directory). */
const IMPORT_META_URL = '__hivewallModuleUrl';
const BANNER = `var ${IMPORT_META_URL} = typeof __filename === 'string' && __filename !== '' ? require('node:url').pathToFileURL(__filename).href : undefined;`;

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  minify: true,
  legalComments: 'none',
  banner: { js: BANNER },
  define: { 'import.meta.url': IMPORT_META_URL },
  logLevel: 'warning',
};

/** In a section: the shared modules are `require('hivewall-shared:<path>')`, served by the command line. */
function shareWithCommandLine(root: string, bundle: Bundle): Plugin {
  const shared = new Set(bundle.shared.map((p) => resolve(root, p)));
  return {
    name: 'hivewall-shared',
    setup(b) {
      b.onResolve({ filter: /^\./ }, (args) => {
        const path = resolve(args.resolveDir, args.path);
        return shared.has(path) ? { path: `hivewall-shared:${path}`, external: true } : undefined;
      });
    },
  };
}

/** Compiles the section's source as a module of its own and returns its exports. */
function sectionLoader(root: string, bundle: Bundle, sectionName: string, code: string): string {
  const shared = bundle.shared.map((p) => resolve(root, p));
  const filename = `${bundle.name}.${sectionName}.cjs`;
  return [
    `const { Module } = require('node:module');`,
    `const { join } = require('node:path');`,
    `const { inflateRawSync } = require('node:zlib');`,
    `const shared = { ${shared.map((p) => `${JSON.stringify(`hivewall-shared:${p}`)}: () => require(${JSON.stringify(p)})`).join(', ')} };`,
    // In a single-executable binary __dirname is the executable's folder; the name only labels stack traces.
    `const filename = join(__dirname, ${JSON.stringify(filename)});`,
    `const section = new Module(filename, module);`,
    `section.filename = filename;`,
    `section.require = (id) => (shared[id] ? shared[id]() : require(id));`,
    `section._compile(inflateRawSync(Buffer.from(${JSON.stringify(deflate(code))}, 'base64')).toString('utf8'), filename);`,
    `module.exports = section.exports;`,
  ].join('\n');
}

const deflate = (code: string) => deflateRawSync(Buffer.from(code, 'utf8'), { level: constants.Z_BEST_COMPRESSION }).toString('base64');

/** Every `import()` in the command line becomes a section compiled on first use. */
function lazySections(root: string, bundle: Bundle, define: Record<string, string>): Plugin {
  return {
    name: 'hivewall-lazy-sections',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        return { path: resolve(args.resolveDir, args.path), namespace: 'hivewall-section' };
      });
      b.onLoad({ filter: /.*/, namespace: 'hivewall-section' }, async (args) => {
        const result = await build({ ...common, define: { ...common.define, ...define }, absWorkingDir: root, entryPoints: [args.path], write: false, plugins: [shareWithCommandLine(root, bundle)] });
        const code = result.outputFiles[0]!.text;
        return { contents: sectionLoader(root, bundle, basename(args.path, '.js'), code), loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}

export async function buildBundles(root: string = packageRoot()): Promise<string[]> {
  const outDir = join(root, BUNDLE_DIR);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const worker = await build({ ...common, absWorkingDir: root, entryPoints: [PARSE_WORKER.entry], write: false });
  const define = { [PARSE_WORKER.define]: JSON.stringify(worker.outputFiles[0]!.text) };
  const written: string[] = [];
  for (const bundle of BUNDLES) {
    const outfile = join(outDir, `${bundle.name}.cjs`);
    await build({ ...common, define: { ...common.define, ...define }, absWorkingDir: root, entryPoints: [bundle.entry], outfile, plugins: [lazySections(root, bundle, define)] });
    written.push(outfile);
  }
  await cp(join(root, 'src', 'ingest', 'hubble-grpc', 'proto'), join(outDir, 'proto'), { recursive: true });
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const file of await buildBundles()) process.stdout.write(`bundle: ${file}\n`);
}
