/** The shared temp-dir helpers of test/helpers.ts: a test's directory goes when the test ends, and misuse leaves nothing behind. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { testDir } from "../helpers.js";

describe("testDir", () => {
  let made = "";
  let seenByLaterCleanup: boolean | undefined;

  it("makes a private directory for the test", () => {
    made = testDir("vecto-temp-dirs-");
    expect(statSync(made).isDirectory()).toBe(true);
    expect(statSync(made).mode & 0o777).toBe(0o700);
    // Registered after the directory: runs before its removal (a database in it is closed first).
    onTestFinished(() => {
      seenByLaterCleanup = existsSync(made);
    });
  });

  it("removed it when that test finished, after the test's own later cleanups", () => {
    expect(made).not.toBe("");
    expect(existsSync(made)).toBe(false);
    expect(seenByLaterCleanup).toBe(true);
  });

  describe("outside a test", () => {
    const prefix = `vecto-temp-dirs-outside-${process.pid}-`;
    let error: unknown;
    beforeAll(() => {
      try {
        testDir(prefix);
      } catch (e) {
        error = e;
      }
    });

    it("throws and leaves no directory behind", () => {
      expect(error).toBeInstanceOf(Error);
      expect(readdirSync(tmpdir()).filter((name) => name.startsWith(prefix))).toEqual([]);
    });
  });
});
