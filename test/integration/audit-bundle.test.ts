/**
 * Audit bundles: a log exported with its signed checkpoints, verified offline by an outsider who
 * holds only the verifier key. Every way of doctoring the file is caught and, where the signatures
 * allow, the first bad event is named. The CLI check runs from an empty directory with a clean
 * environment, proving it needs no installation.
 */
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import canonicalizeModule from "canonicalize";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BUNDLE_FORMAT,
  SLICE_FORMAT,
  verifyBundle,
  writeBundle,
  writeSlice,
  type BundleHeader,
  type BundleReport,
} from "../../src/audit/bundle.js";
import { parseCheckpoint, signCheckpoint } from "../../src/audit/checkpoint-format.js";
import { logKeys, makeCheckpoints } from "../../src/audit/checkpoints.js";
import { leafHash } from "../../src/audit/merkle.js";
import { newKeyPair } from "../../src/audit/signed-note.js";
import { runCli, tempDir, testDir } from "../helpers.js";
import { identityFixture, type Fixture } from "../identity-fixture.js";

const canonicalize = canonicalizeModule as unknown as (value: unknown) => string;

async function* linesOf(lines: readonly string[]): AsyncGenerator<string> {
  yield* lines;
}

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

/** The signed text of a note, read without checking its signature (to re-sign it as a forger would). */
function noteText(note: string): string {
  return note.slice(0, note.indexOf("\n\n") + 1);
}

/** Parsed event line, re-serialised canonically after an edit. */
function edited(line: string, change: (event: Record<string, unknown>) => void): string {
  const event = JSON.parse(line) as Record<string, unknown>;
  change(event);
  return canonicalize(event);
}

describe("audit bundles", () => {
  let f: Fixture;
  const work = tempDir("vecto-bundle-");
  /** A tenant log with a checkpoint after every request: an edit is located to its event. */
  let dense: { log: string; slug: string; key: string; lines: string[] };
  /** A tenant log with one checkpoint: an edit is located to the events the checkpoint covers. */
  let coarse: { log: string; key: string; lines: string[] };

  async function tenantWithEvents(slug: string, events: number, checkpointEach: boolean): Promise<string> {
    const t = await f.createTenant(slug);
    const token = t.admin.tokens.accessToken;
    const project = (
      (await (await f.call("POST", "/api/projects", { token, body: { name: "P" } })).json()) as {
        project: { id: string };
      }
    ).project.id;
    while (f.services.db.auditLog.size(t.tenantId) < events) {
      await f.call("POST", `/api/projects/${project}/nodes`, { token, body: { type: "note", title: "n" } });
      if (checkpointEach) await makeCheckpoints(f.services.db, f.services.crypto, f.services.auditAnchor);
    }
    return t.tenantId;
  }

  async function bundleOf(log: string): Promise<{ key: string; lines: string[] }> {
    const { verifierKey } = await logKeys(f.services.db, f.services.crypto, log);
    return {
      key: verifierKey,
      lines: await collect(writeBundle(f.services.db, f.services.crypto, f.services.auditAnchor, log)),
    };
  }

  const verify = (lines: readonly string[], key: string): Promise<BundleReport> => verifyBundle(linesOf(lines), key);
  const header = (lines: readonly string[]): BundleHeader => JSON.parse(lines[0] ?? "") as BundleHeader;
  const size = (lines: readonly string[]): number => lines.length - 1;

  beforeAll(async () => {
    f = await identityFixture();
    const denseLog = await tenantWithEvents("bundle-dense", 10, true);
    dense = { log: denseLog, slug: "bundle-dense", ...(await bundleOf(denseLog)) };
    const coarseLog = await tenantWithEvents("bundle-coarse", 12, false);
    await makeCheckpoints(f.services.db, f.services.crypto, f.services.auditAnchor);
    coarse = { log: coarseLog, ...(await bundleOf(coarseLog)) };
  });
  afterAll(() => {
    f.close();
    work.cleanup();
  });

  it("writes a header with every signed checkpoint, then each event's leaf bytes, and verifies", async () => {
    const h = header(dense.lines);
    const checkpoints = f.services.db.auditLog.checkpoints(dense.log);
    expect(h).toMatchObject({
      format: BUNDLE_FORMAT,
      log: dense.log,
      verifierKey: dense.key,
      checkpoints: checkpoints.map((c) => c.note),
    });
    expect(size(dense.lines)).toBe(checkpoints.at(-1)?.size);
    const rows = f.services.db.auditLog.page(dense.log, 0, 1000);
    dense.lines.slice(1).forEach((line, seq) => {
      expect((JSON.parse(line) as { seq: number }).seq).toBe(seq);
      expect(Buffer.from(leafHash(Buffer.from(line, "utf8"))).equals(Buffer.from(rows[seq]?.leafHash ?? []))).toBe(
        true,
      );
    });
    expect(await verify(dense.lines, dense.key)).toEqual({
      ok: true,
      log: dense.log,
      events: size(dense.lines),
      checkpoints: checkpoints.length,
    });
    expect(await verify(coarse.lines, coarse.key)).toMatchObject({
      ok: true,
      events: size(coarse.lines),
      checkpoints: 1,
    });
  });

  it("makes a checkpoint first when the log has none, and ends at the newest checkpoint", async () => {
    const log = await tenantWithEvents("bundle-fresh", 4, false);
    expect(f.services.db.auditLog.latestCheckpoint(log)).toBeUndefined();
    const { key, lines } = await bundleOf(log);
    expect(f.services.db.auditLog.latestCheckpoint(log)?.size).toBe(size(lines));
    expect(await verify(lines, key)).toMatchObject({ ok: true, events: size(lines), checkpoints: 1 });
  });

  it("refuses another installation's key, and never trusts the key inside the bundle", async () => {
    const h = header(dense.lines);
    const other = newKeyPair(h.origin);
    const wrong = await verify(dense.lines, other.verifierKey);
    expect(wrong).toMatchObject({ ok: false, events: 0 });
    expect(wrong.firstBad?.seq).toBeUndefined();
    expect(wrong.firstBad?.reason).toContain("not the trusted key");
    expect((await verify(dense.lines, newKeyPair("vecto.local/other-installation/x").verifierKey)).ok).toBe(false);
    expect((await verify(dense.lines, "not a key")).firstBad?.reason).toContain(
      "the trusted key is not a verifier key",
    );
    // A forger re-signs every checkpoint with their own key and names it in the header: it holds
    // together under their key, which is why the auditor must get the key out of band.
    const forgedNotes = h.checkpoints.map((note) => signCheckpoint(parseCheckpoint(noteText(note)), other.signer));
    const forged = [
      JSON.stringify({ ...h, verifierKey: other.verifierKey, checkpoints: forgedNotes }),
      ...dense.lines.slice(1),
    ];
    expect((await verify(forged, other.verifierKey)).ok).toBe(true);
    expect((await verify(forged, dense.key)).firstBad?.reason).toContain("not the trusted key");
  });

  it("names an edited event line (exactly, with a checkpoint per event; as a range otherwise)", async () => {
    const sizes = f.services.db.auditLog.checkpoints(dense.log).map((c) => c.size);
    const seq = sizes.find((s) => sizes.includes(s + 1)) as number; // covered alone by checkpoint seq+1
    const lines = [...dense.lines];
    lines[seq + 1] = edited(lines[seq + 1] ?? "", (e) => (e.severity = "critical"));
    expect((await verify(lines, dense.key)).firstBad).toEqual({
      seq,
      reason: `event ${seq} does not match the signed checkpoint at size ${seq + 1}: changed, added or removed`,
    });
    const coarseLines = [...coarse.lines];
    coarseLines[8] = edited(coarseLines[8] ?? "", (e) => (e.payload = { forged: true }));
    expect((await verify(coarseLines, coarse.key)).firstBad).toEqual({
      seq: 0,
      reason: `events 0..${size(coarse.lines) - 1} do not match the signed checkpoint at size ${size(coarse.lines)}: changed, added or removed`,
    });
    // Editing the seq field itself breaks the sequence at that line.
    const renumbered = [...dense.lines];
    renumbered[4] = edited(renumbered[4] ?? "", (e) => (e.seq = 9));
    expect((await verify(renumbered, dense.key)).firstBad?.seq).toBe(3);
  });

  it("names a deleted line, the first of two swapped lines, and a duplicated line", async () => {
    const deleted = dense.lines.filter((_, i) => i !== 6);
    expect((await verify(deleted, dense.key)).firstBad).toEqual({
      seq: 5,
      reason: "event 5 is missing or out of place (line 7 holds event 6)",
    });
    const swapped = [...dense.lines];
    [swapped[4], swapped[5]] = [swapped[5] ?? "", swapped[4] ?? ""];
    expect((await verify(swapped, dense.key)).firstBad).toEqual({
      seq: 3,
      reason: "event 3 is missing or out of place (line 5 holds event 4)",
    });
    const duplicated = [...dense.lines.slice(0, 4), dense.lines[3] ?? "", ...dense.lines.slice(4)];
    expect((await verify(duplicated, dense.key)).firstBad?.seq).toBe(3);
  });

  it("names a truncated file, whole lines or cut mid-line", async () => {
    const n = size(dense.lines);
    expect((await verify(dense.lines.slice(0, -2), dense.key)).firstBad).toEqual({
      seq: n - 2,
      reason: `the bundle ends after ${n - 2} events, but a signed checkpoint covers ${n}: events were removed from the end`,
    });
    const cut = [...dense.lines.slice(0, -1), (dense.lines.at(-1) ?? "").slice(0, 40)];
    expect((await verify(cut, dense.key)).firstBad).toEqual({
      seq: n - 1,
      reason: `line ${n + 1} is not JSON (cut short or edited)`,
    });
    expect((await verify(dense.lines.slice(0, 1), dense.key)).firstBad?.seq).toBe(0);
    expect((await verify([], dense.key)).firstBad?.reason).toBe("the file is empty: no bundle header");
  });

  it("names an appended forged line beyond the newest checkpoint", async () => {
    const n = size(dense.lines);
    const forged = edited(dense.lines.at(-1) ?? "", (e) => ((e.seq = n), (e.vid = "forged")));
    expect((await verify([...dense.lines, forged], dense.key)).firstBad).toEqual({
      seq: n,
      reason: expect.stringContaining("past its newest signed checkpoint"),
    });
  });

  it("names a line re-serialised out of canonical form, even with the same JSON", async () => {
    const lines = [...dense.lines];
    const event = JSON.parse(lines[3] ?? "") as Record<string, unknown>;
    lines[3] = JSON.stringify(Object.fromEntries(Object.entries(event).reverse()));
    expect((await verify(lines, dense.key)).firstBad).toEqual({
      seq: 2,
      reason: expect.stringContaining("line 4 is not the event's RFC 8785 canonical JSON"),
    });
    const spaced = [...dense.lines];
    spaced[3] = (spaced[3] ?? "").replace(/,"/g, ', "');
    expect((await verify(spaced, dense.key)).firstBad?.seq).toBe(2);
  });

  it("names a checkpoint replaced by one signed with another key, and a malformed header", async () => {
    const h = header(dense.lines);
    const replaced = parseCheckpoint(noteText(h.checkpoints[2] ?? ""));
    const impostor = newKeyPair(h.origin);
    const checkpoints = h.checkpoints.map((note, i) => (i === 2 ? signCheckpoint(replaced, impostor.signer) : note));
    const report = await verify([JSON.stringify({ ...h, checkpoints }), ...dense.lines.slice(1)], dense.key);
    expect(report.firstBad).toEqual({
      seq: replaced.size - 1,
      reason: expect.stringContaining(`the checkpoint at size ${replaced.size} does not verify with the trusted key`),
    });
    const noCheckpoints = [JSON.stringify({ ...h, checkpoints: [] }), ...dense.lines.slice(1)];
    expect((await verify(noCheckpoints, dense.key)).firstBad?.reason).toContain("at least one signed checkpoint");
    const relabelled = [JSON.stringify({ ...h, log: "someone-else" }), ...dense.lines.slice(1)];
    expect((await verify(relabelled, dense.key)).firstBad?.reason).toContain("but its signed origin is");
    expect((await verify(["not json", ...dense.lines.slice(1)], dense.key)).firstBad?.reason).toBe(
      "line 1 is not JSON: not an audit bundle",
    );
  });

  describe("slices", () => {
    const slice = (log: string, from: number, to: number): Promise<string[]> =>
      collect(writeSlice(f.services.db, f.services.crypto, f.services.auditAnchor, log, from, to));

    it("proves each event of a range against the newest checkpoint", async () => {
      const lines = await slice(coarse.log, 3, 9);
      expect(lines).toHaveLength(7);
      expect(JSON.parse(lines[0] ?? "")).toMatchObject({
        format: SLICE_FORMAT,
        log: coarse.log,
        verifierKey: coarse.key,
        checkpoint: header(coarse.lines).checkpoints.at(-1),
        from: 3,
        to: 9,
      });
      expect((JSON.parse(lines[1] ?? "") as { event: unknown }).event).toEqual(JSON.parse(coarse.lines[4] ?? ""));
      expect(await verify(lines, coarse.key)).toEqual({
        ok: true,
        log: coarse.log,
        events: 6,
        checkpoints: 1,
        slice: { from: 3, to: 9 },
      });
      const n = size(coarse.lines);
      expect((await verify(await slice(coarse.log, 0, n), coarse.key)).ok).toBe(true);
      expect((await verify(await slice(coarse.log, n - 1, n), coarse.key)).ok).toBe(true);
      await expect(
        collect(writeSlice(f.services.db, f.services.crypto, f.services.auditAnchor, coarse.log, 2, n + 1)),
      ).rejects.toThrow(RangeError);
      expect((await verify(lines, newKeyPair(header(coarse.lines).origin).verifierKey)).firstBad?.reason).toContain(
        "not the trusted key",
      );
    });

    it("names an edited event exactly, even under one coarse checkpoint", async () => {
      const lines = await slice(coarse.log, 3, 9);
      const tampered = [...lines];
      tampered[3] = edited(tampered[3] ?? "", (l) => ((l.event as Record<string, unknown>).payload = { forged: true }));
      expect((await verify(tampered, coarse.key)).firstBad).toEqual({
        seq: 5,
        reason: expect.stringContaining("event 5 is not the one the signed checkpoint"),
      });
      const wrongProof = [...lines];
      wrongProof[2] = edited(
        wrongProof[2] ?? "",
        (l) => (l.proof = (JSON.parse(lines[3] ?? "") as { proof: string[] }).proof),
      );
      expect((await verify(wrongProof, coarse.key)).firstBad?.seq).toBe(4);
    });

    it("names a deleted, truncated or extra line, and a range the checkpoint does not cover", async () => {
      const lines = await slice(coarse.log, 3, 9);
      expect(
        (
          await verify(
            lines.filter((_, i) => i !== 2),
            coarse.key,
          )
        ).firstBad,
      ).toEqual({ seq: 4, reason: "event 4 is missing or out of place (line 3 holds event 5)" });
      expect((await verify(lines.slice(0, -1), coarse.key)).firstBad?.reason).toContain(
        "events were removed from the end",
      );
      expect((await verify([...lines, lines.at(-1) ?? ""], coarse.key)).firstBad).toEqual({
        seq: 9,
        reason: expect.stringContaining("goes on past"),
      });
      const h = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
      expect(
        (await verify([JSON.stringify({ ...h, to: 10_000 }), ...lines.slice(1)], coarse.key)).firstBad?.reason,
      ).toContain("outside its signed checkpoint");
    });
  });

  describe("through the CLI", () => {
    const env = (): Record<string, string> => ({ VECTO_DATA_DIR: f.dataDir });

    /** A directory holding nothing but the file: the auditor's machine. */
    function auditorCopy(file: string, lines?: readonly string[]): { cwd: string; name: string } {
      const cwd = testDir("vecto-auditor-");
      const name = "bundle.jsonl";
      if (lines) writeFileSync(join(cwd, name), lines.map((l) => `${l}\n`).join(""));
      else copyFileSync(file, join(cwd, name));
      return { cwd, name };
    }

    it("exports a bundle and prints the key on the box; verifies it offline in an empty directory", () => {
      const out = join(work.path, "dense.jsonl");
      const exported = runCli(["audit", "export", "--bundle", "--log", dense.slug, "--out", out], {
        cwd: work.path,
        env: env(),
      });
      expect(exported.status, exported.stderr).toBe(0);
      const key = runCli(["audit", "verify", "--print-key", "--log", dense.slug], { cwd: work.path, env: env() });
      expect(key.stdout.trim()).toBe(dense.key);
      expect(readFileSync(out, "utf8")).toBe(dense.lines.map((l) => `${l}\n`).join(""));

      const { cwd, name } = auditorCopy(out);
      const ok = runCli(["audit", "verify", "--file", name, "--key", dense.key], { cwd });
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout.trim()).toMatch(
        new RegExp(`^ok {4}${dense.log}: \\d+ events, \\d+ signed checkpoints, verified offline$`),
      );
      const json = runCli(["audit", "verify", "--file", name, "--key", dense.key, "--json"], { cwd });
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, log: dense.log });
      expect(readdirSync(cwd)).toEqual([name]); // nothing created: no data dir, no key, no database
    });

    it("exports a slice and verifies it offline", () => {
      const out = join(work.path, "slice.jsonl");
      const exported = runCli(["audit", "export", "--bundle", "--slice", "2-6", "--log", coarse.log, "--out", out], {
        cwd: work.path,
        env: env(),
      });
      expect(exported.status, exported.stderr).toBe(0);
      const { cwd, name } = auditorCopy(out);
      const ok = runCli(["audit", "verify", "--file", name, "--key", coarse.key], { cwd });
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout.trim()).toBe(`ok    ${coarse.log}: 5 events (2-6), 1 signed checkpoints, verified offline`);
    });

    it("fails offline with one line naming the first bad event, or the wrong key", () => {
      const deleted = auditorCopy(
        "",
        dense.lines.filter((_, i) => i !== 6),
      );
      const bad = runCli(["audit", "verify", "--file", deleted.name, "--key", dense.key], { cwd: deleted.cwd });
      expect(bad.status).toBe(1);
      expect(bad.stdout).toBe("");
      expect(bad.stderr).toBe(
        "vecto: audit bundle failed verification at event 5: event 5 is missing or out of place (line 7 holds event 6)\n",
      );
      const json = runCli(["audit", "verify", "--file", deleted.name, "--key", dense.key, "--json"], {
        cwd: deleted.cwd,
      });
      expect(json.status).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstBad: { seq: 5 } });

      const whole = auditorCopy("", dense.lines);
      const wrong = runCli(
        ["audit", "verify", "--file", whole.name, "--key", newKeyPair(header(dense.lines).origin).verifierKey],
        { cwd: whole.cwd },
      );
      expect(wrong.status).toBe(1);
      expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
      expect(wrong.stderr).toContain("not the trusted key");
      expect(
        runCli(["audit", "verify", "--file", "missing.jsonl", "--key", dense.key], { cwd: whole.cwd }).stderr.trim(),
      ).toBe("vecto: no file missing.jsonl");
    }, 90_000);

    it("refuses option mixes with one line", () => {
      const cases: [string[], string][] = [
        [["audit", "export", "--bundle", "--event", "node.created"], "cannot be combined with --event"],
        [["audit", "export", "--bundle", "--format", "jsonl"], "cannot be combined with --format"],
        [["audit", "export", "--slice", "1-2"], "--slice needs --bundle"],
        [["audit", "export", "--bundle", "--slice", "5-2"], "invalid --slice"],
        [["audit", "verify", "--file", "x.jsonl"], "--file needs --key"],
        [["audit", "verify", "--key", "k"], "--key is for verifying a bundle"],
        [["audit", "verify", "--file", "x.jsonl", "--key", "k", "--log", "platform"], "takes no --log"],
      ];
      for (const [args, text] of cases) {
        const result = runCli(args, { cwd: work.path, env: env() });
        expect(result.status, args.join(" ")).toBe(1);
        expect(result.stderr.trim().split("\n"), args.join(" ")).toEqual([expect.stringContaining(text)]);
      }
    }, 90_000);
  });
});
