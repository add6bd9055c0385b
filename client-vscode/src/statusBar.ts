/** What the status bar item says for a chat state (plain data; extension.ts shows it). */

import type { ChatState } from './state';

export interface StatusBarView {
  text: string;
  tooltip: string;
  /** Command run on click. */
  command: string;
  /** Draw it as an error / warning. */
  tone?: 'error' | 'warning';
}

export function statusBarView(state: ChatState): StatusBarView {
  const { server } = state;
  const model = server.model ? `model ${server.model.name} at ${server.model.baseUrl}` : '';
  switch (server.status) {
    case 'starting':
      return { text: '$(sync~spin) agentls', tooltip: 'agentls: starting the server…', command: 'agentls.showLog' };
    case 'restarting':
      return {
        text: '$(sync~spin) agentls: restarting',
        tooltip: server.message ?? 'agentls: the server stopped and is being restarted',
        command: 'agentls.showLog',
        tone: 'warning',
      };
    case 'stopped':
    case 'failed':
      return {
        text: '$(error) agentls',
        tooltip: `agentls: ${server.message ?? 'the server is not running'} (click for the log)`,
        command: 'agentls.showLog',
        tone: 'error',
      };
    case 'running':
      break;
  }
  const session = state.title ? `session "${state.title}"` : 'new session';
  const details = [model, session].filter(Boolean).join(' · ');
  if (state.approvals.length > 0) {
    return {
      text: '$(bell-dot) agentls: approval needed',
      tooltip: `agentls: a command waits for your approval · ${details}`,
      command: 'agentls.openChat',
      tone: 'warning',
    };
  }
  if (state.running) {
    return {
      text: state.stopping ? '$(loading~spin) agentls: stopping' : '$(loading~spin) agentls: working',
      tooltip: `agentls: a turn is running (agentls: Interrupt stops it) · ${details}`,
      command: 'agentls.openChat',
    };
  }
  if (server.model && !server.model.configured) {
    return {
      text: '$(warning) agentls',
      tooltip: 'agentls: no model API configured (set OPENAI_API_KEY, or agentls.baseUrl)',
      command: 'agentls.openSettings',
      tone: 'warning',
    };
  }
  return { text: '$(comment-discussion) agentls', tooltip: `agentls: ready · ${details}`, command: 'agentls.openChat' };
}
