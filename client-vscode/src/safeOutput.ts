/**
 * An output channel that outlives its disposal quietly.
 *
 * On a window reload VS Code disposes the extension's subscriptions, the output channel among
 * them, while the server process is still exiting; its exit handler (and the language client's
 * own last words) then wrote to a closed channel, and every reload logged
 * "Error: Channel has been closed". Writes after disposal are dropped instead.
 */

import type * as vscode from 'vscode';

export class SafeOutputChannel implements vscode.OutputChannel {
  private closed = false;

  constructor(private readonly inner: vscode.OutputChannel) {}

  get name(): string {
    return this.inner.name;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private guard(write: () => void): void {
    if (this.closed) return;
    try {
      write();
    } catch {
      // the channel went away under us (the window is closing): nothing to tell anyone
      this.closed = true;
    }
  }

  append(value: string): void {
    this.guard(() => this.inner.append(value));
  }

  appendLine(value: string): void {
    this.guard(() => this.inner.appendLine(value));
  }

  replace(value: string): void {
    this.guard(() => this.inner.replace(value));
  }

  clear(): void {
    this.guard(() => this.inner.clear());
  }

  show(preserveFocus?: boolean): void;
  show(column?: vscode.ViewColumn, preserveFocus?: boolean): void;
  show(columnOrPreserve?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    this.guard(() => {
      if (typeof columnOrPreserve === 'boolean' || columnOrPreserve === undefined) {
        this.inner.show(columnOrPreserve);
      } else {
        this.inner.show(columnOrPreserve, preserveFocus);
      }
    });
  }

  hide(): void {
    this.guard(() => this.inner.hide());
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.inner.dispose();
    } catch {
      // already gone
    }
  }
}
