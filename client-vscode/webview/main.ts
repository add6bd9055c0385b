/** The chat webview's entry point: receives state and actions, posts the person's intents. */

import type { FromWebview, ToWebview } from '../src/messages';
import { initialState, reduce, type ChatState } from '../src/state';
import { ChatView } from './render';
import './style.css';

interface VsCodeApi {
  postMessage(message: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (message: FromWebview): void => vscode.postMessage(message);

let state: ChatState = initialState();
const view = new ChatView(document, post);

function isToWebview(value: unknown): value is ToWebview {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { type?: unknown };
  return v.type === 'reset' || v.type === 'action';
}

window.addEventListener('message', (event: MessageEvent) => {
  const message: unknown = event.data;
  if (!isToWebview(message)) return;
  state = message.type === 'reset' ? message.state : reduce(state, message.action);
  view.schedule(state);
});

view.render(state);
post({ type: 'ready' });
