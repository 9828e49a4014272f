// String.prototype.isWellFormed (ES2024) is in every Node >= 20 (V8 11.1+), which package.json
// requires; TypeScript's lib here is ES2023, so the one method src/text.ts uses is declared.
interface String {
  /** False when the string holds a lone surrogate (so has no UTF-8 form). */
  isWellFormed(): boolean;
}
