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

/** Webview -> extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'stop' }
  | { type: 'approve'; id: string; decision: PanelDecision }
  | { type: 'command'; command: PanelCommand };

const DECISIONS: ReadonlySet<string> = new Set(['approve', 'approveForSession', 'deny']);
const COMMANDS: ReadonlySet<string> = new Set([
  'newSession',
  'resumeSession',
  'openSettings',
  'showLog',
  'restartServer',
]);

/** Messages from the webview are checked before use: the page is not trusted with more. */
export function parseFromWebview(value: unknown): FromWebview | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  switch (v.type) {
    case 'ready':
      return { type: 'ready' };
    case 'stop':
      return { type: 'stop' };
    case 'send':
      return typeof v.text === 'string' ? { type: 'send', text: v.text } : undefined;
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
