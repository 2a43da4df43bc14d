// Lets Node (24, which strips TypeScript types natively) run the harness's .ts
// files directly: they import siblings as './x.js' (TypeScript's nodenext
// convention), so map a relative './x.js' to './x.ts' when only the .ts exists.
// Used by `npm run cluster:up` / `cluster:down` (scripts/cluster-cli.ts).
import { registerHooks } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

registerHooks({
  resolve(specifier, context, nextResolve) {
    if ((specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js') && context.parentURL?.startsWith('file:')) {
      const js = new URL(specifier, context.parentURL);
      if (!existsSync(fileURLToPath(js))) {
        const ts = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
        if (existsSync(fileURLToPath(ts))) return nextResolve(ts.href, context);
      }
    }
    return nextResolve(specifier, context);
  },
});
