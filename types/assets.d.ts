// SQL migrations are bundled as text (esbuild loader / vitest plugin), never read from disk at run time.
declare module "*.sql" {
  const text: string;
  export default text;
}

// Word lists (e.g. the common-password list) are bundled the same way.
declare module "*.txt" {
  const text: string;
  export default text;
}
