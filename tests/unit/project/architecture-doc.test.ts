/**
 * docs/architecture.md cannot drift silently: every
 * repository path it names exists, and every function it names beside a path
 * in its tables is defined in that file. A renamed file or function fails here,
 * naming the doc's line, until the doc says the truth again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/proc.ts';

const DOC = 'docs/architecture.md';
const text = fs.readFileSync(path.join(ROOT, DOC), 'utf8');
const lines = text.split('\n');

/** `a/b.ts`, `relay/`, `main/core/front/`: a relative path with a folder in it (not a URL route such as `/v1/…`). */
const PATH_RE = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]*$/;
/** `name`, `Class.method`. */
const NAME_RE = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)?$/;
const ticked = (s: string) => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
const escape = (s: string) => s.replace(/[$]/g, '\\$');

/** The paths the doc names, each with its line. */
function pathsOf(lines: string[]): Array<{ line: number; path: string }> {
  return lines.flatMap((l, i) => ticked(l).filter((t) => PATH_RE.test(t) && !t.includes('<')).map((p) => ({ line: i + 1, path: p })));
}

/**
 * Table rows that pair a file with names: the first cell holding a single
 * path is the file, and every plain identifier in the next cell is a name
 * that file must define.
 */
function namesOf(lines: string[]): Array<{ line: number; file: string; name: string }> {
  const out: Array<{ line: number; file: string; name: string }> = [];
  lines.forEach((l, i) => {
    if (!l.startsWith('|')) return;
    const cells = l.split('|').slice(1, -1).map((c) => c.trim());
    cells.forEach((cell, c) => {
      // A cell naming a file, then its functions: in the same cell (`file` `fn`) or in the next one.
      const t = ticked(cell);
      const file = t.length > 0 && t[0]!.endsWith('.ts') && PATH_RE.test(t[0]!) ? t[0]! : null;
      if (!file) return;
      const names = [...t.slice(1), ...(t.length === 1 && cells[c + 1] !== undefined ? ticked(cells[c + 1]!) : [])];
      for (const name of names) if (NAME_RE.test(name)) out.push({ line: i + 1, file, name });
    });
  });
  return out;
}

/** Whether `source` defines `name`: a declaration, a class member or a method of an object it returns. */
function defines(source: string, name: string): boolean {
  const [owner, member] = name.includes('.') ? name.split('.') as [string, string] : [null, name];
  if (owner && !new RegExp(`\\bclass\\s+${escape(owner)}\\b`).test(source)) return false;
  const n = escape(member);
  return [
    new RegExp(`\\b(?:function\\*?|class|const|let|var|interface|type|enum)\\s+${n}\\b`),
    // A method or member: `  name(`, `  async name(`, `  private name(`, `  name: (…) =>`, `  name: fn,`.
    new RegExp(`^\\s*(?:(?:public|private|protected|static|readonly|async|get)\\s+)*${n}\\s*(?:<[^>]*>)?\\(`, 'm'),
    new RegExp(`^\\s*${n}\\s*:`, 'm'),
    // `kick: pump,` names `kick` as a short-hand member too.
    new RegExp(`^\\s*${n},\\s*$`, 'm'),
  ].some((re) => re.test(source));
}

describe('docs/architecture.md', () => {
  it('names only paths that exist in the repository', () => {
    const named = pathsOf(lines);
    expect(named.length).toBeGreaterThan(30);
    const missing = named.filter((p) => !fs.existsSync(path.join(ROOT, p.path))).map((p) => `${DOC}:${p.line} ${p.path}`);
    expect(missing).toEqual([]);
  });

  it('names beside each file only functions that file defines', () => {
    const named = namesOf(lines);
    expect(named.length).toBeGreaterThan(40);
    const missing = named
      .filter((n) => !fs.existsSync(path.join(ROOT, n.file)) || !defines(fs.readFileSync(path.join(ROOT, n.file), 'utf8'), n.name))
      .map((n) => `${DOC}:${n.line} ${n.file} ${n.name}`);
    expect(missing).toEqual([]);
  });

  it('walks both ways: an order change to the signed webhook, and an EVVA call to the plugin', () => {
    const walk = (title: string) => text.slice(text.indexOf(title), text.indexOf('\n## ', text.indexOf(title) + 1));
    const order = walk('## Walk 1');
    for (const f of ['main/core/feed/orders.ts', 'main/core/outbox/store.ts', 'main/core/tunnel/link.ts', 'relay/events.ts', 'relay/webhooks.ts', 'protocol/signature.ts']) {
      expect(order, f).toContain(`\`${f}\``);
    }
    const call = walk('## Walk 2');
    for (const f of ['relay/forward.ts', 'relay/link.ts', 'main/core/tunnel/gate.ts', 'main/core/front/client.ts']) expect(call, f).toContain(`\`${f}\``);
  });
});

describe('the checks the doc test makes', () => {
  it('tell a defined name from one that is not there', () => {
    const src = 'export class EventIntake {\n  take(link) {}\n  private async flush() {}\n}\nfunction pump() {}\nreturn {\n  kick: pump,\n  ack(ids) {},\n};';
    for (const n of ['EventIntake', 'EventIntake.take', 'EventIntake.flush', 'pump', 'kick', 'ack']) expect(defines(src, n), n).toBe(true);
    for (const n of ['EventIntake.drop', 'Other.take', 'kickoff', 'pum']) expect(defines(src, n), n).toBe(false);
  });

  it('read a file and its names from a table row, and paths from anywhere', () => {
    const rows = ['| 1 | `relay/events.ts` | `EventIntake.take`, `judge` | stores it |', '| the relay | `relay/server.ts` `createRelay` | root |', 'see `relay/` and `/v1/venues/:id`'];
    expect(namesOf(rows).map((n) => `${n.file} ${n.name}`)).toEqual(['relay/events.ts EventIntake.take', 'relay/events.ts judge', 'relay/server.ts createRelay']);
    expect(pathsOf(rows).map((p) => p.path)).toEqual(['relay/events.ts', 'relay/server.ts', 'relay/']);
  });
});
