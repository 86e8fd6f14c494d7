/** Vite's `?raw` imports: a fixture file's text (the tool page's examples, say). */
declare module '*?raw' {
  const text: string;
  export default text;
}
