// The image's SBOM (SPDX 2.3 JSON) from three inventories: `npm sbom` of /app (the npm packages
// the image carries), the image's dpkg database (Debian packages) and the Node.js runtime version.
// Called by scripts/image/inspect.sh; output is sorted, so the same inputs give the same bytes.
//
//   node scripts/image/sbom.mjs --image <ref> --created <RFC 3339> --npm <npm sbom json>
//        --dpkg <tsv: package version arch source source-version> --node <version>
//        --spdx <out.json> --table <out.txt>
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: Object.fromEntries(['image', 'created', 'npm', 'dpkg', 'node', 'spdx', 'table'].map((k) => [k, { type: 'string' }])),
});
for (const k of ['image', 'created', 'npm', 'dpkg', 'node', 'spdx', 'table']) {
  if (!args[k]) throw new Error(`sbom: --${k} is required`);
}

/** SPDX identifiers allow letters, digits, `.` and `-` only. */
const spdxId = (...parts) => `SPDXRef-${parts.join('-').replace(/[^A-Za-z0-9.-]/g, '-')}`;
const purl = (locator) => [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: locator }];
const byId = (a, b) => (a.SPDXID < b.SPDXID ? -1 : a.SPDXID > b.SPDXID ? 1 : 0);
const unknown = { downloadLocation: 'NOASSERTION', filesAnalyzed: false, licenseConcluded: 'NOASSERTION', licenseDeclared: 'NOASSERTION', copyrightText: 'NOASSERTION' };

const npm = JSON.parse(readFileSync(args.npm, 'utf8'));
const npmRoot = npm.documentDescribes?.[0];
if (!npmRoot || !Array.isArray(npm.packages)) throw new Error(`sbom: ${args.npm} is not an SPDX document from npm sbom`);

const debs = readFileSync(args.dpkg, 'utf8').split('\n').filter((l) => l.length > 0).map((line) => {
  const [name, version, arch, source, sourceVersion] = line.split('\t');
  return {
    name, SPDXID: spdxId('deb', name, version), versionInfo: version, supplier: 'Organization: Debian', ...unknown,
    sourceInfo: `built from Debian source package ${source || name} ${sourceVersion || version}`,
    externalRefs: purl(`pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}&distro=debian-12`),
  };
});

const image = {
  name: 'hivewall image', SPDXID: 'SPDXRef-Image', versionInfo: args.image, primaryPackagePurpose: 'CONTAINER', ...unknown,
  externalRefs: purl(`pkg:oci/hivewall?repository_url=${encodeURIComponent(args.image.replace(/:[^:/]*$/, ''))}&tag=${encodeURIComponent(args.image.replace(/^.*:/, ''))}`),
};
const runtime = {
  name: 'node', SPDXID: spdxId('node-runtime', args.node), versionInfo: args.node, primaryPackagePurpose: 'RUNTIME', ...unknown,
  licenseDeclared: 'MIT', externalRefs: purl(`pkg:generic/node@${args.node}?download_url=${encodeURIComponent(`https://nodejs.org/dist/v${args.node}/`)}`),
};

const npmPackages = npm.packages.map((p) => ({ ...p }));
const relationships = [
  { spdxElementId: 'SPDXRef-DOCUMENT', relatedSpdxElement: image.SPDXID, relationshipType: 'DESCRIBES' },
  ...[runtime, ...debs].map((p) => ({ spdxElementId: image.SPDXID, relatedSpdxElement: p.SPDXID, relationshipType: 'CONTAINS' })),
  { spdxElementId: image.SPDXID, relatedSpdxElement: npmRoot, relationshipType: 'CONTAINS' },
  ...(npm.relationships ?? []).filter((r) => r.relationshipType !== 'DESCRIBES'),
];
const relKey = (r) => `${r.spdxElementId} ${r.relationshipType} ${r.relatedSpdxElement}`;

const doc = {
  spdxVersion: 'SPDX-2.3',
  dataLicense: 'CC0-1.0',
  SPDXID: 'SPDXRef-DOCUMENT',
  name: `hivewall image ${args.image}`,
  documentNamespace: `https://hivewall.dev/spdx/image/${encodeURIComponent(args.image)}`,
  creationInfo: { created: args.created, creators: ['Tool: hivewall-scripts/image/sbom.mjs', ...(npm.creationInfo?.creators ?? [])].sort() },
  documentDescribes: [image.SPDXID],
  packages: [image, runtime, ...debs, ...npmPackages].sort(byId),
  relationships: relationships.sort((a, b) => (relKey(a) < relKey(b) ? -1 : relKey(a) > relKey(b) ? 1 : 0)),
};
writeFileSync(args.spdx, `${JSON.stringify(doc, null, 2)}\n`);

const rows = [
  ...npmPackages.filter((p) => p.SPDXID !== npmRoot).map((p) => [p.name, p.versionInfo ?? '', 'npm']),
  ...debs.map((p) => [p.name, p.versionInfo, 'deb']),
  [runtime.name, runtime.versionInfo, 'runtime'],
].sort((a, b) => a[2].localeCompare(b[2]) || a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
const width = (i) => Math.max(...rows.map((r) => r[i].length));
writeFileSync(args.table, rows.map((r) => `${r[0].padEnd(width(0))}  ${r[1].padEnd(width(1))}  ${r[2]}`.trimEnd()).join('\n') + '\n');
