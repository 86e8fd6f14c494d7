/** Vite's `?raw` imports: a fixture file's text (the tool page's examples, say). */
declare module '*?raw' {
  const text: string;
  export default text;
}

/** Vite's `import.meta.glob`, as the tests use it (eager `?raw` imports of source files). */
interface ImportMeta {
  glob(pattern: string, options: { query: '?raw'; import: 'default'; eager: true }): Record<string, string>;
}
