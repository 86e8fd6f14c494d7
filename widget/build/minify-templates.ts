/**
 * A Vite plugin that squeezes the whitespace out of the widget's Lit templates (`html`, `svg`)
 * and styles (`css`). JavaScript minifiers keep template literals byte for byte, and the
 * indentation of templates is a good part of the bundle's size budget.
 *
 * Only whitespace changes, and only where it means nothing: in `html`/`svg`, a run of
 * whitespace that contains a line break becomes one space (the browser would collapse it
 * anyway; the templates have no <pre> text); in `css`, runs become one space and spaces around
 * `{ } ; , :` go. Everything else (code, strings, comments, regexes) is copied as is.
 *
 * @example
 *   minifyTemplateLiterals('html`<p>\n    hi\n  </p>`') // 'html`<p> hi </p>`'
 */
import type { Plugin } from 'vite';

export function minifyTemplates(): Plugin {
  return {
    name: 'wiro-flux:minify-templates',
    enforce: 'pre',
    apply: 'build',
    transform(code, id) {
      if (!/[/\\]widget[/\\]src[/\\].*\.ts$/.test(id)) return null;
      return { code: minifyTemplateLiterals(code), map: null };
    },
  };
}

/** Words after which a `/` starts a regular expression, not a division. */
const REGEX_AFTER_WORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
]);

function squeeze(text: string, tag: string): string {
  if (tag !== 'css') return text.replace(/\s*\n\s*/g, ' ');
  return text
    .replace(/\s+/g, ' ')
    .replace(/\s*([{};,])\s*/g, '$1')
    .replace(/:\s+/g, ':')
    .replace(/;}/g, '}');
}

export function minifyTemplateLiterals(code: string): string {
  let out = '';
  let i = 0;
  const n = code.length;

  /** Whether a `/` here starts a regex: judged by what came before it. */
  const regexAllowed = (): boolean => {
    let j = out.length - 1;
    while (j >= 0 && /\s/.test(out[j] ?? '')) j--;
    if (j < 0) return true;
    const last = out[j] ?? '';
    if (/[\w$]/.test(last)) {
      let k = j;
      while (k >= 0 && /[\w$]/.test(out[k] ?? '')) k--;
      return REGEX_AFTER_WORDS.has(out.slice(k + 1, j + 1));
    }
    return '(,=:[!&|?{};+-*%<>~^'.includes(last);
  };

  const copyUntil = (stop: number) => {
    out += code.slice(i, stop);
    i = stop;
  };

  const scanTemplate = (tag: string | undefined) => {
    out += '`';
    i++;
    let text = '';
    const flush = () => {
      out += tag ? squeeze(text, tag) : text;
      text = '';
    };
    while (i < n) {
      const c = code[i];
      if (c === '\\') {
        text += code.slice(i, i + 2);
        i += 2;
      } else if (c === '`') {
        flush();
        out += '`';
        i++;
        return;
      } else if (c === '$' && code[i + 1] === '{') {
        flush();
        out += '${';
        i += 2;
        scanCode(true);
        out += '}';
        i++;
      } else {
        text += c;
        i++;
      }
    }
    flush();
  };

  /** Copies code; inside `${…}` (nested) it returns at the closing brace, without copying it. */
  const scanCode = (nested: boolean) => {
    let braces = 0;
    while (i < n) {
      const c = code[i] ?? '';
      const next = code[i + 1];
      if (c === '/' && next === '/') {
        const end = code.indexOf('\n', i);
        copyUntil(end === -1 ? n : end);
      } else if (c === '/' && next === '*') {
        const end = code.indexOf('*/', i + 2);
        copyUntil(end === -1 ? n : end + 2);
      } else if (c === '"' || c === "'") {
        let j = i + 1;
        while (j < n && code[j] !== c) j += code[j] === '\\' ? 2 : 1;
        copyUntil(j + 1);
      } else if (c === '`') {
        const tag = /(?:^|[^\w$.])(html|svg|css)\s*$/.exec(code.slice(Math.max(0, i - 12), i))?.[1];
        scanTemplate(tag);
      } else if (c === '/' && regexAllowed()) {
        let j = i + 1;
        let inClass = false;
        while (j < n && code[j] !== '\n') {
          const ch = code[j];
          if (ch === '\\') j++;
          else if (ch === '[') inClass = true;
          else if (ch === ']') inClass = false;
          else if (ch === '/' && !inClass) break;
          j++;
        }
        j++;
        while (j < n && /[a-z]/i.test(code[j] ?? '')) j++;
        copyUntil(j);
      } else {
        if (c === '{') braces++;
        if (c === '}') {
          if (nested && braces === 0) return;
          braces--;
        }
        out += c;
        i++;
      }
    }
  };

  scanCode(false);
  return out;
}
