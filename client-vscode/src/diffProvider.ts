/**
 * "Open diff": a file change shown in VS Code's own diff editor (`vscode.diff`), its two sides
 * served by a TextDocumentContentProvider under the `agentls-diff` scheme (read-only, never
 * written to disk).
 */

import * as path from 'node:path';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { diffSides } from './diffDocs';
import type { FileChange } from './protocol';

export const DIFF_SCHEME = 'agentls-diff';
/** The documents of the last diffs opened (a few: each open diff holds two). */
const KEEP = 40;

export class DiffContentProvider implements vscode.TextDocumentContentProvider {
  private readonly docs = new Map<string, string>();
  private counter = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.docs.get(uri.path) ?? '';
  }

  private put(key: string, text: string): vscode.Uri {
    this.docs.set(key, text);
    while (this.docs.size > KEEP) {
      const oldest = this.docs.keys().next().value;
      if (oldest === undefined) break;
      this.docs.delete(oldest);
    }
    return vscode.Uri.from({ scheme: DIFF_SCHEME, path: key });
  }

  /** Opens the change in the diff editor; `root` is the workspace folder the paths are relative to. */
  async open(change: FileChange, root: string | undefined): Promise<void> {
    const file = root ? path.resolve(root, change.movePath ?? change.path) : undefined;
    let current: string | undefined;
    try {
      // only files inside the workspace are read
      if (file && root && !path.relative(root, file).startsWith('..')) current = fs.readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    const sides = diffSides(change.kind, change.diff, current);
    const n = ++this.counter;
    const name = change.movePath ?? change.path;
    const before = this.put(`/${n}/before/${change.path}`, sides.before);
    const after = this.put(`/${n}/after/${name}`, sides.after);
    const what = change.kind === 'add' ? 'added' : change.kind === 'delete' ? 'deleted' : 'changed';
    const note = sides.how === 'hunks' ? ', changed hunks only' : '';
    await vscode.commands.executeCommand('vscode.diff', before, after, `${name} (${what} by agentls${note})`, {
      preview: true,
    });
  }
}
