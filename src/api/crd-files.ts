/** The generated CRD files: name → YAML text (deterministic). */
import { toYaml } from '../domain/translate/render.js';
import { CRDS, crdObject } from './crd.js';

export function crdFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const def of CRDS) {
    const crd = crdObject(def);
    files.set(`${(crd.metadata as { name: string }).name}.yaml`, `# Generated from src/api by \`npm run gen:crds\`. Do not edit.\n${toYaml(crd)}`);
  }
  return files;
}
