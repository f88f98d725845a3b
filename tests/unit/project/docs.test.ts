/**
 * The docs stand alone: every link points into the
 * repository, nothing refers readers to files that are not here, and the
 * README's snippets can be pasted as they are.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/proc.ts';

const docs = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

describe('which Node runs what', () => {
  it('the README names every installed package that asks for a newer Node than the bins\' 20.19, so npm ci warns about nothing unexplained', () => {
    const semver = createRequire(import.meta.url)('semver') as { satisfies(v: string, range: string): boolean };
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
    const warned = Object.entries(lock.packages)
      .filter(([where, p]) => where.startsWith('node_modules/') && !Array.isArray(p.engines) && p.engines?.node && !semver.satisfies('20.19.0', p.engines.node))
      .map(([where]) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length));
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Which Node runs what'), readme.indexOf('## What is here'));
    expect(warned.length).toBeGreaterThan(0);
    for (const name of warned) expect(section, name).toContain(`\`${name}\``);
    expect(section).toContain(`${['', 'one', 'two', 'three', 'four', 'five', 'six', 'seven'][warned.length] ?? warned.length} \`EBADENGINE\` warnings`);
    expect(JSON.parse(read('package.json')).engines.node).toBe('>=20.19');
  });
});

describe('the docs', () => {
  it.each(docs)('%s links only to files in the repository', (file) => {
    const text = read(file);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:|#)/.test(target!)) continue;
      const resolved = path.resolve(path.dirname(path.join(ROOT, file)), target!.split('#')[0]!);
      expect(resolved.startsWith(ROOT + path.sep), `${file} → ${target}`).toBe(true);
      expect(fs.existsSync(resolved), `${file} → ${target}`).toBe(true);
    }
    // Design notes and references outside the repository are not there for a reader.
    expect(text, file).not.toMatch(/DESIGN\.md|STYLE\.md|shared\/reference|\/work\//);
  });

  it('README starts with the two commands, and its relay snippet sets KEY (16+ characters) before using it', () => {
    const readme = read('README.md');
    const first = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(first.split('\n')[0]).toMatch(/^npm ci && npm run demo\b/);
    expect(first.split('\n')[1]).toMatch(/^npm test\b/);
    const setAt = readme.search(/KEY=/);
    const usedAt = readme.indexOf('"$KEY"');
    expect(setAt).toBeGreaterThan(-1);
    expect(setAt).toBeLessThan(usedAt);
    expect(readme).toMatch(/at least 16 characters/);
    expect(readme).toMatch(/second terminal/);
  });
});
