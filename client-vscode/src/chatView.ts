/** The chat panel: a webview view whose page talks to the ChatController by postMessage. */

import * as vscode from 'vscode';
import type { ChatController } from './controller';
import { makeNonce, webviewHtml } from './webviewHtml';

export class ChatViewProvider implements vscode.WebviewViewProvider {
  static readonly viewType = 'agentls.chat';
  private view: vscode.WebviewView | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly controller: ChatController,
  ) {}

  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const webview = view.webview;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    webview.options = { enableScripts: true, localResourceRoots: [dist] };
    webview.html = webviewHtml({
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.css')).toString(),
      cspSource: webview.cspSource,
      nonce: makeNonce(),
    });
    const received = webview.onDidReceiveMessage((message: unknown) =>
      this.controller.handleWebviewMessage(message),
    );
    this.controller.setPost((message) => void webview.postMessage(message));
    view.onDidDispose(() => {
      received.dispose();
      if (this.view === view) {
        this.view = undefined;
        this.controller.setPost(undefined);
      }
    });
  }

  /** Shows the panel (creating it if VS Code has not yet). */
  async reveal(preserveFocus = true): Promise<void> {
    if (this.view) {
      this.view.show(preserveFocus);
      return;
    }
    await vscode.commands.executeCommand(`${ChatViewProvider.viewType}.focus`);
  }
}
