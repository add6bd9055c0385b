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
  parseMcpServers,
  type ApprovalParams,
  type ApprovalResult,
  type ContextItem,
  type FileChange,
  type HistoryPage,
  type InterruptResult,
  type ListSessionsResult,
  type McpServerStatus,
  type NewSessionResult,
  type ResumeResult,
  type SendResult,
  type SessionSummary,
  type SteerResult,
  type UndoResult,
} from './protocol';
import { fileDiffFromTurnDiff } from './diffDocs';
import {
  initialState,
  reduce,
  type Action,
  type Attachment,
  type ChatState,
  type PendingApproval,
  type ServerState,
} from './state';

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
  /** Code block buttons. */
  onCopy?: (text: string) => void;
  onInsert?: (text: string) => void;
  /** "Open diff" on a file change: VS Code's diff editor. */
  onOpenDiff?: (change: FileChange) => void;
  /** "Add file…": the person picks files; resolves with chips to add. */
  onAddFile?: () => Promise<Attachment[]>;
}

/** History entries asked for at a time (resume, "Load earlier"). */
export const HISTORY_PAGE = 200;

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
  /** The file whose editor chip the person removed. */
  private dismissedUri: string | undefined;
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
      case 'copy':
        this.options.onCopy?.(message.text);
        break;
      case 'insert':
        this.options.onInsert?.(message.text);
        break;
      case 'retry':
        void this.retry(message.turnId);
        break;
      case 'undo':
        void this.undo(message.turnId);
        break;
      case 'fork':
        void this.fork(message.turnId);
        break;
      case 'openDiff':
        this.openDiff(message.callId, message.index);
        break;
      case 'openTurnDiff':
        this.openTurnDiff(message.turnId, message.path);
        break;
      case 'loadEarlier':
        void this.loadEarlier();
        break;
      case 'steerMode':
        this.dispatch({ type: 'steerMode', mode: message.mode });
        break;
      case 'addFile':
        void this.addFiles();
        break;
      case 'removeAttachment':
        this.removeAttachment(message.id);
        break;
      case 'sessions':
        void this.showSessions(message.open, message.query);
        break;
      case 'openSession':
        void this.resume(message.sessionId).then((result) => {
          if (result) this.dispatch({ type: 'sessionList', patch: { open: false } });
        });
        break;
      case 'renameSession':
        void this.renameSession(message.sessionId, message.title);
        break;
      case 'deleteSession':
        void this.deleteSession(message.sessionId);
        break;
    }
  }

  /** Whether the server announced a method (v2 features need it). */
  supports(method: string): boolean {
    return this.current.server.methods?.includes(method) ?? false;
  }

  private contextItems(): ContextItem[] {
    return this.current.attachments.map((attachment) => {
      const item: ContextItem = { uri: attachment.uri };
      if (attachment.range) item.range = attachment.range;
      if (attachment.text !== undefined) item.text = attachment.text;
      return item;
    });
  }

  // -- attachments ------------------------------------------------------------------------

  /**
   * The active editor's chip (undefined: no editor). A chip the person removed stays away
   * until another file becomes the active editor.
   */
  setEditorAttachment(attachment: Attachment | undefined): void {
    if (attachment?.uri !== this.dismissedUri) this.dismissedUri = undefined;
    const manual = this.current.attachments.filter((a) => !a.auto);
    const auto = attachment && this.dismissedUri === undefined ? [{ ...attachment, auto: true }] : [];
    const next = [...auto, ...manual];
    if (JSON.stringify(next) === JSON.stringify(this.current.attachments)) return;
    this.dispatch({ type: 'attachments', attachments: next });
  }

  addAttachments(attachments: readonly Attachment[]): void {
    const current = this.current.attachments;
    const fresh = attachments.filter(
      (a) => !current.some((c) => c.uri === a.uri && JSON.stringify(c.range) === JSON.stringify(a.range)),
    );
    if (fresh.length === 0) return;
    this.dispatch({ type: 'attachments', attachments: [...current, ...fresh.map((a) => ({ ...a, auto: false }))] });
  }

  removeAttachment(id: string): void {
    const removed = this.current.attachments.find((a) => a.id === id);
    if (removed?.auto) this.dismissedUri = removed.uri;
    const next = this.current.attachments.filter((a) => a.id !== id);
    if (next.length !== this.current.attachments.length) this.dispatch({ type: 'attachments', attachments: next });
  }

  private async addFiles(): Promise<void> {
    const picked = (await this.options.onAddFile?.()) ?? [];
    this.addAttachments(picked);
  }

  /**
   * Sends a message; resolves when the turn's request answers (or fails).
   *
   * During a turn the text steers it (`agent/steer`) or waits for the turn's end (the
   * panel's toggle). `!cmd` runs the person's own command (`agent/runCommand`).
   */
  async send(text: string, context?: ContextItem[]): Promise<SendResult | undefined> {
    const trimmed = text.trim();
    if (trimmed === '') return undefined;
    if (this.current.running) {
      if (this.current.steerMode === 'steer' && this.supports(Methods.steer) && !trimmed.startsWith('!')) {
        await this.steer(text);
      } else if (this.supports(Methods.steer) || this.current.steerMode === 'queue') {
        this.dispatch({ type: 'queued', queued: [...this.current.queued, text] });
      } else {
        this.notice('warning', 'A turn is running: stop it before sending another message.');
      }
      return undefined;
    }
    const connection = this.requireConnection();
    if (!connection) return undefined;
    const userCommand = trimmed.startsWith('!') && trimmed.length > 1 && this.supports(Methods.runCommand);
    const items = userCommand ? [] : (context ?? this.contextItems());
    this.dispatch({ type: 'userSent', text, context: items });
    if (context === undefined && !userCommand) {
      // chips added by hand go with one message; the editor's chip stays
      const kept = this.current.attachments.filter((a) => a.auto);
      if (kept.length !== this.current.attachments.length) this.dispatch({ type: 'attachments', attachments: kept });
    }
    const source = new CancellationTokenSource();
    this.sendSource = source;
    const method = userCommand ? Methods.runCommand : Methods.send;
    const params: { text?: string; command?: string; sessionId?: string; context?: ContextItem[] } = userCommand
      ? { command: trimmed.slice(1).trim() }
      : { text };
    if (this.current.sessionId) params.sessionId = this.current.sessionId;
    if (items.length > 0) params.context = items;
    try {
      const result = await connection.sendRequest<SendResult>(method, params, source.token);
      this.dispatch({ type: 'sendResult', result });
      return result;
    } catch (error) {
      this.log(`${method} failed: ${describeError(error)}`);
      this.dispatch({ type: 'sendFailed', message: describeError(error) });
      return undefined;
    } finally {
      if (this.sendSource === source) this.sendSource = undefined;
      source.dispose();
      this.sendNextQueued();
    }
  }

  private sendNextQueued(): void {
    const [next, ...rest] = this.current.queued;
    if (next === undefined || this.current.running) return;
    this.dispatch({ type: 'queued', queued: rest });
    void this.send(next);
  }

  /** `agent/steer`: the text joins the running turn at its next model request. */
  async steer(text: string): Promise<boolean> {
    const connection = this.requireConnection();
    if (!connection) return false;
    const params: { text: string; sessionId?: string } = { text };
    if (this.current.sessionId) params.sessionId = this.current.sessionId;
    try {
      const result = await connection.sendRequest<SteerResult>(Methods.steer, params);
      if (result?.accepted) {
        this.dispatch({ type: 'userSteered', text });
        return true;
      }
      // the turn ended meanwhile: it becomes the next message
      this.dispatch({ type: 'queued', queued: [...this.current.queued, text] });
      this.sendNextQueued();
      return false;
    } catch (error) {
      this.notice('error', `Could not add to the running turn: ${describeError(error)}`);
      return false;
    }
  }

  /** Retry a failed turn: its message (with its attachments) again. */
  async retry(turnId: string): Promise<SendResult | undefined> {
    const user = this.current.entries.find((e) => e.kind === 'user' && e.turnId === turnId && !e.steer);
    if (!user || user.kind !== 'user') {
      this.notice('warning', 'That turn\'s message is not in the panel any more.');
      return undefined;
    }
    return this.send(user.text, user.context ?? []);
  }

  /** `agent/undo`: files and conversation back to before the turn (later turns go too). */
  async undo(turnId: string): Promise<UndoResult | undefined> {
    if (this.busy('undoing a turn')) return undefined;
    const connection = this.requireConnection();
    if (!connection) return undefined;
    const params: { turnId: string; sessionId?: string } = { turnId };
    if (this.current.sessionId) params.sessionId = this.current.sessionId;
    try {
      const result = await connection.sendRequest<UndoResult>(Methods.undo, params);
      this.dispatch({
        type: 'historyLoaded',
        result: {
          sessionId: result.sessionId ?? this.current.sessionId ?? '',
          title: this.current.title ?? '',
          createdAt: '',
          updatedAt: '',
          history: Array.isArray(result.history) ? result.history : [],
          warnings: [],
          ...(result.historyCursor ? { historyCursor: result.historyCursor } : {}),
        },
      });
      const restored = Array.isArray(result.restoredFiles) ? result.restoredFiles : [];
      const skipped = Array.isArray(result.skippedFiles) ? result.skippedFiles : [];
      const files = restored.length ? `restored ${restored.join(', ')}` : 'no files to restore';
      this.notice('info', `Undone: ${files}.`);
      if (skipped.length > 0) {
        this.notice(
          'warning',
          `Not restored (changed since the turn): ${skipped.map((f) => `${f.path} (${f.reason})`).join(', ')}.`,
        );
      }
      return result;
    } catch (error) {
      this.notice('error', `Undo failed: ${describeError(error)}`);
      return undefined;
    }
  }

  /** `agent/fork`: a new session with the conversation up to this turn, shown at once. */
  async fork(turnId: string): Promise<string | undefined> {
    if (this.busy('forking')) return undefined;
    const connection = this.requireConnection();
    if (!connection) return undefined;
    const params: { turnId: string; sessionId?: string } = { turnId };
    if (this.current.sessionId) params.sessionId = this.current.sessionId;
    try {
      const result = await connection.sendRequest<NewSessionResult>(Methods.fork, params);
      const resumed = await this.resume(result.sessionId);
      if (resumed) this.notice('info', 'Forked: this is a new session; the original is unchanged.');
      return result.sessionId;
    } catch (error) {
      this.notice('error', `Fork failed: ${describeError(error)}`);
      return undefined;
    }
  }

  /** `agent/compact`: the model summarizes the conversation now (frees context). */
  async compact(): Promise<void> {
    if (this.busy('compacting')) return;
    const connection = this.requireConnection();
    if (!connection) return;
    const params = this.current.sessionId ? { sessionId: this.current.sessionId } : {};
    try {
      const result = await connection.sendRequest<{ tokensBefore?: number; tokensAfter?: number }>(Methods.compact, params);
      const fmt = (n: number | undefined): string => (typeof n === 'number' ? n.toLocaleString('en-US') : '?');
      this.notice('info', `Conversation compacted: ${fmt(result?.tokensBefore)} → ${fmt(result?.tokensAfter)} tokens.`);
    } catch (error) {
      this.notice('error', `Compaction failed: ${describeError(error)}`);
    }
  }

  /** "Load earlier": `agent/history` from the cursor. */
  async loadEarlier(limit = HISTORY_PAGE): Promise<void> {
    const cursor = this.current.historyCursor;
    const connection = this.requireConnection();
    if (!cursor || !connection) return;
    const params: { cursor: string; limit: number; sessionId?: string } = { cursor, limit };
    if (this.current.sessionId) params.sessionId = this.current.sessionId;
    try {
      const page = await connection.sendRequest<HistoryPage>(Methods.history, params);
      const action: Action = { type: 'historyPrepended', history: Array.isArray(page.history) ? page.history : [] };
      if (page.cursor) action.cursor = page.cursor;
      this.dispatch(action);
    } catch (error) {
      this.notice('error', `Could not load earlier messages: ${describeError(error)}`);
    }
  }

  private openDiff(callId: string, index: number): void {
    const tool = this.current.entries.find((e) => e.kind === 'tool' && e.callId === callId);
    const change = tool?.kind === 'tool' ? tool.changes?.[index] : undefined;
    if (change) this.options.onOpenDiff?.(change);
  }

  private openTurnDiff(turnId: string, path: string): void {
    const entry = this.current.entries.find((e) => e.kind === 'diff' && e.turnId === turnId);
    if (entry?.kind !== 'diff') return;
    const diff = fileDiffFromTurnDiff(entry.diff, path);
    this.options.onOpenDiff?.({ path, kind: 'update', diff });
  }

  // -- the session list in the panel ---------------------------------------------------------

  async showSessions(open: boolean, query: string): Promise<void> {
    this.dispatch({ type: 'sessionList', patch: { open, query } });
    if (open) await this.refreshSessionList();
  }

  async refreshSessionList(): Promise<void> {
    const list = this.current.sessionList;
    if (!list.open || !this.connection) return;
    const query = list.query;
    this.dispatch({ type: 'sessionList', patch: { loading: true } });
    try {
      const sessions = await this.listSessions(200, query);
      // a newer query was typed meanwhile: its own answer wins
      if (this.current.sessionList.query !== query) return;
      this.dispatch({ type: 'sessionList', patch: { sessions, loading: false, error: undefined } });
    } catch (error) {
      this.dispatch({ type: 'sessionList', patch: { loading: false, error: describeError(error) } });
    }
  }

  async renameSession(sessionId: string, title: string): Promise<boolean> {
    const connection = this.requireConnection();
    if (!connection || title.trim() === '') return false;
    try {
      await connection.sendRequest(Methods.renameSession, { sessionId, title: title.trim() });
      if (sessionId === this.current.sessionId) this.dispatch({ type: 'title', title: title.trim() });
      await this.refreshSessionList();
      return true;
    } catch (error) {
      this.notice('error', `Rename failed: ${describeError(error)}`);
      return false;
    }
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    const connection = this.requireConnection();
    if (!connection) return false;
    if (sessionId === this.current.sessionId && this.current.running) {
      this.notice('warning', 'A turn is running in that session: stop it first.');
      return false;
    }
    try {
      await connection.sendRequest(Methods.deleteSession, { sessionId });
      this.notice('info', 'Session moved to the trash folder of this workspace (restorable from there).');
      if (sessionId === this.current.sessionId) await this.newSession();
      await this.refreshSessionList();
      return true;
    } catch (error) {
      this.notice('error', `Delete failed: ${describeError(error)}`);
      return false;
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
    const params: { sessionId?: string; historyLimit?: number } = sessionId ? { sessionId } : {};
    // a server that pages history answers the newest entries; "Load earlier" asks for more
    if (this.supports(Methods.history)) params.historyLimit = HISTORY_PAGE;
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
  async listSessions(max = 500, query = ''): Promise<SessionSummary[]> {
    const connection = this.requireConnection();
    if (!connection) return [];
    const sessions: SessionSummary[] = [];
    let cursor: string | undefined;
    do {
      const params: { limit: number; cursor?: string; query?: string } = { limit: Math.min(100, max - sessions.length) };
      if (cursor) params.cursor = cursor;
      if (query.trim() !== '') params.query = query.trim();
      let page: ListSessionsResult;
      try {
        page = await connection.sendRequest<ListSessionsResult>(Methods.listSessions, params);
      } catch (error) {
        if (params.query === undefined || errorCode(error) !== ErrorCodes.invalidParams) throw error;
        // a v1 server: no search on its side, so the titles are searched here
        const needle = query.trim().toLowerCase();
        const all = await this.listSessions(max);
        return all.filter((session) => session.title.toLowerCase().includes(needle));
      }
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
    void this.refreshSessionList();
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

  // -- MCP servers ------------------------------------------------------------------------

  /** The configured MCP servers (from `initialize`'s capability, or any list the server sent). */
  setMcpServers(servers: McpServerStatus[]): void {
    if (JSON.stringify(servers) === JSON.stringify(this.current.mcpServers)) return;
    this.dispatch({ type: 'mcpServers', servers });
  }

  /** `agent/mcpStatus`: a server became ready, failed or changed its tools. */
  handleMcpStatus(params: unknown): void {
    const servers = parseMcpServers(params);
    if (!servers) {
      this.log(`ignored a malformed agent/mcpStatus: ${JSON.stringify(params)}`);
      return;
    }
    this.setMcpServers(servers);
  }

  /**
   * `agent/mcpServers`, when the server offers it: the states as they are now (a status
   * notification sent before the panel was listening is not lost).
   */
  async refreshMcpServers(): Promise<McpServerStatus[] | undefined> {
    const connection = this.connection;
    if (!connection || !this.supports(Methods.mcpServers)) return undefined;
    try {
      const servers = parseMcpServers(await connection.sendRequest<unknown>(Methods.mcpServers, {}));
      if (servers) this.setMcpServers(servers);
      return servers;
    } catch (error) {
      this.log(`${Methods.mcpServers} failed: ${describeError(error)}`);
      return undefined;
    }
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
