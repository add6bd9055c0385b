/**
 * ChatController: the chat panel's logic, between the protocol connection and the view.
 *
 * It owns the state (see state.ts), turns panel messages into requests, server notifications
 * and requests into actions, and keeps the approval queue. It imports neither `vscode` nor the
 * DOM: the extension gives it a connection (the LanguageClient) and a `post` function (the
 * webview), the tests give it a vscode-jsonrpc connection or a fake.
 *
 * Stop cancels the open `agent/send` through its CancellationToken, so the JSON-RPC layer sends
 * `$/cancelRequest`; the request then answers normally with status "interrupted".
 */

import { CancellationTokenSource, ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import { ApprovalQueue, ApprovalWithdrawnError, type CancellationLike } from './approvals';
import type { FromWebview, PanelCommand, ToWebview } from './messages';
import { parseFromWebview } from './messages';
import {
  ErrorCodes,
  Methods,
  isAgentEvent,
  type ApprovalParams,
  type ApprovalResult,
  type InterruptResult,
  type ListSessionsResult,
  type NewSessionResult,
  type ResumeResult,
  type SendResult,
  type SessionSummary,
} from './protocol';
import { initialState, reduce, type Action, type ChatState, type PendingApproval, type ServerState } from './state';

/** What the controller needs of a connection (LanguageClient and MessageConnection fit). */
export interface AgentConnection {
  sendRequest<R>(method: string, params: unknown, token?: CancellationToken): Promise<R>;
}

export interface ControllerOptions {
  /** Where webview messages go; may be replaced when the view is created or disposed. */
  post?: (message: ToWebview) => void;
  log?: (line: string) => void;
  /** Panel buttons that are VS Code commands (settings, log, quick pick...). */
  onCommand?: (command: PanelCommand) => void;
  /** A question for the person arrived: make the panel visible. */
  onApprovalOpened?: (approval: PendingApproval) => void;
}

export type ChangeListener = (state: ChatState, action: Action) => void;

interface RpcErrorLike {
  code?: unknown;
  message?: unknown;
}

/** A request's failure in words for the panel. */
export function describeError(error: unknown): string {
  const e = (typeof error === 'object' && error !== null ? error : {}) as RpcErrorLike;
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (typeof e.code === 'number' && e.code >= -32099 && e.code <= -32096) {
    return `The connection to the agentls server was lost (${message}). What was written to disk comes back when the server is running again.`;
  }
  switch (e.code) {
    case ErrorCodes.turnInProgress:
      return `A turn is already running in this session: ${message}`;
    case ErrorCodes.sessionLocked:
      return `This session is open in another agentls server (another window?): ${message}. Start a new session or close the other window.`;
    case ErrorCodes.sessionNotFound:
      return `The session was not found: ${message}. Start a new session.`;
    default:
      return message;
  }
}

export function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as RpcErrorLike).code : undefined;
}

export class ChatController {
  private current: ChatState = initialState();
  private connection: AgentConnection | undefined;
  private sendSource: CancellationTokenSource | undefined;
  private readonly listeners = new Set<ChangeListener>();
  private readonly sessionsListeners = new Set<() => void>();
  readonly approvals: ApprovalQueue;

  constructor(private readonly options: ControllerOptions = {}) {
    this.approvals = new ApprovalQueue({
      opened: (approval) => {
        this.dispatch({ type: 'approvalRequested', approval });
        this.options.onApprovalOpened?.(approval);
      },
      closed: (id) => this.dispatch({ type: 'approvalClosed', id }),
    });
  }

  get state(): ChatState {
    return this.current;
  }

  get running(): boolean {
    return this.current.running;
  }

  /** The view's `postMessage`; the view asks for the state with a 'ready' message. */
  setPost(post: ((message: ToWebview) => void) | undefined): void {
    this.options.post = post;
  }

  setConnection(connection: AgentConnection | undefined): void {
    this.connection = connection;
  }

  onDidChange(listener: ChangeListener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  onSessionsChanged(listener: () => void): { dispose(): void } {
    this.sessionsListeners.add(listener);
    return { dispose: () => this.sessionsListeners.delete(listener) };
  }

  dispatch(action: Action): void {
    const next = reduce(this.current, action);
    if (next === this.current) return;
    this.current = next;
    this.options.post?.({ type: 'action', action });
    for (const listener of this.listeners) listener(next, action);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private notice(level: 'info' | 'warning' | 'error', text: string): void {
    this.dispatch({ type: 'notice', level, text });
  }

  private requireConnection(): AgentConnection | undefined {
    if (!this.connection) {
      this.notice('error', 'The agentls server is not running. Use "agentls: Restart Server" or check the "agentls" output.');
    }
    return this.connection;
  }

  // -- the panel --------------------------------------------------------------------------

  handleWebviewMessage(raw: unknown): void {
    const message: FromWebview | undefined = parseFromWebview(raw);
    if (!message) {
      this.log(`ignored a malformed message from the panel: ${JSON.stringify(raw)}`);
      return;
    }
    switch (message.type) {
      case 'ready':
        this.options.post?.({ type: 'reset', state: this.current });
        break;
      case 'send':
        void this.send(message.text);
        break;
      case 'stop':
        this.stop();
        break;
      case 'approve':
        this.approvals.answer(message.id, message.decision);
        break;
      case 'command':
        this.options.onCommand?.(message.command);
        break;
    }
  }

  /** Sends a message; resolves when the turn's request answers (or fails). */
  async send(text: string): Promise<SendResult | undefined> {
    const trimmed = text.trim();
    if (trimmed === '') return undefined;
    if (this.current.running) {
      this.notice('warning', 'A turn is running: stop it before sending another message.');
      return undefined;
    }
    const connection = this.requireConnection();
    if (!connection) return undefined;
    this.dispatch({ type: 'userSent', text });
    const source = new CancellationTokenSource();
    this.sendSource = source;
    const params: { text: string; sessionId?: string } = { text };
    if (this.current.sessionId) params.sessionId = this.current.sessionId;
    try {
      const result = await connection.sendRequest<SendResult>(Methods.send, params, source.token);
      this.dispatch({ type: 'sendResult', result });
      return result;
    } catch (error) {
      this.log(`agent/send failed: ${describeError(error)}`);
      this.dispatch({ type: 'sendFailed', message: describeError(error) });
      return undefined;
    } finally {
      if (this.sendSource === source) this.sendSource = undefined;
      source.dispose();
    }
  }

  /** Stop: cancel the open `agent/send` (the client sends `$/cancelRequest`). */
  stop(): boolean {
    const source = this.sendSource;
    if (!source || !this.current.running) return false;
    this.dispatch({ type: 'stopRequested' });
    source.cancel();
    return true;
  }

  /** "agentls: Interrupt": `agent/interrupt`, answered once the turn has ended. */
  async interrupt(): Promise<InterruptResult | undefined> {
    const connection = this.requireConnection();
    if (!connection) return undefined;
    if (this.current.running) this.dispatch({ type: 'stopRequested' });
    const params = this.current.sessionId ? { sessionId: this.current.sessionId } : {};
    try {
      return await connection.sendRequest<InterruptResult>(Methods.interrupt, params);
    } catch (error) {
      this.notice('error', `Interrupt failed: ${describeError(error)}`);
      return undefined;
    }
  }

  private busy(what: string): boolean {
    if (!this.current.running) return false;
    this.notice('warning', `A turn is running: stop it before ${what}.`);
    return true;
  }

  async newSession(): Promise<string | undefined> {
    if (this.busy('starting a new session')) return undefined;
    const connection = this.requireConnection();
    if (!connection) return undefined;
    try {
      const result = await connection.sendRequest<NewSessionResult>(Methods.newSession, {});
      this.dispatch({ type: 'sessionStarted', sessionId: result.sessionId });
      return result.sessionId;
    } catch (error) {
      this.notice('error', `New session failed: ${describeError(error)}`);
      return undefined;
    }
  }

  /**
   * `agent/resume` and redraw from its history.
   *
   * `quiet` (what activation and restarts use): a workspace without sessions is not an error.
   * `waitForLockMs`: a session still held by a server that is shutting down (the window was
   * just reloaded) is asked for again until it is free or the time is up.
   */
  async resume(
    sessionId?: string,
    options: { quiet?: boolean; waitForLockMs?: number } = {},
  ): Promise<ResumeResult | undefined> {
    const { quiet = false, waitForLockMs = 0 } = options;
    if (this.busy('switching sessions')) return undefined;
    const connection = quiet ? this.connection : this.requireConnection();
    if (!connection) return undefined;
    const params = sessionId ? { sessionId } : {};
    const deadline = Date.now() + waitForLockMs;
    let delay = 100;
    for (;;) {
      try {
        const result = await connection.sendRequest<ResumeResult>(Methods.resume, params);
        if (this.current.running) return undefined; // a send started meanwhile: keep it
        this.dispatch({ type: 'historyLoaded', result });
        return result;
      } catch (error) {
        const code = errorCode(error);
        if (code === ErrorCodes.sessionLocked && Date.now() + delay <= deadline) {
          this.log(`the session is still locked by another server; asking again in ${delay} ms`);
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, 1000);
          continue;
        }
        if (quiet && code === ErrorCodes.sessionNotFound) {
          this.log('no session to resume in this workspace');
          return undefined;
        }
        if (quiet && code === ErrorCodes.sessionLocked) {
          this.notice(
            'info',
            'The last session of this folder is open in another window; your next message starts a new session here (or pick one with "agentls: Resume Session…").',
          );
          return undefined;
        }
        this.notice('error', `Could not resume the session: ${describeError(error)}`);
        return undefined;
      }
    }
  }

  /** Every session of the workspace, newest activity first (follows `nextCursor`). */
  async listSessions(max = 500): Promise<SessionSummary[]> {
    const connection = this.requireConnection();
    if (!connection) return [];
    const sessions: SessionSummary[] = [];
    let cursor: string | undefined;
    do {
      const params: { limit: number; cursor?: string } = { limit: Math.min(100, max - sessions.length) };
      if (cursor) params.cursor = cursor;
      const page = await connection.sendRequest<ListSessionsResult>(Methods.listSessions, params);
      sessions.push(...page.sessions);
      cursor = page.nextCursor;
    } while (cursor && sessions.length < max);
    return sessions;
  }

  // -- the server -------------------------------------------------------------------------

  handleEvent(params: unknown): void {
    if (!isAgentEvent(params)) {
      this.log(`ignored a malformed agent/event: ${JSON.stringify(params)}`);
      return;
    }
    this.dispatch({ type: 'event', event: params });
  }

  handleSessionsChanged(): void {
    for (const listener of this.sessionsListeners) listener();
  }

  /**
   * `agent/requestApproval`: shown in the panel until answered; when the server cancels the
   * request (the token fires) the question is withdrawn and the request answers with
   * RequestCancelled.
   */
  async handleApprovalRequest(params: unknown, token?: CancellationLike): Promise<ApprovalResult> {
    if (typeof params !== 'object' || params === null) {
      return { decision: 'deny' };
    }
    try {
      return await this.approvals.ask(params as ApprovalParams, token);
    } catch (error) {
      if (error instanceof ApprovalWithdrawnError) {
        throw new ResponseError(ErrorCodes.requestCancelled, error.message);
      }
      throw error;
    }
  }

  setServer(server: ServerState): void {
    this.dispatch({ type: 'server', server });
  }

  /** The connection is gone (crash, restart, stop): open questions cannot be answered. */
  connectionLost(reason: string): void {
    this.approvals.withdrawAll(reason);
  }

  dispose(): void {
    this.sendSource?.cancel();
    this.approvals.withdrawAll('the extension is shutting down');
    this.listeners.clear();
    this.sessionsListeners.clear();
  }
}
