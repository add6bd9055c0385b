/** The typed messages between the extension and the chat webview (postMessage both ways). */

import type { Action, ChatState } from './state';

/** Extension -> webview. */
export type ToWebview =
  /** Replace the whole state (when the view is (re)created). */
  | { type: 'reset'; state: ChatState }
  /** Reduce one action into the webview's copy of the state. */
  | { type: 'action'; action: Action };

export type PanelDecision = 'approve' | 'approveForSession' | 'deny';

export type PanelCommand =
  | 'newSession'
  | 'resumeSession'
  | 'openSettings'
  | 'showLog'
  | 'restartServer';

import type { SteerMode } from './state';

export type { SteerMode };

/** Webview -> extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'stop' }
  | { type: 'approve'; id: string; decision: PanelDecision }
  | { type: 'command'; command: PanelCommand }
  /** Code block buttons. */
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string }
  /** Turn buttons. */
  | { type: 'retry'; turnId: string }
  | { type: 'undo'; turnId: string }
  | { type: 'fork'; turnId: string }
  | { type: 'openDiff'; callId: string; index: number }
  | { type: 'openTurnDiff'; turnId: string; path: string }
  | { type: 'loadEarlier' }
  | { type: 'steerMode'; mode: SteerMode }
  /** The composer's attachments. */
  | { type: 'addFile' }
  | { type: 'removeAttachment'; id: string }
  /** The session list inside the panel. */
  | { type: 'sessions'; open: boolean; query: string }
  | { type: 'openSession'; sessionId: string }
  | { type: 'renameSession'; sessionId: string; title: string }
  | { type: 'deleteSession'; sessionId: string };

const DECISIONS: ReadonlySet<string> = new Set(['approve', 'approveForSession', 'deny']);
const COMMANDS: ReadonlySet<string> = new Set([
  'newSession',
  'resumeSession',
  'openSettings',
  'showLog',
  'restartServer',
]);

const MAX_TEXT = 1_000_000;

function str(value: unknown, max = MAX_TEXT): value is string {
  return typeof value === 'string' && value.length <= max;
}

/** Messages from the webview are checked before use: the page is not trusted with more. */
export function parseFromWebview(value: unknown): FromWebview | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  switch (v.type) {
    case 'ready':
      return { type: 'ready' };
    case 'stop':
      return { type: 'stop' };
    case 'loadEarlier':
      return { type: 'loadEarlier' };
    case 'addFile':
      return { type: 'addFile' };
    case 'send':
      return str(v.text) ? { type: 'send', text: v.text } : undefined;
    case 'copy':
    case 'insert':
      return str(v.text) ? { type: v.type, text: v.text } : undefined;
    case 'retry':
    case 'undo':
    case 'fork':
      return str(v.turnId, 200) ? { type: v.type, turnId: v.turnId } : undefined;
    case 'openDiff':
      return str(v.callId, 200) && typeof v.index === 'number' && Number.isInteger(v.index) && v.index >= 0
        ? { type: 'openDiff', callId: v.callId, index: v.index }
        : undefined;
    case 'openTurnDiff':
      return str(v.turnId, 200) && str(v.path, 4096)
        ? { type: 'openTurnDiff', turnId: v.turnId, path: v.path }
        : undefined;
    case 'steerMode':
      return v.mode === 'steer' || v.mode === 'queue' ? { type: 'steerMode', mode: v.mode } : undefined;
    case 'removeAttachment':
      return str(v.id, 200) ? { type: 'removeAttachment', id: v.id } : undefined;
    case 'sessions':
      return typeof v.open === 'boolean' && str(v.query, 1000)
        ? { type: 'sessions', open: v.open, query: v.query }
        : undefined;
    case 'openSession':
    case 'deleteSession':
      return str(v.sessionId, 200) ? { type: v.type, sessionId: v.sessionId } : undefined;
    case 'renameSession':
      return str(v.sessionId, 200) && str(v.title, 1000)
        ? { type: 'renameSession', sessionId: v.sessionId, title: v.title }
        : undefined;
    case 'approve':
      return typeof v.id === 'string' && typeof v.decision === 'string' && DECISIONS.has(v.decision)
        ? { type: 'approve', id: v.id, decision: v.decision as PanelDecision }
        : undefined;
    case 'command':
      return typeof v.command === 'string' && COMMANDS.has(v.command)
        ? { type: 'command', command: v.command as PanelCommand }
        : undefined;
    default:
      return undefined;
  }
}
