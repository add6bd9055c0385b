/**
 * The chat panel's view model and the reducer that builds it.
 *
 * `reduce(state, action)` is pure and never mutates its input: the extension keeps one copy
 * of the state, forwards every action to the webview, and the webview reduces the same
 * actions into its own copy, so both stay identical without sending the whole conversation on
 * every streamed delta. Unchanged entries keep their identity, which the webview uses to
 * re-render only what changed.
 *
 * No `vscode` and no DOM here: this module is bundled into both sides and unit-tested alone.
 */

import { describeCall } from './describe';
import { mcpFromToolName } from './protocol';
import type {
  AgentEvent,
  ContextItem,
  FileChange,
  HistoryEntry,
  McpCallInfo,
  McpServerStatus,
  ModelInfo,
  ResumeResult,
  SendResult,
  SessionSummary,
  ToolStatus,
  TurnError,
  TurnStatus,
  Usage,
} from './protocol';

interface EntryBase {
  id: string;
  turnId?: string;
}

export interface UserEntry extends EntryBase {
  kind: 'user';
  text: string;
  /** Editor attachments sent with it (shown as chips). */
  context?: ContextItem[];
  /** Typed while the turn ran and sent to it with `agent/steer`. */
  steer?: boolean;
  /**
   * A steering message's two confirmations, which may come in either order: this panel's
   * `agent/steer` was accepted (`sent`), and the server's `steered` event said it joined the
   * turn (`joined`). One entry stands for both, so the text is drawn once.
   */
  steerSent?: boolean;
  steerJoined?: boolean;
}

export interface AssistantEntry extends EntryBase {
  kind: 'assistant';
  itemId?: string;
  text: string;
  streaming: boolean;
}

export type ToolEntryStatus = 'running' | ToolStatus;

export interface ToolEntry extends EntryBase {
  kind: 'tool';
  callId: string;
  name: string;
  command: string;
  output: string;
  status: ToolEntryStatus;
  exitCode?: number;
  /** v2: the files an `apply_patch` call changes. */
  changes?: FileChange[];
  /** An MCP tool's call: drawn as `server › tool` with `command` holding its arguments. */
  mcp?: McpCallInfo;
}

/** v2 `turnDiff`: what the turn changed so far (one per turn, replaced as it grows). */
export interface DiffEntry extends EntryBase {
  kind: 'diff';
  diff: string;
  files: { path: string; added: number; removed: number }[];
}

export interface TurnEndEntry extends EntryBase {
  kind: 'turnEnd';
  status: TurnStatus;
  usage?: Usage;
  error?: TurnError;
}

export type NoticeLevel = 'info' | 'warning' | 'error';

export interface NoticeEntry extends EntryBase {
  kind: 'notice';
  level: NoticeLevel;
  text: string;
}

export type Entry = UserEntry | AssistantEntry | ToolEntry | TurnEndEntry | NoticeEntry | DiffEntry;

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** An entry before it gets its id. */
export type NewEntry = WithoutId<Entry>;

export interface PendingApproval {
  /** Local id of the question (the answer refers to it). */
  id: string;
  sessionId: string;
  turnId: string;
  callId: string;
  /** The command as a person would type it. */
  command: string;
  cwd: string;
  reason?: string;
  /** `shell` or `patch`. */
  kind?: string;
  /** A patch approval: the files it changes. */
  changes?: FileChange[];
}

export type ServerStatus = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

export interface ServerState {
  status: ServerStatus;
  /** Why it is stopped or failed, and what to do about it. */
  message?: string;
  model?: ModelInfo | null;
  /** The agent methods the server announced (v2 features show only when listed). */
  methods?: string[];
}

/** The context meter: the last `tokenUsage`. */
export interface ContextUsage {
  inputTokens: number;
  outputTokens: number;
  contextWindow?: number;
  percent?: number;
}

export type SteerMode = 'steer' | 'queue';

/** A chip in the composer: sent as `agent/send.context`. */
export interface Attachment {
  id: string;
  uri: string;
  /** What the chip says: `file.ts` or `file.ts:3-9`. */
  label: string;
  range?: ContextItem['range'];
  text?: string;
  /** Follows the active editor (removable; comes back when the editor changes). */
  auto: boolean;
}

/** The session list inside the panel. */
export interface SessionList {
  open: boolean;
  query: string;
  sessions: SessionSummary[];
  loading: boolean;
  error?: string;
}

export interface ChatState {
  sessionId?: string;
  title?: string;
  entries: Entry[];
  /** An `agent/send` is open: the Send button is a Stop button. */
  running: boolean;
  /** Stop was pressed and the request has not answered yet. */
  stopping: boolean;
  /** The turn the open send belongs to, once `turnStarted` told us. */
  turnId?: string;
  approvals: PendingApproval[];
  server: ServerState;
  /** The context meter (v2 `tokenUsage`). */
  contextUsage?: ContextUsage;
  /** Older history exists: "Load earlier" pages back with it. */
  historyCursor?: string;
  /** Compaction is running. */
  compacting?: boolean;
  sessionList: SessionList;
  /** The composer's chips. */
  attachments: Attachment[];
  /** What a message typed during a turn does: join it (`agent/steer`) or wait for its end. */
  steerMode: SteerMode;
  /** Messages waiting for the running turn to end. */
  queued: string[];
  /**
   * The configured MCP servers (`initialize`, `agent/mcpServers`, `agent/mcpStatus`);
   * undefined when the server said nothing about MCP.
   */
  mcpServers?: McpServerStatus[];
  /** Counter for entry ids; part of the state so that both copies agree on ids. */
  nextId: number;
}

export type Action =
  | { type: 'userSent'; text: string; context?: ContextItem[] }
  | { type: 'event'; event: AgentEvent }
  | { type: 'sendResult'; result: SendResult }
  | { type: 'sendFailed'; message: string }
  | { type: 'stopRequested' }
  | { type: 'historyLoaded'; result: ResumeResult }
  | { type: 'sessionStarted'; sessionId: string }
  | { type: 'approvalRequested'; approval: PendingApproval }
  | { type: 'approvalClosed'; id: string }
  | { type: 'server'; server: ServerState }
  | { type: 'notice'; level: NoticeLevel; text: string }
  | { type: 'userSteered'; text: string }
  | { type: 'historyPrepended'; history: HistoryEntry[]; cursor?: string }
  | { type: 'sessionList'; patch: Partial<SessionList> }
  | { type: 'attachments'; attachments: Attachment[] }
  | { type: 'steerMode'; mode: SteerMode }
  | { type: 'queued'; queued: string[] }
  | { type: 'title'; title: string }
  | { type: 'mcpServers'; servers: McpServerStatus[] };

export function initialState(): ChatState {
  return {
    entries: [],
    running: false,
    stopping: false,
    approvals: [],
    server: { status: 'starting' },
    sessionList: { open: false, query: '', sessions: [], loading: false },
    attachments: [],
    steerMode: 'steer',
    queued: [],
    nextId: 1,
  };
}

/** Builder for one reduction: copies the entries array once, and only when it changes. */
class Draft {
  entries: Entry[];
  nextId: number;
  private copied = false;

  constructor(private readonly state: ChatState) {
    this.entries = state.entries;
    this.nextId = state.nextId;
  }

  private writable(): Entry[] {
    if (!this.copied) {
      this.entries = this.entries.slice();
      this.copied = true;
    }
    return this.entries;
  }

  newId(): string {
    return `e${this.nextId++}`;
  }

  push(entry: NewEntry): void {
    this.writable().push({ ...entry, id: this.newId() } as Entry);
  }

  replace(index: number, entry: Entry): void {
    this.writable()[index] = entry;
  }

  removeWhere(predicate: (entry: Entry) => boolean): void {
    if (this.entries.some(predicate)) {
      this.entries = this.entries.filter((entry) => !predicate(entry));
      this.copied = true;
    }
  }

  findLast(predicate: (entry: Entry) => boolean): number {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (entry !== undefined && predicate(entry)) return i;
    }
    return -1;
  }

  finish(patch: Partial<ChatState> = {}): ChatState {
    return { ...this.state, ...patch, entries: this.entries, nextId: this.nextId };
  }
}

/** An MCP call's arguments as shown after `server › tool`: nothing when there are none. */
export function mcpArguments(argumentsJson: string): string {
  const text = argumentsJson.trim();
  return text === '{}' ? '' : text;
}

function mcpInfo(value: unknown): McpCallInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  return typeof v.server === 'string' && typeof v.tool === 'string' && v.server !== '' && v.tool !== ''
    ? { server: v.server, tool: v.tool }
    : undefined;
}

function turnEnd(
  draft: Draft,
  turnId: string,
  status: TurnStatus,
  usage: Usage | undefined,
  error: TurnError | undefined,
): void {
  // whatever still streams or runs in this turn is over now
  draft.entries.forEach((entry, index) => {
    if (entry.turnId !== turnId) return;
    if (entry.kind === 'assistant' && entry.streaming) {
      draft.replace(index, { ...entry, streaming: false });
    } else if (entry.kind === 'tool' && entry.status === 'running') {
      draft.replace(index, { ...entry, status: 'aborted' });
    }
  });
  const existing = draft.findLast((e) => e.kind === 'turnEnd' && e.turnId === turnId);
  if (existing >= 0) return;
  const entry: Omit<TurnEndEntry, 'id'> = { kind: 'turnEnd', turnId, status };
  if (usage) entry.usage = usage;
  if (error) entry.error = error;
  draft.push(entry);
}

/**
 * A steering message, confirmed by `agent/steer`'s answer (`sent`) or by the `steered` event
 * (`joined`): the entry the other confirmation already made takes it, else a new one shows it.
 * Text steered from elsewhere (another window, the terminal) so still shows in the turn.
 */
function steered(
  draft: Draft,
  text: string,
  turnId: string | undefined,
  by: 'steerSent' | 'steerJoined',
): void {
  const other = by === 'steerSent' ? 'steerJoined' : 'steerSent';
  const index = draft.entries.findIndex(
    (e) =>
      e.kind === 'user' &&
      e.steer === true &&
      e.text === text &&
      e[other] === true &&
      e[by] !== true &&
      (turnId === undefined || e.turnId === undefined || e.turnId === turnId),
  );
  const found = index >= 0 ? draft.entries[index] : undefined;
  if (found && found.kind === 'user') {
    const next: UserEntry = { ...found, [by]: true };
    if (next.turnId === undefined && turnId !== undefined) next.turnId = turnId;
    draft.replace(index, next);
    return;
  }
  const user: Omit<UserEntry, 'id'> = { kind: 'user', text, steer: true, [by]: true };
  if (turnId !== undefined) user.turnId = turnId;
  draft.push(user);
}

function reduceEvent(state: ChatState, event: AgentEvent): ChatState {
  if (state.sessionId !== undefined && event.sessionId !== state.sessionId) return state;
  const draft = new Draft(state);
  const turnId = event.turnId;
  switch (event.type) {
    case 'turnStarted': {
      const pending = draft.findLast((e) => e.kind === 'user');
      const last = pending >= 0 ? draft.entries[pending] : undefined;
      if (last && last.kind === 'user' && last.turnId === undefined && state.running) {
        draft.replace(pending, { ...last, turnId });
      } else if (!draft.entries.some((e) => e.kind === 'user' && e.turnId === turnId)) {
        draft.push({ kind: 'user', text: event.text, turnId });
      }
      return draft.finish({ sessionId: event.sessionId, turnId });
    }
    case 'textDelta': {
      const index = draft.findLast(
        (e) => e.kind === 'assistant' && e.turnId === turnId && e.itemId === event.itemId,
      );
      const found = index >= 0 ? draft.entries[index] : undefined;
      if (found && found.kind === 'assistant') {
        draft.replace(index, { ...found, text: found.text + event.delta });
      } else {
        draft.push({
          kind: 'assistant',
          turnId,
          itemId: event.itemId,
          text: event.delta,
          streaming: true,
        });
      }
      return draft.finish();
    }
    case 'messageCompleted': {
      const index = draft.findLast(
        (e) => e.kind === 'assistant' && e.turnId === turnId && e.itemId === event.itemId,
      );
      const found = index >= 0 ? draft.entries[index] : undefined;
      if (found && found.kind === 'assistant') {
        draft.replace(index, { ...found, text: event.text, streaming: false });
      } else {
        draft.push({
          kind: 'assistant',
          turnId,
          itemId: event.itemId,
          text: event.text,
          streaming: false,
        });
      }
      return draft.finish();
    }
    case 'toolCallStarted': {
      if (draft.findLast((e) => e.kind === 'tool' && e.callId === event.callId) >= 0) {
        return state;
      }
      // the event's `mcp` names the pair even when the model-facing name was cut or cleaned
      const mcp = mcpInfo(event.mcp) ?? mcpFromToolName(String(event.name));
      const args = String(event.arguments ?? '');
      const tool: Omit<ToolEntry, 'id'> = {
        kind: 'tool',
        turnId,
        callId: event.callId,
        name: event.name,
        command: mcp ? mcpArguments(args) : describeCall(event.name, args),
        output: '',
        status: 'running',
      };
      if (mcp) tool.mcp = mcp;
      if (Array.isArray(event.changes) && event.changes.length > 0) tool.changes = event.changes;
      draft.push(tool);
      return draft.finish();
    }
    case 'toolOutputDelta': {
      const index = draft.findLast((e) => e.kind === 'tool' && e.callId === event.callId);
      const found = index >= 0 ? draft.entries[index] : undefined;
      if (!found || found.kind !== 'tool') return state;
      draft.replace(index, { ...found, output: found.output + event.delta });
      return draft.finish();
    }
    case 'toolCallCompleted': {
      const index = draft.findLast((e) => e.kind === 'tool' && e.callId === event.callId);
      const found = index >= 0 ? draft.entries[index] : undefined;
      const ran = event.status === 'completed' || event.status === 'failed';
      if (found && found.kind === 'tool') {
        // a run's final output replaces the streamed one; "denied"/"aborted" keep what ran
        // (their own output only repeats the status, which the mark shows)
        const output = ran ? event.output : found.output;
        const next: ToolEntry = { ...found, status: event.status, output };
        if (event.exitCode !== undefined && event.exitCode !== null) next.exitCode = event.exitCode;
        draft.replace(index, next);
      } else {
        const entry: Omit<ToolEntry, 'id'> = {
          kind: 'tool',
          turnId,
          callId: event.callId,
          name: 'shell',
          command: '',
          output: event.output,
          status: event.status,
        };
        if (event.exitCode !== undefined && event.exitCode !== null) entry.exitCode = event.exitCode;
        draft.push(entry);
      }
      return draft.finish();
    }
    case 'retrying': {
      // the failed attempt's partial text is dropped: the retry streams it again
      draft.removeWhere((e) => e.kind === 'assistant' && e.turnId === turnId && e.streaming);
      const seconds = (event.delayMs / 1000).toFixed(1);
      draft.push({
        kind: 'notice',
        turnId,
        level: 'warning',
        text: `Retrying (attempt ${event.attempt}) in ${seconds} s: ${event.reason}`,
      });
      return draft.finish();
    }
    case 'turnCompleted': {
      turnEnd(draft, turnId, event.status, event.usage, event.error);
      const next = draft.finish({
        approvals: state.approvals.filter((a) => a.turnId !== turnId),
      });
      delete next.compacting;
      return next;
    }
    case 'turnDiff': {
      const files = Array.isArray(event.files) ? event.files : [];
      const index = draft.findLast((e) => e.kind === 'diff' && e.turnId === turnId);
      const found = index >= 0 ? draft.entries[index] : undefined;
      if (found && found.kind === 'diff') {
        // it moves to the end: the latest state of the turn's changes, after what caused it
        draft.removeWhere((e) => e === found);
      }
      draft.push({ kind: 'diff', turnId, diff: String(event.diff ?? ''), files });
      return draft.finish();
    }
    case 'tokenUsage': {
      const usage: ContextUsage = {
        inputTokens: Number(event.inputTokens) || 0,
        outputTokens: Number(event.outputTokens) || 0,
      };
      if (typeof event.contextWindow === 'number') usage.contextWindow = event.contextWindow;
      if (typeof event.percent === 'number') usage.percent = event.percent;
      else if (usage.contextWindow) usage.percent = (100 * usage.inputTokens) / usage.contextWindow;
      return { ...state, contextUsage: usage };
    }
    case 'compaction': {
      const fmt = (n: number | undefined): string => (typeof n === 'number' ? n.toLocaleString('en-US') : '?');
      const text =
        event.phase === 'started'
          ? 'Compacting the conversation: the model summarizes it to free context…'
          : event.phase === 'completed'
            ? `Conversation compacted: ${fmt(event.tokensBefore)} → ${fmt(event.tokensAfter)} tokens.`
            : 'Compaction failed; the conversation goes on uncompacted.';
      draft.push({
        kind: 'notice',
        turnId,
        level: event.phase === 'failed' ? 'warning' : 'info',
        text,
      });
      const next = draft.finish({ compacting: event.phase === 'started' });
      if (event.phase !== 'started') delete next.compacting;
      return next;
    }
    case 'steered': {
      steered(draft, event.text, turnId, 'steerJoined');
      return draft.finish();
    }
    case 'mcpWaiting': {
      const failed = event.failed ?? [];
      const text =
        event.phase === 'started'
          ? `Waiting for MCP servers to start: ${event.servers.join(', ')}…`
          : failed.length > 0
            ? `Going on without MCP server(s) ${failed.map((f) => `${f.name} (${f.error})`).join(', ')}.`
            : `MCP servers ready: ${(event.ready ?? event.servers).join(', ')}.`;
      draft.push({
        kind: 'notice',
        turnId,
        level: failed.length > 0 ? 'warning' : 'info',
        text,
      });
      return draft.finish();
    }
    default: {
      // every event the protocol defines has its case: a new one fails the type check here
      const unhandled: never = event;
      void unhandled;
      return state;
    }
  }
}

const TURN_STATUSES: ReadonlySet<string> = new Set(['completed', 'interrupted', 'failed']);
const TOOL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'denied', 'aborted']);

export function entriesFromHistory(
  history: readonly HistoryEntry[],
  warnings: readonly string[] = [],
  firstId = 1,
): { entries: Entry[]; nextId: number } {
  let next = firstId;
  const id = (): string => `e${next++}`;
  const entries: Entry[] = warnings.map((text) => ({
    id: id(),
    kind: 'notice',
    level: 'warning',
    text,
  }));
  // a turn's outcome may come on its user entry: it is drawn after the turn's last entry
  const pendingOutcomes = new Map<string, HistoryEntry>();
  const flushOutcome = (turnId: string | undefined): void => {
    if (turnId === undefined) return;
    const outcome = pendingOutcomes.get(turnId);
    if (!outcome) return;
    pendingOutcomes.delete(turnId);
    entries.push(turnEndFromHistory(id(), turnId, outcome));
  };
  let currentTurn: string | undefined;
  const turnsWithMessage = new Set<string>();
  for (const item of history) {
    if (typeof item !== 'object' || item === null) continue;
    const turnId = typeof item.turnId === 'string' ? item.turnId : undefined;
    if (turnId !== currentTurn) {
      flushOutcome(currentTurn);
      currentTurn = turnId;
    }
    const text = typeof item.text === 'string' ? item.text : '';
    const withTurn = <T extends Entry>(entry: T): T => {
      if (turnId !== undefined) entry.turnId = turnId;
      return entry;
    };
    if (item.role === 'user') {
      const user: UserEntry = withTurn({ id: id(), kind: 'user', text });
      // a second message of the same turn was typed while it ran (agent/steer)
      if (turnId !== undefined) {
        if (turnsWithMessage.has(turnId)) user.steer = true;
        turnsWithMessage.add(turnId);
      }
      if (Array.isArray(item.context) && item.context.length > 0) user.context = item.context;
      entries.push(user);
      if (turnId !== undefined && typeof item.status === 'string' && TURN_STATUSES.has(item.status)) {
        pendingOutcomes.set(turnId, item);
      }
    } else if (item.role === 'assistant') {
      entries.push(withTurn({ id: id(), kind: 'assistant', text, streaming: false }));
    } else if (item.role === 'tool') {
      const status = typeof item.status === 'string' && TOOL_STATUSES.has(item.status) ? (item.status as ToolStatus) : 'completed';
      const tool: ToolEntry = withTurn({
        id: id(),
        kind: 'tool',
        callId: item.callId ?? '',
        name: item.toolName ?? 'shell',
        command: text,
        output: item.output ?? '',
        status,
      });
      if (typeof item.exitCode === 'number') tool.exitCode = item.exitCode;
      if (Array.isArray(item.changes) && item.changes.length > 0) tool.changes = item.changes;
      const mcp = mcpFromToolName(tool.name);
      if (mcp) {
        tool.mcp = mcp;
        tool.command = mcpArguments(text);
      }
      entries.push(tool);
    } else if (item.role === 'turn' && turnId !== undefined) {
      if (typeof item.status === 'string' && TURN_STATUSES.has(item.status)) {
        pendingOutcomes.delete(turnId);
        entries.push(turnEndFromHistory(id(), turnId, item));
      }
      continue;
    }
    // the server's shape: the turn's last entry carries how the turn ended
    const outcome = item.outcome;
    if (turnId !== undefined && outcome && typeof outcome === 'object' && TURN_STATUSES.has(String(outcome.status))) {
      pendingOutcomes.delete(turnId);
      const end = turnEndFromHistory(id(), turnId, outcome);
      if (typeof outcome.reason === 'string' && outcome.reason !== '' && !end.error) {
        end.error = { message: `Stopped: ${outcome.reason}` };
      }
      entries.push(end);
    }
  }
  flushOutcome(currentTurn);
  for (const turnId of [...pendingOutcomes.keys()]) flushOutcome(turnId);
  return { entries, nextId: next };
}

function turnEndFromHistory(
  id: string,
  turnId: string,
  item: { status?: unknown; usage?: Usage; error?: TurnError },
): TurnEndEntry {
  const entry: TurnEndEntry = { id, kind: 'turnEnd', turnId, status: item.status as TurnStatus };
  if (item.usage && typeof item.usage === 'object') entry.usage = item.usage;
  if (item.error && typeof item.error === 'object' && typeof item.error.message === 'string') {
    entry.error = item.error;
  }
  return entry;
}

export function reduce(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case 'userSent': {
      const draft = new Draft(state);
      const user: Omit<UserEntry, 'id'> = { kind: 'user', text: action.text };
      if (action.context && action.context.length > 0) user.context = action.context;
      draft.push(user);
      const next = draft.finish({ running: true, stopping: false });
      delete next.turnId;
      return next;
    }
    case 'event':
      return reduceEvent(state, action.event);
    case 'sendResult': {
      const { result } = action;
      if (state.sessionId !== undefined && result.sessionId !== state.sessionId) {
        return { ...state, running: false, stopping: false };
      }
      const draft = new Draft(state);
      const hasAnswer = draft.entries.some(
        (e) => e.kind === 'assistant' && e.turnId === result.turnId,
      );
      if (!hasAnswer && result.finalMessage) {
        draft.push({
          kind: 'assistant',
          turnId: result.turnId,
          text: result.finalMessage,
          streaming: false,
        });
      }
      turnEnd(draft, result.turnId, result.status, result.usage, result.error);
      const next = draft.finish({
        running: false,
        stopping: false,
        sessionId: result.sessionId,
        approvals: state.approvals.filter((a) => a.turnId !== result.turnId),
      });
      delete next.turnId;
      return next;
    }
    case 'sendFailed': {
      const draft = new Draft(state);
      draft.entries.forEach((entry, index) => {
        if (entry.kind === 'assistant' && entry.streaming) {
          draft.replace(index, { ...entry, streaming: false });
        } else if (entry.kind === 'tool' && entry.status === 'running') {
          draft.replace(index, { ...entry, status: 'aborted' });
        }
      });
      draft.push({ kind: 'notice', level: 'error', text: action.message });
      const next = draft.finish({ running: false, stopping: false, approvals: [] });
      delete next.turnId;
      return next;
    }
    case 'stopRequested':
      return state.running ? { ...state, stopping: true } : state;
    case 'historyLoaded': {
      const { result } = action;
      const { entries, nextId } = entriesFromHistory(result.history, result.warnings, state.nextId);
      const next: ChatState = {
        ...state,
        sessionId: result.sessionId,
        title: result.title,
        entries,
        nextId,
        running: false,
        stopping: false,
        approvals: [],
      };
      delete next.turnId;
      delete next.contextUsage;
      if (typeof result.historyCursor === 'string' && result.historyCursor !== '') {
        next.historyCursor = result.historyCursor;
      } else {
        delete next.historyCursor;
      }
      return next;
    }
    case 'historyPrepended': {
      const { entries, nextId } = entriesFromHistory(action.history, [], state.nextId);
      const next: ChatState = { ...state, entries: [...entries, ...state.entries], nextId };
      if (action.cursor) next.historyCursor = action.cursor;
      else delete next.historyCursor;
      return next;
    }
    case 'userSteered': {
      const draft = new Draft(state);
      steered(draft, action.text, state.turnId, 'steerSent');
      return draft.finish();
    }
    case 'sessionList':
      return { ...state, sessionList: { ...state.sessionList, ...action.patch } };
    case 'attachments':
      return { ...state, attachments: action.attachments };
    case 'steerMode':
      return state.steerMode === action.mode ? state : { ...state, steerMode: action.mode };
    case 'queued':
      return { ...state, queued: action.queued };
    case 'title':
      return { ...state, title: action.title };
    case 'mcpServers':
      return { ...state, mcpServers: action.servers };
    case 'sessionStarted': {
      const next: ChatState = {
        ...state,
        sessionId: action.sessionId,
        entries: [],
        running: false,
        stopping: false,
        approvals: [],
      };
      delete next.title;
      delete next.turnId;
      delete next.contextUsage;
      delete next.historyCursor;
      return next;
    }
    case 'approvalRequested':
      if (state.approvals.some((a) => a.id === action.approval.id)) return state;
      return { ...state, approvals: [...state.approvals, action.approval] };
    case 'approvalClosed':
      if (!state.approvals.some((a) => a.id === action.id)) return state;
      return { ...state, approvals: state.approvals.filter((a) => a.id !== action.id) };
    case 'server':
      return { ...state, server: action.server };
    case 'notice': {
      const draft = new Draft(state);
      draft.push({ kind: 'notice', level: action.level, text: action.text });
      return draft.finish();
    }
    default:
      return state;
  }
}

/** "1,234 in · 56 out" — what the panel shows for a turn's usage. */
export function formatUsage(usage: Usage | undefined): string | undefined {
  if (!usage) return undefined;
  const parts: string[] = [];
  const fmt = (n: number): string => n.toLocaleString('en-US');
  if (typeof usage.input_tokens === 'number') parts.push(`${fmt(usage.input_tokens)} in`);
  if (typeof usage.output_tokens === 'number') parts.push(`${fmt(usage.output_tokens)} out`);
  if (parts.length === 0 && typeof usage.total_tokens === 'number') {
    parts.push(`${fmt(usage.total_tokens)} total`);
  }
  return parts.length ? `${parts.join(' · ')} tokens` : undefined;
}
