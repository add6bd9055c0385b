/**
 * The `agentls serve` process behind a vscode-languageclient: start with a clear message when
 * it cannot, restart on crash (a few times), and hand the connection to the ChatController.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import type { ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  type LanguageClientOptions,
} from 'vscode-languageclient/node';
import type { AgentConnection, ChatController } from './controller';
import { Methods, parseMcpServers, type AgentCapability, type McpServerStatus, type ModelInfo } from './protocol';
import {
  explainStartFailure,
  formatCommand,
  remoteHint,
  resolveServerCommand,
  type ServerCommand,
} from './serverCommand';
import { clientSettings, configurationAnswer, initializationOptions } from './settings';
import { ServerSpawnError, TextTail, spawnServer } from './spawnServer';

const CRASH_WINDOW_MS = 3 * 60 * 1000;
const MAX_CRASHES = 4;
/** After a window reload the previous server may still hold the session for a moment. */
const RELOAD_LOCK_WAIT_MS = 5000;
/**
 * The server applies the settings it pulls with `workspace/configuration` by rebuilding its
 * model client, which fails a turn already streaming through the old one. So the first send
 * waits until our answer went out and the server had a moment to apply it (or, when the
 * server does not ask, a few seconds).
 */
const CONFIGURATION_GRACE_MS = 250;
const CONFIGURATION_WAIT_MS = 3000;

/** Failures are explained by our own messages (with a fix); the library's would repeat them. */
class AgentLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | 'force'): void {
    super.error(message, data, false);
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function modelFromInitializeResult(result: unknown): ModelInfo | null {
  const agent = (result as { capabilities?: { experimental?: { agent?: AgentCapability } } })
    ?.capabilities?.experimental?.agent;
  return agent?.model ?? null;
}

/** The MCP servers `initialize` listed (all "starting"); undefined when it said nothing of MCP. */
export function mcpFromInitializeResult(result: unknown): McpServerStatus[] | undefined {
  const agent = (result as { capabilities?: { experimental?: { agent?: { mcp?: unknown } } } })
    ?.capabilities?.experimental?.agent;
  return parseMcpServers({ servers: agent?.mcp });
}

/** The agent methods the server announced (v2 features are offered only when listed). */
export function methodsFromInitializeResult(result: unknown): string[] {
  const agent = (result as { capabilities?: { experimental?: { agent?: { methods?: unknown } } } })
    ?.capabilities?.experimental?.agent;
  return Array.isArray(agent?.methods) ? agent.methods.filter((m): m is string => typeof m === 'string') : [];
}

export interface ServerManagerOptions {
  controller: ChatController;
  log: vscode.OutputChannel;
  /** Called when a start or restart failed for good: show the message with its fix. */
  onFailure: (message: string, fix: string) => void;
}

export class ServerManager implements vscode.Disposable {
  private client: AgentLanguageClient | undefined;
  private child: ChildProcess | undefined;
  private command: ServerCommand | undefined;
  private readonly stderr = new TextTail();
  private reachedRunning = false;
  private restarting = false;
  private stopping = false;
  private firstRun = true;
  private crashes: number[] = [];
  private configured: Promise<void> = Promise.resolve();
  private markConfigured: (delayMs?: number) => void = () => undefined;

  constructor(private readonly options: ServerManagerOptions) {}

  /** A new connection: sends wait until its settings are applied (see CONFIGURATION_GRACE_MS). */
  private expectConfiguration(): void {
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.configured = new Promise<void>((resolve) => {
      this.markConfigured = (delayMs = 0) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        setTimeout(resolve, delayMs);
      };
    });
    timer = setTimeout(() => this.markConfigured(), CONFIGURATION_WAIT_MS);
  }

  private get controller(): ChatController {
    return this.options.controller;
  }

  /** The server process id (for the log and tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isRunning(): boolean {
    return this.client?.state === State.Running;
  }

  private folder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
  }

  private fail(message: string, rawFix: string): void {
    const fix = /agentls\.server\./.test(rawFix) ? rawFix + remoteHint(vscode.env.remoteName) : rawFix;
    this.options.log.appendLine(`[error] ${message} ${fix}`);
    this.controller.setConnection(undefined);
    this.controller.connectionLost('the agentls server is not running');
    this.controller.setServer({ status: 'failed', message: `${message} ${fix}` });
    this.options.onFailure(message, fix);
  }

  async start(): Promise<boolean> {
    if (this.client) return true;
    const folder = this.folder();
    const config = vscode.workspace.getConfiguration('agentls');
    const settings = clientSettings(config);
    const resolution = resolveServerCommand(
      {
        command: settings.serverCommand,
        pythonPath: settings.pythonPath,
        ...(folder ? { workspaceFolder: folder.uri.fsPath } : {}),
        workspaceTrusted: vscode.workspace.isTrusted,
        env: process.env,
        platform: process.platform,
        home: os.homedir(),
      },
      { isExecutable },
    );
    if (!resolution.ok) {
      this.fail(resolution.message, resolution.fix);
      return false;
    }
    const command = resolution;
    this.command = command;
    this.options.log.appendLine(`starting ${formatCommand(command)} (from ${command.source})`);
    this.controller.setServer({ status: 'starting' });
    this.reachedRunning = false;
    this.restarting = false;

    const client = new AgentLanguageClient(
      'agentls',
      'agentls',
      () => this.spawn(command, folder),
      this.clientOptions(folder),
    );
    client.onNotification(Methods.event, (params: unknown) => this.controller.handleEvent(params));
    client.onNotification(Methods.sessionsChanged, () => this.controller.handleSessionsChanged());
    client.onNotification(Methods.mcpStatus, (params: unknown) => this.controller.handleMcpStatus(params));
    client.onRequest(Methods.requestApproval, (params: unknown, token) =>
      this.controller.handleApprovalRequest(params, token),
    );
    client.onDidChangeState((event) => this.stateChanged(client, event.newState));
    this.client = client;
    try {
      await client.start();
      return true;
    } catch (error) {
      if (this.client === client) this.client = undefined;
      const { message, fix } =
        error instanceof ServerSpawnError
          ? { message: error.message, fix: error.fix }
          : explainStartFailure(command, this.stderr.toString());
      this.fail(message, fix);
      try {
        await client.dispose(1000);
      } catch {
        // it never ran
      }
      return false;
    }
  }

  private spawn(command: ServerCommand, folder: vscode.WorkspaceFolder | undefined): Promise<ChildProcess> {
    this.stderr.clear();
    return spawnServer(command, {
      cwd: folder?.uri.fsPath ?? os.homedir(),
      // the API key reaches the server only through the environment it inherits
      env: process.env,
      onStderr: (text) => this.stderr.push(text),
      onExit: (code, signal) => {
        this.options.log.appendLine(`server process exited (code ${code}, signal ${signal})`);
      },
    }).then((child) => {
      this.child = child;
      return child;
    });
  }

  private clientOptions(folder: vscode.WorkspaceFolder | undefined): LanguageClientOptions {
    const options: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.options.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => initializationOptions(vscode.workspace.getConfiguration('agentls')),
      initializationFailedHandler: () => false,
      errorHandler: {
        error: (_error, _message, count) => ({
          action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
          handled: true,
        }),
        closed: () => this.closed(),
      },
      middleware: {
        workspace: {
          configuration: (params) => {
            const answer = params.items.map((item) =>
              configurationAnswer(item.section, vscode.workspace.getConfiguration('agentls')),
            );
            // the answer is written before any send that waits on this
            this.markConfigured(CONFIGURATION_GRACE_MS);
            return answer;
          },
        },
      },
    };
    if (folder) options.workspaceFolder = folder;
    return options;
  }

  /** The connection closed: restart after a crash, a few times in a while. */
  private closed(): { action: CloseAction; handled: boolean } {
    const dontRestart = { action: CloseAction.DoNotRestart, handled: true };
    if (this.stopping) return dontRestart;
    if (!this.reachedRunning) {
      if (this.restarting) {
        const { message, fix } = explainStartFailure(this.command, this.stderr.toString());
        this.client = undefined;
        this.fail(message, fix);
      }
      return dontRestart;
    }
    const now = Date.now();
    this.crashes = this.crashes.filter((time) => now - time < CRASH_WINDOW_MS);
    this.crashes.push(now);
    const tail = this.stderr.toString().trim().split('\n').slice(-1)[0] ?? '';
    if (this.crashes.length > MAX_CRASHES) {
      this.client = undefined;
      this.fail(
        `The agentls server stopped ${this.crashes.length} times in 3 minutes and will not be restarted${tail ? ` (last words: ${tail})` : ''}.`,
        'See the "agentls" output, then run "agentls: Restart Server".',
      );
      return dontRestart;
    }
    this.options.log.appendLine('[warn] the server stopped unexpectedly; restarting it');
    this.restarting = true;
    this.controller.setServer({
      status: 'restarting',
      message: 'The agentls server stopped unexpectedly; restarting it…',
    });
    return { action: CloseAction.Restart, handled: true };
  }

  private stateChanged(client: AgentLanguageClient, state: State): void {
    if (client !== this.client) return;
    if (state === State.Starting) {
      this.reachedRunning = false;
      this.expectConfiguration();
      if (!this.restarting) this.controller.setServer({ status: 'starting' });
      return;
    }
    if (state === State.Stopped) {
      this.controller.setConnection(undefined);
      this.controller.connectionLost('the agentls server stopped');
      return;
    }
    // running
    this.reachedRunning = true;
    const connection: AgentConnection = {
      sendRequest: async <R>(
        method: string,
        params: unknown,
        token?: Parameters<AgentConnection['sendRequest']>[2],
      ): Promise<R> => {
        if (method === Methods.send) await this.configured;
        // an `undefined` token would go out as a second parameter: pass it only when given
        return token ? client.sendRequest<R>(method, params, token) : client.sendRequest<R>(method, params);
      },
    };
    this.controller.setConnection(connection);
    this.controller.setServer({
      status: 'running',
      model: modelFromInitializeResult(client.initializeResult),
      methods: methodsFromInitializeResult(client.initializeResult),
    });
    // a restarted server's list replaces the old one (none listed: the section hides)
    this.controller.setMcpServers(mcpFromInitializeResult(client.initializeResult) ?? []);
    void this.controller.refreshMcpServers();
    const wasRestart = !this.firstRun;
    this.firstRun = false;
    this.restarting = false;
    void this.redraw(wasRestart);
  }

  /** First start: the workspace's last session. A restart: the session that was shown. */
  private async redraw(wasRestart: boolean): Promise<void> {
    const settings = clientSettings(vscode.workspace.getConfiguration('agentls'));
    if (!wasRestart) {
      if (settings.resumeOnStart && this.folder()) await this.controller.resume(undefined, { quiet: true, waitForLockMs: RELOAD_LOCK_WAIT_MS });
      return;
    }
    const sessionId = this.controller.state.sessionId;
    if (!sessionId) return;
    const result = await this.controller.resume(sessionId, { quiet: true, waitForLockMs: RELOAD_LOCK_WAIT_MS });
    if (result) {
      this.controller.dispatch({
        type: 'notice',
        level: 'info',
        text: 'The agentls server was restarted; the conversation was reloaded from disk.',
      });
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    const child = this.child;
    this.client = undefined;
    this.child = undefined;
    if (!client) return;
    this.stopping = true;
    try {
      // `shutdown` lets the server end a running turn and flush it before it exits
      await client.dispose(3000);
    } catch (error) {
      this.options.log.appendLine(`[warn] stopping the server: ${String(error)}`);
    } finally {
      this.stopping = false;
      this.controller.setConnection(undefined);
      this.controller.connectionLost('the agentls server was stopped');
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      // normally it has exited after `exit`; if not, SIGTERM ends it like Ctrl-C does
      // (running turns are stopped and written)
      const exited = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 1000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!(await exited)) child.kill('SIGTERM');
    }
  }

  async restart(): Promise<boolean> {
    await this.stop();
    this.crashes = [];
    return this.start();
  }

  dispose(): void {
    void this.stop();
  }
}
