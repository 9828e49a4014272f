// CycloneDX 1.6 JSON SBOM of what the single binary carries: the production npm dependency tree
// (from package-lock.json, walked from package.json's dependencies with Node's resolution rules)
// and the Node.js runtime the binary is made of. See docs/appliance-build.md ("Offline bundle").
//
// Why not @cyclonedx/cyclonedx-npm: tried (6.0.1). It works offline, but our lockfile has no
// `resolved` URLs (omit-lockfile-registry-resolved), and it attaches npm's integrity hash only to a
// distribution reference built from `resolved`, so every component came out without a hash; and
// it brings 118 packages into the lockfile, among them libxmljs2 (a native addon whose install
// script downloads a prebuilt binary) and node-gyp. The lockfile already has everything we need.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";

const SPEC_VERSION = "1.6";
const HASH_ALGS = { sha1: "SHA-1", sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" };
/** Node's own components, from process.versions, that ship inside the binary. */
const NODE_PARTS = {
  openssl: "openssl",
  v8: "v8",
  uv: "libuv",
  zlib: "zlib",
  brotli: "brotli",
  ares: "c-ares",
  nghttp2: "nghttp2",
  nghttp3: "nghttp3",
  ngtcp2: "ngtcp2",
  llhttp: "llhttp",
  icu: "icu",
  undici: "undici",
  simdutf: "simdutf",
  ada: "ada",
};

/** `node_modules/@scope/name/node_modules/x` -> `x`; an aliased entry carries its real name. */
function packageName(path, entry) {
  if (entry.name) return entry.name;
  const tail = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
  return tail;
}

/** Where Node would find `name` when required from the package at lock path `from` ("" is the root). */
function resolveIn(packages, from, name) {
  let base = from;
  for (;;) {
    const candidate = `${base === "" ? "" : `${base}/`}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (base === "") return undefined;
    const at = base.lastIndexOf("node_modules/");
    base = base.slice(0, at).replace(/\/$/, "");
  }
}

/** npm's integrity ("sha512-<base64> sha1-<base64>") as CycloneDX hashes, hex encoded. */
export function integrityHashes(integrity) {
  if (typeof integrity !== "string") return [];
  return integrity
    .split(/\s+/)
    .map((item) => /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)$/.exec(item))
    .filter(Boolean)
    .map(([, alg, b64]) => ({ alg: HASH_ALGS[alg], content: Buffer.from(b64, "base64").toString("hex") }));
}

/** An SPDX expression (MIT, (MIT OR Apache-2.0), ...) becomes `expression`; anything else a named license. */
function licenses(license) {
  if (typeof license !== "string" || license.trim() === "") return undefined;
  const value = license.trim();
  const token = "[A-Za-z0-9][A-Za-z0-9.+-]*";
  const spdx = new RegExp(`^\\(?${token}( (AND|OR|WITH) \\(?${token}\\)?)*\\)?$`);
  if (value !== "UNLICENSED" && !/^SEE LICEN[CS]E IN /i.test(value) && spdx.test(value)) return [{ expression: value }];
  return [{ license: { name: value } }];
}

function purl(name, version) {
  const [ns, base] = name.startsWith("@") ? name.split("/") : [undefined, name];
  return `pkg:npm/${ns ? `${encodeURIComponent(ns)}/` : ""}${encodeURIComponent(base)}@${encodeURIComponent(version)}`;
}

function readJson(file) {
  return JSON.parse(readFileSync(file, "utf8"));
}

/**
 * The production dependency tree: lock paths reachable from the root's dependencies,
 * optionalDependencies (when installed) and non-optional peerDependencies, with each path's edges.
 */
export function productionTree(lock) {
  const packages = lock.packages;
  if (!packages || !packages[""])
    throw new Error("package-lock.json has no `packages` map (lockfileVersion 2 or 3 needed)");
  const edges = new Map();
  const queue = [""];
  while (queue.length > 0) {
    const from = queue.shift();
    if (edges.has(from)) continue;
    const entry = packages[from];
    const wanted = { ...entry.dependencies, ...entry.optionalDependencies };
    const peerMeta = entry.peerDependenciesMeta ?? {};
    for (const peer of Object.keys(entry.peerDependencies ?? {}))
      if (!peerMeta[peer]?.optional) wanted[peer] = entry.peerDependencies[peer];
    const to = [];
    for (const name of Object.keys(wanted).sort()) {
      const target = resolveIn(packages, from, name);
      if (target === undefined) {
        if (entry.optionalDependencies?.[name] !== undefined || peerMeta[name]?.optional) continue;
        throw new Error(
          `package-lock.json: ${from || "the root"} depends on ${name}, which is not in the lockfile (run npm install)`,
        );
      }
      const resolved = packages[target].link ? packages[target].resolved : target;
      to.push(resolved);
      if (!edges.has(resolved)) queue.push(resolved);
    }
    edges.set(from, to);
  }
  return edges;
}

function bomRef(name, version) {
  return `${name}@${version}`;
}

/**
 * @param {{ root: string, timestamp?: Date, nodeVersions?: Record<string, string> }} options
 *   nodeVersions: process.versions of the node inside the binary (default: this node's).
 * @returns {object} the CycloneDX document
 */
export function generateSbom(options) {
  const { root } = options;
  const pkg = readJson(join(root, "package.json"));
  const lock = readJson(join(root, "package-lock.json"));
  const edges = productionTree(lock);
  const versions = options.nodeVersions ?? process.versions;

  const rootRef = bomRef(pkg.name, pkg.version);
  const refOfPath = new Map([["", rootRef]]);
  const components = new Map();
  for (const path of edges.keys()) {
    if (path === "") continue;
    const entry = lock.packages[path];
    const name = packageName(path, entry);
    const ref = bomRef(name, entry.version);
    refOfPath.set(path, ref);
    const existing = components.get(ref);
    if (existing) {
      existing.properties.push({ name: "cdx:npm:package:path", value: path });
      continue;
    }
    let license = entry.license;
    if (license === undefined) {
      try {
        license = readJson(join(root, path, "package.json")).license;
      } catch {
        license = undefined;
      }
    }
    const [group, local] = name.startsWith("@") ? name.split("/") : [undefined, name];
    const component = {
      type: "library",
      "bom-ref": ref,
      ...(group ? { group } : {}),
      name: local,
      version: entry.version,
      scope: entry.optional ? "optional" : "required",
      purl: purl(name, entry.version),
    };
    const hashes = integrityHashes(entry.integrity);
    if (hashes.length > 0) component.hashes = hashes;
    const lic = licenses(license);
    if (lic) component.licenses = lic;
    component.properties = [{ name: "cdx:npm:package:path", value: path }];
    if (entry.hasInstallScript) component.properties.push({ name: "cdx:npm:package:hasInstallScript", value: "true" });
    components.set(ref, component);
  }

  // The runtime: the binary is this Node.js release with our code injected (docs/appliance-build.md).
  const nodeRef = bomRef("node", versions.node);
  const runtime = {
    type: "platform",
    "bom-ref": nodeRef,
    name: "node",
    version: versions.node,
    description: "Node.js runtime the single binary is built from (a Node single executable application)",
    purl: `pkg:generic/node@${versions.node}`,
    licenses: [{ expression: "MIT" }],
    components: Object.entries(NODE_PARTS)
      .filter(([key]) => typeof versions[key] === "string")
      .map(([key, name]) => ({
        type: "library",
        "bom-ref": `${nodeRef}|${name}@${versions[key]}`,
        name,
        version: versions[key],
        purl: `pkg:generic/${name}@${encodeURIComponent(versions[key])}`,
      })),
  };

  const dependencies = [...edges].map(([path, to]) => ({
    ref: refOfPath.get(path),
    dependsOn: [...new Set(to.map((p) => refOfPath.get(p)))].sort(),
  }));
  const merged = new Map();
  for (const d of dependencies) merged.set(d.ref, [...new Set([...(merged.get(d.ref) ?? []), ...d.dependsOn])].sort());
  merged.set(rootRef, [...(merged.get(rootRef) ?? []), nodeRef].sort());

  const sortedComponents = [...components.values()].sort((a, b) => a["bom-ref"].localeCompare(b["bom-ref"]));
  const body = {
    $schema: `http://cyclonedx.org/schema/bom-${SPEC_VERSION}.schema.json`,
    bomFormat: "CycloneDX",
    specVersion: SPEC_VERSION,
    version: 1,
    metadata: {
      timestamp: (options.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
      lifecycles: [{ phase: "build" }],
      tools: { components: [{ type: "application", name: "vecto appliance/sbom.mjs", version: pkg.version }] },
      component: {
        type: "application",
        "bom-ref": rootRef,
        name: pkg.name,
        version: pkg.version,
        description: pkg.description,
        purl: purl(pkg.name, pkg.version),
        licenses: licenses(pkg.license),
      },
    },
    components: [runtime, ...sortedComponents],
    dependencies: [...merged]
      .map(([ref, dependsOn]) => ({ ref, dependsOn }))
      .sort((a, b) => a.ref.localeCompare(b.ref)),
  };
  // A stable serial number: the same tree gives the same BOM (reproducible bundles).
  const digest = createHash("sha256").update(JSON.stringify(body)).digest("hex");
  const uuid = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-5${digest.slice(13, 16)}-${((parseInt(digest[16], 16) & 0x3) | 0x8).toString(16)}${digest.slice(17, 20)}-${digest.slice(20, 32)}`;
  return {
    $schema: body.$schema,
    bomFormat: body.bomFormat,
    specVersion: body.specVersion,
    serialNumber: `urn:uuid:${uuid}`,
    version: 1,
    metadata: body.metadata,
    components: body.components,
    dependencies: body.dependencies,
  };
}
