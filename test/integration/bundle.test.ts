/**
 * `npm run bundle` (appliance/release-bundle.mjs): the offline install bundle. Bundled here with
 * dist/vecto.cjs as a stand-in for bin/vecto (--binary; building the single binary takes a while
 * and is covered by test/e2e/appliance.test.ts): the layout, modes and owners, the SBOM, that
 * `sha256sum -c` and the installer's exact OpenSSL command accept it, and reject it after a one-byte
 * change to the binary or an edit of SHA256SUMS; the signing-key rules; reproducibility.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { extract } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT, tempDir } from "../helpers.js";

const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const TOP = `vecto-${VERSION}`;
const TARBALL = `${TOP}-linux-x64.tar.gz`;
const PUBKEY = `vecto-${VERSION}-signing-key.pub.pem`;
const EPOCH = 1_700_000_000;

interface Entry {
  readonly name: string;
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly data: Buffer;
}

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function bundle(outDir: string, env: Record<string, string> = {}, args: string[] = []): Run {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && k !== "VECTO_RELEASE_SIGNING_KEY" && k !== "SOURCE_DATE_EPOCH") clean[k] = v;
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "appliance", "release-bundle.mjs"), "--binary", CLI, "--out-dir", outDir, "--allow-missing", ...args],
    {
      cwd: ROOT,
      env: { ...clean, SOURCE_DATE_EPOCH: String(EPOCH), ...env },
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function entriesOf(tarball: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        out.push({
          name: header.name,
          type: header.type ?? "file",
          mode: header.mode ?? 0,
          uid: header.uid ?? -1,
          gid: header.gid ?? -1,
          mtime: (header.mtime?.getTime() ?? 0) / 1000,
          data: Buffer.concat(chunks),
        });
        next();
      });
      stream.resume();
    });
    ex.on("finish", resolve);
    ex.on("error", reject);
  });
  ex.end(gunzipSync(readFileSync(tarball)));
  await done;
  return out;
}

function sh(cmd: string, args: string[], cwd: string): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The installer's check, exactly: the .sig file is base64, OpenSSL wants the raw 64 bytes. */
function opensslVerify(dir: string, pubkey: string): Run {
  writeFileSync(join(dir, "..", "sig.raw"), Buffer.from(readFileSync(join(dir, "SHA256SUMS.sig"), "utf8"), "base64"));
  return sh(
    "openssl",
    [
      "pkeyutl",
      "-verify",
      "-pubin",
      "-inkey",
      pubkey,
      "-rawin",
      "-in",
      "SHA256SUMS",
      "-sigfile",
      join(dir, "..", "sig.raw"),
    ],
    dir,
  );
}

function repoFiles(dir: string, prefix = ""): string[] {
  const abs = join(ROOT, dir, prefix);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? repoFiles(dir, `${prefix}${d.name}/`) : [`${dir}/${prefix}${d.name}`],
  );
}

describe("npm run bundle: the offline install bundle", () => {
  const work = tempDir("vecto-bundle-");
  const keyFile = join(work.path, "release.pem");
  const out = join(work.path, "out");
  let run: Run;
  let entries: Entry[];
  let unpacked: string;

  beforeAll(async () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    run = bundle(out, { VECTO_RELEASE_SIGNING_KEY: keyFile });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).not.toContain("unofficial build");
    entries = await entriesOf(join(out, TARBALL));
    unpacked = join(work.path, "unpacked");
    sh("mkdir", ["-p", unpacked], work.path);
    expect(sh("tar", ["-xzf", join(out, TARBALL), "-C", unpacked], work.path).status).toBe(0);
  }, 180_000);
  afterAll(() => work.cleanup());

  const file = (path: string): Entry | undefined => entries.find((e) => e.name === `${TOP}/${path}`);

  it("has one top directory with the binary, units, installer, docs, config, SBOM, VERSION and signed checksums", () => {
    expect(new Set(entries.map((e) => e.name.split("/")[0]))).toEqual(new Set([TOP]));
    const files = entries.filter((e) => e.type === "file").map((e) => e.name.slice(TOP.length + 1));
    const expected = [
      "bin/vecto",
      "VERSION",
      "SHA256SUMS",
      "SHA256SUMS.sig",
      "sbom.cdx.json",
      "config/vecto.env.example",
      ...readdirSync(join(ROOT, "docs"))
        .filter((n) => n.endsWith(".md"))
        .map((n) => `docs/${n}`),
      ...repoFiles("docs/adr"),
      ...repoFiles("systemd"),
      ...repoFiles("installer"),
      ...["LICENSE", "NOTICE"].filter((n) => existsSync(join(ROOT, n))),
    ];
    expect(files.sort()).toEqual([...new Set(expected)].sort());
    expect(file("VERSION")?.data.toString()).toBe(`${VERSION}\n`);
    expect(file("bin/vecto")?.data.equals(readFileSync(CLI))).toBe(true);
    expect(file("config/vecto.env.example")?.data.equals(readFileSync(join(ROOT, "config", "vecto.env.example")))).toBe(
      true,
    );
    // The public key is published beside the tarball, never inside; no private key anywhere in it.
    expect(existsSync(join(out, PUBKEY))).toBe(true);
    expect(files.some((f) => f.endsWith(".pem"))).toBe(false);
    const secret = readFileSync(keyFile, "utf8").split("\n")[1] ?? "";
    expect(secret.length).toBeGreaterThan(40);
    for (const e of entries) expect(e.data.includes(secret), e.name).toBe(false);
  });

  it("sorted entries, explicit modes, root-owned, fixed mtime (SOURCE_DATE_EPOCH)", () => {
    const names = entries.map((e) => e.name);
    expect(names).toEqual([...names].sort());
    for (const e of entries) {
      expect([e.uid, e.gid, e.mtime], e.name).toEqual([0, 0, EPOCH]);
      const rel = e.name.slice(TOP.length + 1).replace(/\/$/, "");
      const executable =
        rel === "bin/vecto" ||
        rel.endsWith(".sh") ||
        (/^(installer|systemd)\//.test(rel) && (statSync(join(ROOT, rel)).mode & 0o111) !== 0);
      const wanted = e.type === "directory" || executable ? 0o755 : 0o644;
      expect(e.mode.toString(8), e.name).toBe(wanted.toString(8));
    }
    expect(statSync(join(unpacked, TOP, "bin", "vecto")).mode & 0o777).toBe(0o755);
  });

  it("SHA256SUMS lists every other file; sha256sum -c and the OpenSSL signature check pass", () => {
    const listed = readFileSync(join(unpacked, TOP, "SHA256SUMS"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => {
        expect(l).toMatch(/^[0-9a-f]{64} {2}[^/\s][^\s]*$/);
        return l.slice(66);
      });
    const files = entries
      .filter((e) => e.type === "file")
      .map((e) => e.name.slice(TOP.length + 1))
      .filter((f) => f !== "SHA256SUMS" && f !== "SHA256SUMS.sig");
    expect(listed).toEqual(files.sort());
    expect(sh("sha256sum", ["--strict", "-c", "SHA256SUMS"], join(unpacked, TOP)).status).toBe(0);
    const sig = Buffer.from(readFileSync(join(unpacked, TOP, "SHA256SUMS.sig"), "utf8"), "base64");
    expect(sig).toHaveLength(64);
    const verified = opensslVerify(join(unpacked, TOP), join(out, PUBKEY));
    expect(verified.stdout + verified.stderr).toContain("Signature Verified Successfully");
    expect(verified.status).toBe(0);
  });

  it("one flipped byte in bin/vecto fails sha256sum -c; an edited SHA256SUMS fails the signature", () => {
    const dir = join(work.path, "tampered");
    sh("mkdir", ["-p", dir], work.path);
    sh("tar", ["-xzf", join(out, TARBALL), "-C", dir], work.path);
    const top = join(dir, TOP);
    const binary = join(top, "bin", "vecto");
    const bytes = readFileSync(binary);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    writeFileSync(binary, bytes);
    const sums = sh("sha256sum", ["-c", "SHA256SUMS"], top);
    expect(sums.status).not.toBe(0);
    expect(sums.stdout).toContain("bin/vecto: FAILED");
    expect(opensslVerify(top, join(out, PUBKEY)).status).toBe(0);

    // An attacker who also fixes the checksum line cannot fix the signature.
    const fixed = sh("sha256sum", ["bin/vecto"], top).stdout.split(" ")[0] ?? "";
    const edited = readFileSync(join(top, "SHA256SUMS"), "utf8").replace(/^[0-9a-f]{64}(?= {2}bin\/vecto$)/m, fixed);
    writeFileSync(join(top, "SHA256SUMS"), edited);
    expect(sh("sha256sum", ["-c", "SHA256SUMS"], top).status).toBe(0);
    const verified = opensslVerify(top, join(out, PUBKEY));
    expect(verified.status).not.toBe(0);
    expect(verified.stdout + verified.stderr).toContain("Signature Verification Failure");
  });

  it("the SBOM is CycloneDX JSON of the production dependency tree, with hashes, and nothing from devDependencies", () => {
    const sbom = JSON.parse(file("sbom.cdx.json")?.data.toString() ?? "{}") as {
      bomFormat: string;
      specVersion: string;
      serialNumber: string;
      metadata: { component: { name: string; version: string } };
      components: {
        type: string;
        name: string;
        group?: string;
        version: string;
        purl?: string;
        hashes?: { alg: string; content: string }[];
      }[];
      dependencies: { ref: string; dependsOn: string[] }[];
    };
    expect(sbom.bomFormat).toBe("CycloneDX");
    expect(Number(sbom.specVersion)).toBeGreaterThanOrEqual(1.5);
    expect(sbom.serialNumber).toMatch(
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(sbom.metadata.component).toMatchObject({ name: "vecto-appliance", version: VERSION });
    expect(sbom.components.find((c) => c.type === "platform")).toMatchObject({
      name: "node",
      version: process.versions.node,
    });

    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<
        string,
        { version: string; integrity?: string; dev?: boolean; devOptional?: boolean; name?: string }
      >;
    };
    const byPurl = new Map(sbom.components.filter((c) => c.purl?.startsWith("pkg:npm/")).map((c) => [c.purl, c]));
    const nameOf = (path: string, entry: { name?: string }): string =>
      entry.name ?? path.slice(path.lastIndexOf("node_modules/") + 13);
    const purlOf = (name: string, version: string): string => `pkg:npm/${name.replace(/^@/, "%40")}@${version}`;
    let production = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === "") continue;
      const name = nameOf(path, entry);
      const component = byPurl.get(purlOf(name, entry.version));
      if (entry.dev || entry.devOptional) {
        // Present only if the same name@version is also a production package somewhere else.
        const alsoProduction = Object.entries(lock.packages).some(
          ([p, e]) => p !== "" && !e.dev && !e.devOptional && nameOf(p, e) === name && e.version === entry.version,
        );
        if (!alsoProduction) expect(component, `${path} is a devDependency`).toBeUndefined();
        continue;
      }
      production++;
      expect(component, `${path} (production) missing from the SBOM`).toBeDefined();
      if (entry.integrity?.startsWith("sha512-")) {
        expect(component?.hashes).toContainEqual({
          alg: "SHA-512",
          content: Buffer.from(entry.integrity.slice(7), "base64").toString("hex"),
        });
      }
    }
    expect(production).toBeGreaterThan(20);
    for (const dev of ["vitest", "esbuild", "typescript", "eslint", "postject", "tsx"])
      expect(
        sbom.components.some((c) => c.name === dev),
        dev,
      ).toBe(false);
    // Every direct dependency hangs off the application in the dependency graph.
    const direct = Object.keys(
      (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> })
        .dependencies,
    );
    const rootDeps = sbom.dependencies.find((d) => d.ref === `vecto-appliance@${VERSION}`)?.dependsOn ?? [];
    for (const name of direct)
      expect(
        rootDeps.some((r) => r.startsWith(`${name}@`)),
        name,
      ).toBe(true);
  });

  it("is reproducible: the same inputs and key give the same bytes", () => {
    const again = join(work.path, "again");
    expect(bundle(again, { VECTO_RELEASE_SIGNING_KEY: keyFile }).status).toBe(0);
    expect(readFileSync(join(again, TARBALL)).equals(readFileSync(join(out, TARBALL)))).toBe(true);
  }, 60_000);

  it("refuses a signing key readable by others, or not Ed25519, with one line", () => {
    const loose = join(work.path, "loose.pem");
    writeFileSync(loose, readFileSync(keyFile));
    chmodSync(loose, 0o644);
    const r1 = bundle(join(work.path, "refused"), { VECTO_RELEASE_SIGNING_KEY: loose });
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/^bundle: VECTO_RELEASE_SIGNING_KEY: .*loose\.pem has mode 0644; it must be 0600/m);
    const rsa = join(work.path, "rsa.pem");
    writeFileSync(
      rsa,
      generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }),
      { mode: 0o600 },
    );
    const r2 = bundle(join(work.path, "refused"), { VECTO_RELEASE_SIGNING_KEY: rsa });
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/is a rsa key; an Ed25519 key is required/);
    expect(existsSync(join(work.path, "refused", TARBALL))).toBe(false);
  });

  it("without a release key: an ephemeral 0600 key, a loud 'unofficial build' line, and a signature that verifies with its published key", () => {
    const dir = join(work.path, "ephemeral");
    const r = bundle(dir);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("unofficial build: signed with an ephemeral key");
    const key = join(dir, `vecto-${VERSION}-ephemeral-signing-key.pem`);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const x = join(dir, "x");
    sh("mkdir", ["-p", x], dir);
    sh("tar", ["-xzf", join(dir, TARBALL), "-C", x], dir);
    expect(opensslVerify(join(x, TOP), join(dir, PUBKEY)).status).toBe(0);
    // A different key than the release one: the release public key rejects it.
    expect(opensslVerify(join(x, TOP), join(out, PUBKEY)).status).not.toBe(0);
  }, 60_000);
});
