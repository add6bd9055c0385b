import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CancellationTokenSource, ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import { ApprovalQueue, ApprovalWithdrawnError } from '../../src/approvals';
import { ChatController, describeError, type AgentConnection } from '../../src/controller';
import { parseFromWebview, type ToWebview } from '../../src/messages';
import type { ApprovalParams, SendResult } from '../../src/protocol';
import type { PendingApproval } from '../../src/state';

const S = '22222222-2222-4222-8222-222222222222';

interface Call {
  method: string;
  params: unknown;
  token: CancellationToken | undefined;
}

/** A connection whose answers the test scripts. */
function fakeConnection(answer: (call: Call) => Promise<unknown>): AgentConnection & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    sendRequest: async <R>(method: string, params: unknown, token?: CancellationToken): Promise<R> => {
      const call = { method, params, token };
      calls.push(call);
      return (await answer(call)) as R;
    },
  };
}

const approvalParams: ApprovalParams = {
  sessionId: S,
  turnId: 't1',
  callId: 'call-1',
  kind: 'shell',
  command: ['bash', '-lc', 'touch x'],
  cwd: '/work/project',
  reason: 'touch x',
};

describe('ApprovalQueue', () => {
  test('a question is shown, answered once, and resolves with the decision', async () => {
    const opened: PendingApproval[] = [];
    const closed: string[] = [];
    const queue = new ApprovalQueue({ opened: (a) => opened.push(a), closed: (id, how) => closed.push(`${id}:${how}`) });
    const answer = queue.ask(approvalParams);
    assert.equal(opened.length, 1);
    const shown = opened[0];
    assert.ok(shown);
    assert.equal(shown.command, 'touch x');
    assert.equal(shown.cwd, '/work/project');
    assert.equal(shown.reason, undefined, 'a reason equal to the command is not repeated');
    assert.equal(queue.answer(shown.id, 'approveForSession'), true);
    assert.equal(queue.answer(shown.id, 'deny'), false, 'answered once');
    assert.deepEqual(await answer, { decision: 'approveForSession' });
    assert.deepEqual(closed, [`${shown.id}:answered`]);
  });

  test('the server cancelling the request withdraws the question', async () => {
    const closed: string[] = [];
    const queue = new ApprovalQueue({ opened: () => undefined, closed: (_id, how) => closed.push(how) });
    const source = new CancellationTokenSource();
    const answer = queue.ask(approvalParams, source.token);
    assert.equal(queue.size, 1);
    source.cancel();
    await assert.rejects(answer, ApprovalWithdrawnError);
    assert.equal(queue.size, 0);
    assert.deepEqual(closed, ['withdrawn']);
    // an already cancelled request is never shown
    const late = new CancellationTokenSource();
    late.cancel();
    await assert.rejects(queue.ask(approvalParams, late.token), ApprovalWithdrawnError);
    assert.equal(queue.size, 0);
  });

  test('withdrawAll (connection lost) rejects every open question', async () => {
    const queue = new ApprovalQueue({ opened: () => undefined, closed: () => undefined });
    const a = queue.ask(approvalParams);
    const b = queue.ask({ ...approvalParams, callId: 'call-2', command: ['ls'] });
    queue.withdrawAll('server stopped');
    await assert.rejects(a, /server stopped/);
    await assert.rejects(b, /server stopped/);
  });
});

describe('ChatController', () => {
  test('send posts actions to the view and resolves with the result', async () => {
    const posted: ToWebview[] = [];
    const controller = new ChatController({ post: (m) => posted.push(m) });
    const connection = fakeConnection(async (call) => {
      assert.equal(call.method, 'agent/send');
      controller.handleEvent({ sessionId: S, turnId: 't', seq: 0, type: 'turnStarted', text: 'hi' });
      controller.handleEvent({ sessionId: S, turnId: 't', seq: 1, type: 'textDelta', itemId: 'm', delta: 'You said: hi' });
      controller.handleEvent({ sessionId: S, turnId: 't', seq: 2, type: 'turnCompleted', status: 'completed' });
      return { sessionId: S, turnId: 't', status: 'completed', finalMessage: 'You said: hi' } satisfies SendResult;
    });
    controller.setConnection(connection);
    controller.handleWebviewMessage({ type: 'ready' });
    assert.equal(posted[0]?.type, 'reset');
    const result = await controller.send('hi');
    assert.equal(result?.status, 'completed');
    assert.deepEqual(connection.calls[0]?.params, { text: 'hi' }, 'no session yet: the server picks one');
    assert.ok(connection.calls[0]?.token, 'every send carries a cancellation token');
    const types = posted.slice(1).map((m) => (m.type === 'action' ? m.action.type : m.type));
    assert.deepEqual(types, ['userSent', 'event', 'event', 'event', 'sendResult']);
    assert.equal(controller.state.sessionId, S);
    await controller.send('again');
    assert.deepEqual(connection.calls[1]?.params, { text: 'again', sessionId: S }, 'later sends name the session');
  });

  test('Stop cancels the token of the open agent/send; the answer marks the turn interrupted', async () => {
    const controller = new ChatController();
    let token: CancellationToken | undefined;
    const connection = fakeConnection(
      (call) =>
        new Promise((resolve) => {
          token = call.token;
          call.token?.onCancellationRequested(() =>
            resolve({ sessionId: S, turnId: 't', status: 'interrupted', finalMessage: 'tick ' }),
          );
        }),
    );
    controller.setConnection(connection);
    const pending = controller.send('slow: 0.05');
    assert.equal(controller.state.running, true);
    assert.equal(controller.stop(), true);
    assert.equal(token?.isCancellationRequested, true);
    assert.equal(controller.state.stopping, true);
    const result = await pending;
    assert.equal(result?.status, 'interrupted');
    assert.equal(controller.state.running, false);
    const end = controller.state.entries.at(-1);
    assert.equal(end?.kind === 'turnEnd' && end.status, 'interrupted');
    assert.equal(controller.stop(), false, 'nothing to stop now');
  });

  test('a second send while one runs is refused in the panel; errors are worded', async () => {
    const controller = new ChatController();
    let release: (value: unknown) => void = () => undefined;
    controller.setConnection(
      fakeConnection((call) =>
        call.method === 'agent/send' && (call.params as { text: string }).text === 'first'
          ? new Promise((resolve) => (release = resolve))
          : Promise.reject(new ResponseError(-33002, 'a turn is already running in session x')),
      ),
    );
    const first = controller.send('first');
    assert.equal(await controller.send('second'), undefined);
    assert.match(JSON.stringify(controller.state.entries.at(-1)), /stop it before sending/);
    assert.equal(await controller.newSession(), undefined, 'no new session mid-turn');
    release({ sessionId: S, turnId: 't', status: 'completed' });
    await first;
    await controller.send('third');
    const notice = controller.state.entries.at(-1);
    assert.equal(notice?.kind, 'notice');
    assert.match(notice?.kind === 'notice' ? notice.text : '', /already running/);
    assert.equal(controller.state.running, false);
  });

  test('without a server the panel says what to do', async () => {
    const controller = new ChatController();
    assert.equal(await controller.send('hi'), undefined);
    const notice = controller.state.entries.at(-1);
    assert.match(notice?.kind === 'notice' ? notice.text : '', /not running/);
    assert.equal(controller.state.entries.filter((e) => e.kind === 'user').length, 0);
  });

  test('resume: quiet when the workspace has no session; loud otherwise', async () => {
    const controller = new ChatController();
    controller.setConnection(fakeConnection(async () => Promise.reject(new ResponseError(-33001, 'no sessions yet'))));
    assert.equal(await controller.resume(undefined, { quiet: true }), undefined);
    assert.equal(controller.state.entries.length, 0);
    await controller.resume('33333333-3333-4333-8333-333333333333');
    assert.match(JSON.stringify(controller.state.entries), /not found/);

    const locked = new ChatController();
    locked.setConnection(fakeConnection(async () => Promise.reject(new ResponseError(-33003, 'locked'))));
    await locked.resume(undefined, { quiet: true });
    assert.match(JSON.stringify(locked.state.entries), /open in another window/);
  });

  test('resume waits for a lock that the previous window\'s server is about to release', async () => {
    const controller = new ChatController();
    let attempts = 0;
    controller.setConnection(
      fakeConnection(async () => {
        attempts++;
        if (attempts < 3) throw new ResponseError(-33003, 'locked by another server');
        return { sessionId: S, title: 't', createdAt: '', updatedAt: '', history: [{ role: 'user', text: 'kept' }], warnings: [] };
      }),
    );
    const result = await controller.resume(undefined, { quiet: true, waitForLockMs: 2000 });
    assert.equal(result?.sessionId, S);
    assert.equal(attempts, 3);
    assert.equal(controller.state.entries[0]?.kind === 'user' && controller.state.entries[0].text, 'kept');
  });

  test('newSession clears the panel; listSessions follows nextCursor', async () => {
    const controller = new ChatController();
    const connection = fakeConnection(async (call) => {
      if (call.method === 'agent/newSession') return { sessionId: S };
      if (call.method === 'agent/listSessions') {
        const cursor = (call.params as { cursor?: string }).cursor;
        const session = (id: string) => ({ sessionId: id, title: id, createdAt: '', updatedAt: '', turns: 1 });
        return cursor ? { sessions: [session('b')] } : { sessions: [session('a')], nextCursor: 'next' };
      }
      throw new Error(call.method);
    });
    controller.setConnection(connection);
    controller.dispatch({ type: 'notice', level: 'info', text: 'old' });
    assert.equal(await controller.newSession(), S);
    assert.deepEqual(controller.state.entries, []);
    const sessions = await controller.listSessions();
    assert.deepEqual(sessions.map((s) => s.sessionId), ['a', 'b']);
    assert.equal(connection.calls.filter((c) => c.method === 'agent/listSessions').length, 2);
  });

  test('approval requests: answered from the panel, withdrawn as RequestCancelled', async () => {
    const opened: string[] = [];
    const controller = new ChatController({ onApprovalOpened: (a) => opened.push(a.command) });
    const answer = controller.handleApprovalRequest(approvalParams);
    assert.deepEqual(opened, ['touch x']);
    const shown = controller.state.approvals[0];
    assert.ok(shown);
    controller.handleWebviewMessage({ type: 'approve', id: shown.id, decision: 'approve' });
    assert.deepEqual(await answer, { decision: 'approve' });
    assert.equal(controller.state.approvals.length, 0);

    const source = new CancellationTokenSource();
    const withdrawn = controller.handleApprovalRequest(approvalParams, source.token);
    assert.equal(controller.state.approvals.length, 1);
    source.cancel();
    await assert.rejects(withdrawn, (error: unknown) => error instanceof ResponseError && error.code === -32800);
    assert.equal(controller.state.approvals.length, 0, 'withdrawn from the panel');

    const lost = controller.handleApprovalRequest(approvalParams);
    controller.connectionLost('the server stopped');
    await assert.rejects(lost);
    assert.equal(controller.state.approvals.length, 0);
  });

  test('panel messages are validated; commands are passed on', () => {
    const commands: string[] = [];
    const controller = new ChatController({ onCommand: (c) => commands.push(c) });
    controller.handleWebviewMessage({ type: 'command', command: 'resumeSession' });
    controller.handleWebviewMessage({ type: 'command', command: 'rm -rf' });
    controller.handleWebviewMessage({ type: 'approve', id: 'x', decision: 'abort-everything' });
    controller.handleWebviewMessage('garbage');
    assert.deepEqual(commands, ['resumeSession']);
    assert.equal(parseFromWebview({ type: 'send', text: 5 }), undefined);
    assert.deepEqual(parseFromWebview({ type: 'send', text: 'hi', extra: 1 }), { type: 'send', text: 'hi' });
  });

  test('malformed events are ignored', () => {
    const controller = new ChatController();
    const before = controller.state;
    controller.handleEvent({ type: 'textDelta' });
    controller.handleEvent(null);
    controller.handleEvent({ sessionId: S, turnId: 't', seq: 0, type: 'somethingNew' });
    assert.equal(controller.state, before);
  });

  test('describeError words connection loss and known codes', () => {
    assert.match(describeError(new ResponseError(-32097, 'Pending response rejected since connection got disposed')), /connection to the agentls server was lost/);
    assert.match(describeError(new ResponseError(-33003, 'locked')), /another agentls server/);
    assert.equal(describeError(new Error('plain')), 'plain');
  });
});
