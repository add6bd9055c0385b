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
import type {
  AgentEvent,
  HistoryEntry,
  ModelInfo,
  ResumeResult,
  SendResult,
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

export type Entry = UserEntry | AssistantEntry | ToolEntry | TurnEndEntry | NoticeEntry;

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
}

export type ServerStatus = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

export interface ServerState {
  status: ServerStatus;
  /** Why it is stopped or failed, and what to do about it. */
  message?: string;
  model?: ModelInfo | null;
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
  /** Counter for entry ids; part of the state so that both copies agree on ids. */
  nextId: number;
}

export type Action =
  | { type: 'userSent'; text: string }
  | { type: 'event'; event: AgentEvent }
  | { type: 'sendResult'; result: SendResult }
  | { type: 'sendFailed'; message: string }
  | { type: 'stopRequested' }
  | { type: 'historyLoaded'; result: ResumeResult }
  | { type: 'sessionStarted'; sessionId: string }
  | { type: 'approvalRequested'; approval: PendingApproval }
  | { type: 'approvalClosed'; id: string }
  | { type: 'server'; server: ServerState }
  | { type: 'notice'; level: NoticeLevel; text: string };

export function initialState(): ChatState {
  return {
    entries: [],
    running: false,
    stopping: false,
    approvals: [],
    server: { status: 'starting' },
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
      draft.push({
        kind: 'tool',
        turnId,
        callId: event.callId,
        name: event.name,
        command: describeCall(event.name, String(event.arguments ?? '')),
        output: '',
        status: 'running',
      });
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
      return draft.finish({
        approvals: state.approvals.filter((a) => a.turnId !== turnId),
      });
    }
    default:
      return state;
  }
}

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
  for (const item of history) {
    if (item.role === 'user') {
      entries.push({ id: id(), kind: 'user', text: item.text });
    } else if (item.role === 'assistant') {
      entries.push({ id: id(), kind: 'assistant', text: item.text, streaming: false });
    } else if (item.role === 'tool') {
      const tool: ToolEntry = {
        id: id(),
        kind: 'tool',
        callId: item.callId ?? '',
        name: item.toolName ?? 'shell',
        command: item.text,
        output: item.output ?? '',
        status: item.status ?? 'completed',
      };
      if (typeof item.exitCode === 'number') tool.exitCode = item.exitCode;
      entries.push(tool);
    }
  }
  return { entries, nextId: next };
}

export function reduce(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case 'userSent': {
      const draft = new Draft(state);
      draft.push({ kind: 'user', text: action.text });
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
      return next;
    }
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
