/**
 * The agentls protocol (docs/protocol.md: version 1 and the v2 additions): methods, params, results, events.
 *
 * Plain types only, so every layer (extension, webview, tests) can share them. The event types
 * (`AgentEvent` and the shapes it uses) are generated from the server's definition into
 * ./protocolTypes and re-exported here.
 */

import { EVENT_TYPES } from './protocolTypes';
import type {
  AgentEvent,
  FileChange,
  McpCallInfo,
  ToolStatus,
  TurnError,
  TurnStatus,
  Usage,
} from './protocolTypes';

export * from './protocolTypes';

export const Methods = {
  send: 'agent/send',
  interrupt: 'agent/interrupt',
  resume: 'agent/resume',
  newSession: 'agent/newSession',
  listSessions: 'agent/listSessions',
  event: 'agent/event',
  sessionsChanged: 'agent/sessionsChanged',
  requestApproval: 'agent/requestApproval',
  // v2
  steer: 'agent/steer',
  runCommand: 'agent/runCommand',
  undo: 'agent/undo',
  fork: 'agent/fork',
  compact: 'agent/compact',
  history: 'agent/history',
  renameSession: 'agent/renameSession',
  deleteSession: 'agent/deleteSession',
  /** MCP: the configured servers with their state (request), and changes to it (notification). */
  mcpServers: 'agent/mcpServers',
  mcpStatus: 'agent/mcpStatus',
} as const;

/** JSON-RPC error codes the server uses for agent methods. */
export const ErrorCodes = {
  invalidParams: -32602,
  sessionNotFound: -33001,
  turnInProgress: -33002,
  sessionLocked: -33003,
  requestCancelled: -32800,
} as const;

export type Decision = 'approve' | 'approveForSession' | 'deny' | 'abort';

/** An editor attachment of `agent/send` (v2): a file, or a selection of it. */
export interface ContextRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

export interface ContextItem {
  uri: string;
  range?: ContextRange;
  text?: string;
}

export interface SendParams {
  text: string;
  sessionId?: string;
  workDoneToken?: string | number;
  context?: ContextItem[];
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

/** How a turn ended, as a redrawn history tells it. */
export interface TurnOutcome {
  status: TurnStatus;
  usage?: Usage;
  error?: TurnError;
  /** Why it was interrupted, when not by the person. */
  reason?: string;
}

/**
 * One entry of `agent/resume`'s history. v2: entries carry `turnId`, and a turn's last entry
 * carries its `outcome` (the server's shape). Also read: an entry `{role: "turn", turnId,
 * status, ...}` after the turn's entries, or a `user` entry with `status`.
 */
export interface HistoryEntry {
  role: 'user' | 'assistant' | 'tool' | 'turn' | string;
  text?: string;
  turnId?: string;
  callId?: string;
  toolName?: string;
  status?: ToolStatus | TurnStatus;
  exitCode?: number;
  output?: string;
  usage?: Usage;
  error?: TurnError;
  context?: ContextItem[];
  changes?: FileChange[];
  outcome?: TurnOutcome;
}

export interface ResumeResult {
  sessionId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  history: HistoryEntry[];
  warnings: string[];
  /** v2: older entries exist; `agent/history {cursor}` pages back. */
  historyCursor?: string;
}

export interface HistoryPage {
  history: HistoryEntry[];
  cursor?: string;
}

export interface UndoResult {
  sessionId: string;
  restoredFiles: string[];
  skippedFiles: { path: string; reason: string }[];
  history: HistoryEntry[];
  historyCursor?: string;
}

export interface SteerResult {
  accepted: boolean;
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
  query?: string;
}

export interface ListSessionsResult {
  sessions: SessionSummary[];
  nextCursor?: string;
}

export type McpServerState = 'starting' | 'ready' | 'failed' | 'disabled';

/** One configured MCP server, as `agent/mcpServers`, `agent/mcpStatus` and `initialize` tell it. */
export interface McpServerStatus {
  name: string;
  state: McpServerState | string;
  /** Why it failed (the server leaves secrets out). */
  error?: string;
  /** The tool names it offers (as the MCP server calls them). */
  tools: string[];
}

export interface McpServersResult {
  servers: McpServerStatus[];
}

/** A server list from the wire (untrusted): well-formed entries only; undefined when not a list. */
export function parseMcpServers(value: unknown): McpServerStatus[] | undefined {
  const list = (value as { servers?: unknown } | null | undefined)?.servers;
  if (!Array.isArray(list)) return undefined;
  const servers: McpServerStatus[] = [];
  for (const item of list) {
    if (typeof item !== 'object' || item === null) continue;
    const v = item as Record<string, unknown>;
    if (typeof v.name !== 'string' || typeof v.state !== 'string') continue;
    const server: McpServerStatus = {
      name: v.name,
      state: v.state,
      tools: Array.isArray(v.tools) ? v.tools.filter((t): t is string => typeof t === 'string') : [],
    };
    if (typeof v.error === 'string' && v.error !== '') server.error = v.error;
    servers.push(server);
  }
  return servers;
}

/** `mcp__<server>__<tool>` split back (a redrawn history has only the name); undefined otherwise. */
export function mcpFromToolName(name: string): McpCallInfo | undefined {
  if (!name.startsWith('mcp__')) return undefined;
  const rest = name.slice('mcp__'.length);
  const cut = rest.indexOf('__');
  if (cut <= 0 || cut + 2 >= rest.length) return undefined;
  return { server: rest.slice(0, cut), tool: rest.slice(cut + 2) };
}

export interface ApprovalParams {
  sessionId: string;
  turnId: string;
  callId: string;
  kind: 'shell' | 'patch' | 'mcp' | string;
  /** An MCP tool call (`kind: "mcp"`). */
  tool?: McpCallInfo & { arguments?: string };
  command?: string[];
  patch?: string;
  changes?: FileChange[];
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
  /** The configured MCP servers, all "starting" at this point (when the server has MCP). */
  mcp?: McpServerStatus[];
}

const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

/** A notification from the wire is untrusted: only well-formed known events get through. */
export function isAgentEvent(value: unknown): value is AgentEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.type === 'string' &&
    KNOWN_EVENT_TYPES.has(v.type) &&
    typeof v.sessionId === 'string' &&
    typeof v.turnId === 'string'
  );
}
