/**
 * Wires the plain modules to VS Code: the chat view, the server, commands, status bar,
 * settings. The logic lives in controller.ts / state.ts / approvals.ts / serverCommand.ts.
 */

import * as vscode from 'vscode';
import { ChatViewProvider } from './chatView';
import { ChatController } from './controller';
import { DIFF_SCHEME, DiffContentProvider } from './diffProvider';
import { attachmentFor, type EditorSnapshot } from './editorContext';
import type { PanelCommand } from './messages';
import { ServerManager } from './server';
import { sessionItems } from './sessions';
import { SafeOutputChannel } from './safeOutput';
import { RESTART_SETTINGS } from './settings';
import { statusBarView } from './statusBar';

let active: { controller: ChatController; server: ServerManager } | undefined;

interface SessionPickItem extends vscode.QuickPickItem {
  sessionId: string;
}

export function activate(context: vscode.ExtensionContext): { controller: ChatController; server: ServerManager } {
  // writes after the window started closing are dropped (no "Channel has been closed")
  const log = new SafeOutputChannel(vscode.window.createOutputChannel('agentls'));
  context.subscriptions.push(log);

  const runPanelCommand = (command: PanelCommand): void => {
    const ids: Record<PanelCommand, string> = {
      newSession: 'agentls.newSession',
      resumeSession: 'agentls.resumeSession',
      openSettings: 'agentls.openSettings',
      showLog: 'agentls.showLog',
      restartServer: 'agentls.restartServer',
    };
    void vscode.commands.executeCommand(ids[command]);
  };

  const diffs = new DiffContentProvider();
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(DIFF_SCHEME, diffs));
  const root = (): string | undefined => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;

  // the provider is created right below; approvals only arrive once the server runs
  let provider: ChatViewProvider | undefined;
  const controller = new ChatController({
    log: (line) => log.appendLine(line),
    onCommand: runPanelCommand,
    onApprovalOpened: (approval) => {
      if (provider?.visible) return;
      // the panel is hidden (another view, or the window is elsewhere): say so where it shows
      const what = approval.kind === 'patch' ? 'A change to files' : `"${approval.command.slice(0, 120)}"`;
      void vscode.window
        .showInformationMessage(`agentls: ${what} waits for your approval.`, 'Show')
        .then((choice) => {
          if (choice === 'Show') void provider?.reveal(false);
        });
    },
    onCopy: (text) => {
      void vscode.env.clipboard.writeText(text).then(() => vscode.window.setStatusBarMessage('agentls: copied', 2000));
    },
    onInsert: (text) => void insertAtCursor(text),
    onOpenDiff: (change) => {
      diffs.open(change, root()).catch((error: unknown) => {
        void vscode.window.showErrorMessage(`agentls: could not open the diff: ${String(error)}`);
      });
    },
    onAddFile: async () => {
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
      const picked = await vscode.window.showOpenDialog({
        canSelectMany: true,
        canSelectFiles: true,
        canSelectFolders: false,
        openLabel: 'Attach',
        title: 'agentls: attach files to the next message',
        ...(folder ? { defaultUri: folder } : {}),
      });
      return (picked ?? []).map((uri) => ({
        id: `file:${uri.toString()}`,
        uri: uri.toString(),
        label: uri.path.split('/').pop() ?? uri.toString(),
        auto: false,
      }));
    },
  });
  provider = new ChatViewProvider(context.extensionUri, controller);
  context.subscriptions.push(
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewType, provider, {
      webviewOptions: { retainContextWhenHidden: true },
    }),
  );

  // the active editor's chip (its selection, else its file)
  const snapshot = (editor: vscode.TextEditor | undefined): EditorSnapshot | undefined => {
    if (!editor || !['file', 'untitled', 'vscode-remote'].includes(editor.document.uri.scheme)) return undefined;
    const uri = editor.document.uri;
    const result: EditorSnapshot = { uri: uri.toString(), name: uri.path.split('/').pop() ?? uri.toString() };
    const selection = editor.selection;
    if (selection && !selection.isEmpty) {
      result.selection = {
        range: {
          start: { line: selection.start.line, character: selection.start.character },
          end: { line: selection.end.line, character: selection.end.character },
        },
        text: editor.document.getText(selection),
      };
    }
    return result;
  };
  const followEditor = (): void => controller.setEditorAttachment(attachmentFor(snapshot(vscode.window.activeTextEditor)));
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(followEditor),
    vscode.window.onDidChangeTextEditorSelection((event) => {
      if (event.textEditor === vscode.window.activeTextEditor) followEditor();
    }),
  );
  followEditor();

  const server = new ServerManager({
    controller,
    log,
    onFailure: (message, fix) => {
      void vscode.window
        .showErrorMessage(`agentls: ${message} ${fix}`, 'Open Settings', 'Show Log', 'Retry')
        .then((choice) => {
          if (choice === 'Open Settings') void vscode.commands.executeCommand('agentls.openSettings');
          else if (choice === 'Show Log') log.show(true);
          else if (choice === 'Retry') void vscode.commands.executeCommand('agentls.restartServer');
        });
    },
  });
  context.subscriptions.push(server);

  // status bar and the context key of the Interrupt keybinding
  const item = vscode.window.createStatusBarItem('agentls.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'agentls';
  context.subscriptions.push(item);
  let lastRunning: boolean | undefined;
  let restartWhenIdle = false;
  const showState = (): void => {
    const state = controller.state;
    const view = statusBarView(state);
    item.text = view.text;
    item.tooltip = view.tooltip;
    item.command = view.command;
    item.backgroundColor =
      view.tone === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.tone === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
    item.show();
    if (state.running !== lastRunning) {
      lastRunning = state.running;
      void vscode.commands.executeCommand('setContext', 'agentls.turnRunning', state.running);
    }
    if (restartWhenIdle && !state.running) {
      restartWhenIdle = false;
      void server.restart();
    }
  };
  context.subscriptions.push(controller.onDidChange(showState));
  showState();

  const pickSession = async (): Promise<void> => {
    const pick = vscode.window.createQuickPick<SessionPickItem>();
    pick.title = 'agentls: Resume Session';
    pick.placeholder = 'Pick a session of this workspace to continue';
    pick.matchOnDescription = true;
    pick.matchOnDetail = true;
    const load = async (): Promise<void> => {
      pick.busy = true;
      try {
        const sessions = await controller.listSessions();
        pick.items = sessionItems(sessions, new Date(), controller.state.sessionId);
        if (sessions.length === 0) pick.placeholder = 'No sessions in this workspace yet';
      } catch (error) {
        pick.placeholder = `Could not list the sessions: ${String(error)}`;
      } finally {
        pick.busy = false;
      }
    };
    // another window or process changed the sessions: refresh the open list
    const changed = controller.onSessionsChanged(() => void load());
    pick.onDidAccept(() => {
      const chosen = pick.selectedItems[0];
      pick.hide();
      if (chosen) {
        void provider?.reveal(false);
        void controller.resume(chosen.sessionId);
      }
    });
    pick.onDidHide(() => {
      changed.dispose();
      pick.dispose();
    });
    pick.show();
    await load();
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('agentls.openChat', () => provider?.reveal(false)),
    vscode.commands.registerCommand('agentls.newSession', async () => {
      await provider?.reveal(false);
      await controller.newSession();
    }),
    vscode.commands.registerCommand('agentls.resumeSession', pickSession),
    vscode.commands.registerCommand('agentls.interrupt', async () => {
      const result = await controller.interrupt();
      if (result && !result.interrupted) void vscode.window.setStatusBarMessage('agentls: nothing to interrupt', 3000);
    }),
    vscode.commands.registerCommand('agentls.restartServer', () => server.restart()),
    vscode.commands.registerCommand('agentls.compact', async () => {
      if (!controller.supports('agent/compact')) {
        void vscode.window.showInformationMessage('agentls: this server does not compact on request (no agent/compact).');
        return;
      }
      await provider?.reveal(true);
      await controller.compact();
    }),
    vscode.commands.registerCommand('agentls.showLog', () => log.show(true)),
    vscode.commands.registerCommand('agentls.openSettings', () =>
      vscode.commands.executeCommand('workbench.action.openSettings', '@ext:agentls.agentls'),
    ),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!RESTART_SETTINGS.some((key) => event.affectsConfiguration(`agentls.${key}`))) return;
      log.appendLine('settings changed: the server is restarted to apply them');
      if (controller.running) {
        restartWhenIdle = true;
        return;
      }
      void server.restart();
    }),
    { dispose: () => controller.dispose() },
  );

  active = { controller, server };
  void server.start();
  return active;
}

/** "Insert" on a code block: at the cursor (or over the selection) of the last text editor. */
async function insertAtCursor(text: string): Promise<void> {
  const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
  if (!editor) {
    void vscode.window.showInformationMessage('agentls: open a file to insert the code into.');
    return;
  }
  const done = await editor.edit((edit) => {
    for (const selection of editor.selections) edit.replace(selection, text);
  });
  if (!done) void vscode.window.showWarningMessage('agentls: the editor did not accept the insertion.');
}

export async function deactivate(): Promise<void> {
  const current = active;
  active = undefined;
  // shutdown: the server ends a running turn and writes it before exiting
  await current?.server.stop();
}
