/**
 * The two sides of a file change for VS Code's diff editor, from a unified diff.
 *
 * The server sends a patch as unified diffs (`toolCallStarted.changes`, `turnDiff`), not the
 * whole files. The diff editor wants whole documents, so the side the disk does not hold is
 * rebuilt by applying the hunks to what the disk holds: forwards when the change has not
 * happened yet (an approval), backwards when it has. When neither fits (the file changed
 * again since), the hunks alone are shown, which is still the change, with less context.
 * No `vscode` here: unit-tested alone.
 */

export interface Hunk {
  oldStart: number;
  /** Lines as in the diff, with their ' ', '-' or '+' prefix. */
  lines: string[];
}

export interface Sides {
  before: string;
  after: string;
  /** How the sides were obtained, for the editor's title. */
  how: 'applied' | 'reversed' | 'hunks';
}

const HUNK_HEADER = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/;

export function parseHunks(diff: string): Hunk[] {
  const hunks: Hunk[] = [];
  let current: Hunk | undefined;
  for (const line of diff.split('\n')) {
    const header = HUNK_HEADER.exec(line);
    if (header) {
      current = { oldStart: Number(header[1]), lines: [] };
      hunks.push(current);
      continue;
    }
    if (!current) continue;
    if (line.startsWith('\\')) continue; // "\ No newline at end of file"
    const mark = line.charAt(0);
    if (mark === ' ' || mark === '-' || mark === '+') current.lines.push(line);
    else if (line === '') current.lines.push(' ');
  }
  return hunks;
}

/** +/- line counts of a diff (what a file-change block shows). */
export function countChanges(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  let inHunk = false;
  for (const line of diff.split('\n')) {
    if (HUNK_HEADER.test(line)) {
      inHunk = true;
      continue;
    }
    if (!inHunk) continue;
    if (line.startsWith('+') && !line.startsWith('+++')) added++;
    else if (line.startsWith('-') && !line.startsWith('---')) removed++;
  }
  return { added, removed };
}

function side(hunk: Hunk, which: 'old' | 'new'): string[] {
  const skip = which === 'old' ? '+' : '-';
  return hunk.lines.filter((line) => line.charAt(0) !== skip).map((line) => line.slice(1));
}

function findBlock(lines: readonly string[], block: readonly string[], from: number, hint: number): number {
  const fits = (at: number): boolean =>
    at >= from && at + block.length <= lines.length && block.every((line, i) => lines[at + i]?.trimEnd() === line.trimEnd());
  if (block.length === 0) return Math.max(from, Math.min(hint, lines.length));
  if (fits(hint)) return hint;
  for (let at = from; at + block.length <= lines.length; at++) if (fits(at)) return at;
  return -1;
}

/** Applies the hunks to `text` (reverse: undoes them); undefined when a hunk does not fit. */
export function applyHunks(text: string, hunks: readonly Hunk[], reverse = false): string | undefined {
  const lines = text.split('\n');
  const out: string[] = [];
  let cursor = 0;
  for (const hunk of hunks) {
    const from = side(hunk, reverse ? 'new' : 'old');
    const to = side(hunk, reverse ? 'old' : 'new');
    const at = findBlock(lines, from, cursor, Math.max(0, hunk.oldStart - 1));
    if (at < 0) return undefined;
    out.push(...lines.slice(cursor, at), ...to);
    cursor = at + from.length;
  }
  out.push(...lines.slice(cursor));
  return out.join('\n');
}

/**
 * Both sides of one file's change. `current` is the file on disk now (undefined: missing).
 */
export function diffSides(kind: string, diff: string, current: string | undefined): Sides {
  const hunks = parseHunks(diff);
  const oldText = hunks.map((h) => side(h, 'old').join('\n')).join('\n⋯\n');
  const newText = hunks.map((h) => side(h, 'new').join('\n')).join('\n⋯\n');
  if (kind === 'add') {
    return current !== undefined && current !== '' && applyHunks('', hunks) !== current
      ? { before: '', after: current, how: 'applied' }
      : { before: '', after: newText, how: 'applied' };
  }
  if (kind === 'delete') return { before: current ?? oldText, after: '', how: 'applied' };
  if (current !== undefined) {
    const forward = applyHunks(current, hunks);
    if (forward !== undefined && forward !== current) return { before: current, after: forward, how: 'applied' };
    const backward = applyHunks(current, hunks, true);
    if (backward !== undefined) return { before: backward, after: current, how: 'reversed' };
  }
  return { before: oldText, after: newText, how: 'hunks' };
}

function diffPath(header: string): string {
  // "--- a/src/x.ts\t2026-..." -> "src/x.ts"
  return header.slice(4).split('\t')[0]?.replace(/^[ab]\//, '') ?? '';
}

/** One file's part of a multi-file unified diff (`turnDiff.diff`), by its path ('' if absent). */
export function fileDiffFromTurnDiff(diff: string, path: string): string {
  const lines = diff.split('\n');
  const git = lines.some((line) => line.startsWith('diff --git '));
  // a file's section starts at "diff --git", or, without those headers, at a "---"/"+++" pair
  const starts: number[] = [];
  lines.forEach((line, i) => {
    const start = git
      ? line.startsWith('diff --git ')
      : line.startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ ');
    if (start) starts.push(i);
  });
  for (let k = 0; k < starts.length; k++) {
    const section = lines.slice(starts[k], starts[k + 1] ?? lines.length);
    const paths = section
      .filter((line) => line.startsWith('--- ') || line.startsWith('+++ '))
      .map(diffPath);
    const header = git ? (section[0] ?? '') : '';
    if (paths.includes(path) || header.endsWith(` b/${path}`)) return section.join('\n');
  }
  return '';
}
