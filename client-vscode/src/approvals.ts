/**
 * Open `agent/requestApproval` questions, waiting for the person's answer in the panel.
 *
 * Each question is answered once: by a button in the panel, or withdrawn when the server
 * cancels the request (its CancellationToken fires) or the connection goes away.
 */

import { describeArgv } from './describe';
import { mcpArguments } from './state';
import type { ApprovalParams, ApprovalResult, Decision } from './protocol';
import type { PendingApproval } from './state';

/** The subset of a CancellationToken the queue needs (vscode's and vscode-jsonrpc's fit). */
export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export class ApprovalWithdrawnError extends Error {
  constructor(reason: string) {
    super(`approval withdrawn: ${reason}`);
    this.name = 'ApprovalWithdrawnError';
  }
}

export interface ApprovalListener {
  opened(approval: PendingApproval): void;
  closed(id: string, how: 'answered' | 'withdrawn'): void;
}

interface Open {
  approval: PendingApproval;
  resolve(result: ApprovalResult): void;
  reject(error: Error): void;
  subscription?: { dispose(): void };
}

export const PANEL_DECISIONS: readonly Decision[] = ['approve', 'approveForSession', 'deny'];

export function approvalFromParams(id: string, params: ApprovalParams): PendingApproval {
  const changes = Array.isArray(params.changes)
    ? params.changes.filter(
        (c): c is NonNullable<ApprovalParams['changes']>[number] =>
          typeof c === 'object' && c !== null && typeof c.path === 'string' && typeof c.diff === 'string',
      )
    : [];
  const tool = params.kind === 'mcp' && typeof params.tool === 'object' && params.tool !== null ? params.tool : undefined;
  const command =
    Array.isArray(params.command) && params.command.length > 0
      ? describeArgv(params.command.map(String))
      : tool && typeof tool.server === 'string' && typeof tool.tool === 'string'
        ? `${tool.server} › ${tool.tool}${typeof tool.arguments === 'string' && mcpArguments(tool.arguments) ? ` ${mcpArguments(tool.arguments)}` : ''}`
        : params.kind === 'patch'
        ? `apply_patch: ${changes.map((c) => c.path).join(', ') || 'a patch'}`
        : (params.reason ?? '(no command given)');
  const approval: PendingApproval = {
    id,
    sessionId: String(params.sessionId ?? ''),
    turnId: String(params.turnId ?? ''),
    callId: String(params.callId ?? ''),
    command,
    cwd: String(params.cwd ?? ''),
  };
  if (params.reason && params.reason !== command) approval.reason = params.reason;
  if (typeof params.kind === 'string') approval.kind = params.kind;
  if (changes.length > 0) approval.changes = changes;
  return approval;
}

export class ApprovalQueue {
  private counter = 0;
  private readonly open = new Map<string, Open>();

  constructor(private readonly listener: ApprovalListener) {}

  get size(): number {
    return this.open.size;
  }

  pending(): PendingApproval[] {
    return [...this.open.values()].map((entry) => entry.approval);
  }

  /** Ask; resolves with the decision, rejects with ApprovalWithdrawnError when withdrawn. */
  ask(params: ApprovalParams, token?: CancellationLike): Promise<ApprovalResult> {
    const id = `approval-${++this.counter}`;
    const approval = approvalFromParams(id, params);
    return new Promise<ApprovalResult>((resolve, reject) => {
      if (token?.isCancellationRequested) {
        reject(new ApprovalWithdrawnError('cancelled before it was shown'));
        return;
      }
      const entry: Open = { approval, resolve, reject };
      this.open.set(id, entry);
      if (token) {
        entry.subscription = token.onCancellationRequested(() =>
          this.withdraw(id, 'the server cancelled the request'),
        );
      }
      this.listener.opened(approval);
    });
  }

  /** The person's answer; false when the question is no longer open. */
  answer(id: string, decision: Decision): boolean {
    const entry = this.open.get(id);
    if (!entry) return false;
    this.open.delete(id);
    entry.subscription?.dispose();
    this.listener.closed(id, 'answered');
    entry.resolve({ decision });
    return true;
  }

  withdraw(id: string, reason: string): boolean {
    const entry = this.open.get(id);
    if (!entry) return false;
    this.open.delete(id);
    entry.subscription?.dispose();
    this.listener.closed(id, 'withdrawn');
    entry.reject(new ApprovalWithdrawnError(reason));
    return true;
  }

  withdrawAll(reason: string): void {
    for (const id of [...this.open.keys()]) this.withdraw(id, reason);
  }
}
