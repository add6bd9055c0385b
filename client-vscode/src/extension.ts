/**
 * Wires the plain modules to VS Code: the chat view, the server, commands, status bar,
 * settings. The logic lives in controller.ts / state.ts / approvals.ts / serverCommand.ts.
 */

import * as vscode from 'vscode';
import { ChatViewProvider } from './chatView';
import { ChatController } from './controller';
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

  // the provider is created right below; approvals only arrive once the server runs
  let provider: ChatViewProvider | undefined;
  const controller = new ChatController({
    log: (line) => log.appendLine(line),
    onCommand: runPanelCommand,
    onApprovalOpened: () => {
      if (!provider?.visible) void provider?.reveal(true);
    },
  });
  provider = new ChatViewProvider(context.extensionUri, controller);
  context.subscriptions.push(
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewType, provider, {
      webviewOptions: { retainContextWhenHidden: true },
    }),
  );

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

export async function deactivate(): Promise<void> {
  const current = active;
  active = undefined;
  // shutdown: the server ends a running turn and writes it before exiting
  await current?.server.stop();
}
