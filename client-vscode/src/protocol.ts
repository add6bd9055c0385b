/**
 * The agentls protocol (docs/protocol.md, version 1): methods, params, results, events.
 *
 * Plain types only, so every layer (extension, webview, tests) can share them.
 */

export const Methods = {
  send: 'agent/send',
  interrupt: 'agent/interrupt',
  resume: 'agent/resume',
  newSession: 'agent/newSession',
  listSessions: 'agent/listSessions',
  event: 'agent/event',
  sessionsChanged: 'agent/sessionsChanged',
  requestApproval: 'agent/requestApproval',
} as const;

/** JSON-RPC error codes the server uses for agent methods. */
export const ErrorCodes = {
  invalidParams: -32602,
  sessionNotFound: -33001,
  turnInProgress: -33002,
  sessionLocked: -33003,
  requestCancelled: -32800,
} as const;

export type TurnStatus = 'completed' | 'interrupted' | 'failed';
export type ToolStatus = 'completed' | 'failed' | 'denied' | 'aborted';
export type Decision = 'approve' | 'approveForSession' | 'deny' | 'abort';

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  [key: string]: number | undefined;
}

export interface TurnError {
  message: string;
  code?: string | number;
  httpStatus?: number;
}

export interface SendParams {
  text: string;
  sessionId?: string;
  workDoneToken?: string | number;
}

export interface SendResult {
  sessionId: string;
  turnId: string;
  status: TurnStatus;
  finalMessage?: string;
  usage?: Usage;
  error?: TurnError;
}

export interface SessionParams {
  sessionId?: string;
}

export interface InterruptResult {
  interrupted: boolean;
  turnId?: string;
}

export interface HistoryEntry {
  role: 'user' | 'assistant' | 'tool';
  text: string;
  callId?: string;
  toolName?: string;
  status?: ToolStatus;
  exitCode?: number;
  output?: string;
}

export interface ResumeResult {
  sessionId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  history: HistoryEntry[];
  warnings: string[];
}

export interface NewSessionResult {
  sessionId: string;
}

export interface SessionSummary {
  sessionId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  turns: number;
}

export interface ListSessionsParams {
  limit?: number;
  cursor?: string;
}

export interface ListSessionsResult {
  sessions: SessionSummary[];
  nextCursor?: string;
}

export interface ApprovalParams {
  sessionId: string;
  turnId: string;
  callId: string;
  kind: 'shell' | string;
  command?: string[];
  cwd: string;
  reason?: string;
}

export interface ApprovalResult {
  decision: Decision;
}

export interface ModelInfo {
  name: string;
  baseUrl: string;
  wireApi: string;
  configured: boolean;
}

/** `capabilities.experimental.agent` of the initialize result. */
export interface AgentCapability {
  version: number;
  methods: string[];
  model: ModelInfo | null;
}

interface EventBase {
  sessionId: string;
  turnId: string;
  seq: number;
}

export interface TurnStartedEvent extends EventBase {
  type: 'turnStarted';
  text: string;
}
export interface TextDeltaEvent extends EventBase {
  type: 'textDelta';
  itemId: string;
  delta: string;
}
export interface MessageCompletedEvent extends EventBase {
  type: 'messageCompleted';
  itemId: string;
  text: string;
}
export interface ToolCallStartedEvent extends EventBase {
  type: 'toolCallStarted';
  callId: string;
  name: string;
  arguments: string;
}
export interface ToolOutputDeltaEvent extends EventBase {
  type: 'toolOutputDelta';
  callId: string;
  delta: string;
}
export interface ToolCallCompletedEvent extends EventBase {
  type: 'toolCallCompleted';
  callId: string;
  status: ToolStatus;
  exitCode?: number;
  output: string;
}
export interface RetryingEvent extends EventBase {
  type: 'retrying';
  attempt: number;
  delayMs: number;
  reason: string;
}
export interface TurnCompletedEvent extends EventBase {
  type: 'turnCompleted';
  status: TurnStatus;
  finalMessage?: string;
  usage?: Usage;
  error?: TurnError;
}

export type AgentEvent =
  | TurnStartedEvent
  | TextDeltaEvent
  | MessageCompletedEvent
  | ToolCallStartedEvent
  | ToolOutputDeltaEvent
  | ToolCallCompletedEvent
  | RetryingEvent
  | TurnCompletedEvent;

const EVENT_TYPES: ReadonlySet<string> = new Set([
  'turnStarted',
  'textDelta',
  'messageCompleted',
  'toolCallStarted',
  'toolOutputDelta',
  'toolCallCompleted',
  'retrying',
  'turnCompleted',
]);

/** A notification from the wire is untrusted: only well-formed known events get through. */
export function isAgentEvent(value: unknown): value is AgentEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.type === 'string' &&
    EVENT_TYPES.has(v.type) &&
    typeof v.sessionId === 'string' &&
    typeof v.turnId === 'string'
  );
}
