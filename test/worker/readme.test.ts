/**
 * The README's configuration table documents every setting the Worker reads, so a new knob
 * cannot ship undocumented: the names come from worker/settings.ts, and every `env.NAME` read in
 * the Worker's source must be one of them (or a binding).
 */
import { describe, expect, it } from 'vitest';
import readme from '../../README.md?raw';
import { SECRET_NAMES, VAR_NAMES } from '../../worker/settings';

const sources = import.meta.glob('../../worker/**/*.ts', { query: '?raw', import: 'default', eager: true });
const BINDINGS = new Set(['TASK', 'LIMITER', 'BUDGET', 'OUTPUTS', 'ASSETS']);

describe('the README’s configuration table', () => {
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## The API'));

  it.each([...VAR_NAMES, ...SECRET_NAMES])('documents %s', (name) => {
    expect(table).toContain(`\`${name}\``);
  });

  it('covers every setting the Worker reads from env', () => {
    const read = new Set<string>();
    for (const text of Object.values(sources)) {
      for (const [, name] of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)\b/g)) if (name) read.add(name);
    }
    expect(read.size).toBeGreaterThan(10);
    const known = new Set<string>([...VAR_NAMES, ...SECRET_NAMES, ...BINDINGS]);
    expect([...read].filter((name) => !known.has(name))).toEqual([]);
  });
});
