/**
 * The protocol through the real client library (vscode-jsonrpc) against the real
 * `agentls serve` and the fake model API; the ChatController is driven over the same
 * connection, so its reducer sees real event streams.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CancellationTokenSource, type CancellationToken } from 'vscode-jsonrpc/node';
import { ChatController, type AgentConnection } from '../../src/controller';
import type { AgentEvent, ResumeResult, SendResult } from '../../src/protocol';
import {
  makeSandbox,
  startFakeApi,
  startServer,
  venvReady,
  type FakeApi,
  type Sandbox,
  type Server,
} from './harness';

function controllerOn(server: Server): ChatController {
  const controller = new ChatController();
  const connection: AgentConnection = {
    // an `undefined` token would be sent as a second parameter: pass it only when there is one
    sendRequest: <R>(method: string, params: unknown, token?: CancellationToken) =>
      token
        ? server.connection.sendRequest<R>(method, params, token)
        : server.connection.sendRequest<R>(method, params),
  };
  controller.setConnection(connection);
  controller.setServer({ status: 'running' });
  server.eventListeners.add((event) => controller.handleEvent(event));
  server.onApproval = (params, token) => controller.handleApprovalRequest(params, token);
  return controller;
}

function turnEvents(server: Server, turnId: string): AgentEvent[] {
  return server.events.filter((e) => e.turnId === turnId);
}

function assertSeqs(events: AgentEvent[]): void {
  events.forEach((event, index) => assert.equal(event.seq, index, `seq of ${event.type}`));
  assert.equal(events[0]?.type, 'turnStarted');
  assert.equal(events[events.length - 1]?.type, 'turnCompleted');
}

describe('protocol against the real agentls serve', () => {
  let api: FakeApi;
  let sandbox: Sandbox;

  before(async () => {
    const missing = venvReady();
    if (missing) throw new Error(missing);
    api = await startFakeApi();
    sandbox = makeSandbox();
  });

  after(async () => {
    await api?.stop();
    sandbox?.cleanup();
  });

  test('initialize with approvals, send, streamed events and the result; cancel; send again', async () => {
    const server = await startServer({
      sandbox,
      baseUrl: api.baseUrl,
      initializationOptions: { approvals: true },
      configuration: { model: 'gpt-test-model' },
    });
    try {
      const capabilities = server.initializeResult.capabilities as {
        experimental?: { agent?: { version: number; methods: string[]; model: { configured: boolean } } };
      };
      const agent = capabilities.experimental?.agent;
      assert.equal(agent?.version, 1);
      assert.ok(agent?.methods.includes('agent/send'));
      assert.equal(agent?.model.configured, true);
      // settings are pulled from workspace/configuration (section agentls) after initialized
      const pulled = await server.waitFor(() => server.configurationRequests[0], 10_000, 'workspace/configuration');
      assert.deepEqual((pulled as { items: { section: string }[] }).items[0]?.section, 'agentls');

      // a plain send through the raw connection
      const result = await server.connection.sendRequest<SendResult>('agent/send', { text: 'hello there' });
      assert.equal(result.status, 'completed');
      assert.equal(result.finalMessage, 'You said: hello there');
      const events = turnEvents(server, result.turnId);
      assertSeqs(events);
      const streamed = events
        .filter((e): e is Extract<AgentEvent, { type: 'textDelta' }> => e.type === 'textDelta')
        .map((e) => e.delta)
        .join('');
      assert.equal(streamed, 'You said: hello there');
      assert.ok(events.length >= 4, 'turnStarted, deltas, messageCompleted, turnCompleted');
      const completed = events[events.length - 1] as Extract<AgentEvent, { type: 'turnCompleted' }>;
      assert.equal(completed.status, 'completed');
      assert.ok(completed.usage, 'usage is reported');

      // Stop: cancel the open agent/send through a CancellationTokenSource
      const source = new CancellationTokenSource();
      const before = server.events.length;
      const slow = server.connection.sendRequest<SendResult>('agent/send', { text: 'slow: 0.05' }, source.token);
      await server.waitFor(
        () => server.events.slice(before).find((e) => e.type === 'textDelta'),
        20_000,
        'the first textDelta',
      );
      source.cancel();
      const interrupted = await slow;
      assert.equal(interrupted.status, 'interrupted');
      assert.match(interrupted.finalMessage ?? '', /^tick/);
      const cancels = server.sent.filter((m) => (m as { method?: string }).method === '$/cancelRequest');
      assert.equal(cancels.length, 1, 'the library sent $/cancelRequest');
      const last = turnEvents(server, interrupted.turnId).at(-1) as Extract<AgentEvent, { type: 'turnCompleted' }>;
      assert.equal(last.type, 'turnCompleted');
      assert.equal(last.status, 'interrupted');

      // the next send is accepted at once
      const again = await server.connection.sendRequest<SendResult>('agent/send', { text: 'still there?' });
      assert.equal(again.status, 'completed');
      assert.equal(again.finalMessage, 'You said: still there?');
      assert.equal(again.sessionId, result.sessionId);
    } finally {
      await server.close();
    }
  });

  test('the ChatController: send, Stop (cancel), interrupt command, and its view model', async () => {
    const server = await startServer({ sandbox, baseUrl: api.baseUrl });
    const controller = controllerOn(server);
    try {
      // the first server's session is the workspace's latest: resume it
      const resumed = await controller.resume(undefined, { quiet: true });
      assert.ok(resumed, 'the previous session resumes');
      const texts = controller.state.entries.map((e) => ('text' in e ? e.text : e.kind));
      assert.ok(texts.includes('hello there'));
      assert.ok(texts.includes('You said: hello there'));

      const result = await controller.send('how are you');
      assert.equal(result?.status, 'completed');
      const tail = controller.state.entries.slice(-3);
      assert.deepEqual(
        tail.map((e) => e.kind),
        ['user', 'assistant', 'turnEnd'],
      );
      assert.equal(tail[1]?.kind === 'assistant' && tail[1].text, 'You said: how are you');
      assert.equal(tail[2]?.kind === 'turnEnd' && tail[2].status, 'completed');
      assert.ok(tail[2]?.kind === 'turnEnd' && tail[2].usage, 'usage per turn');
      assert.equal(controller.state.running, false);

      // Stop from the panel
      const before = server.events.length;
      const pending = controller.send('slow: 0.05');
      await server.waitFor(
        () => server.events.slice(before).find((e) => e.type === 'textDelta'),
        20_000,
        'a textDelta',
      );
      assert.equal(controller.state.running, true);
      assert.equal(controller.stop(), true);
      assert.equal(controller.state.stopping, true);
      const stopped = await pending;
      assert.equal(stopped?.status, 'interrupted');
      const end = controller.state.entries.at(-1);
      assert.equal(end?.kind === 'turnEnd' && end.status, 'interrupted');
      assert.equal(controller.state.running, false);

      // the Interrupt command (agent/interrupt) answers after the turn ended
      const before2 = server.events.length;
      const pending2 = controller.send('slow: 0.05');
      await server.waitFor(
        () => server.events.slice(before2).find((e) => e.type === 'textDelta'),
        20_000,
        'a textDelta',
      );
      const interrupt = await controller.interrupt();
      assert.equal(interrupt?.interrupted, true);
      assert.equal((await pending2)?.status, 'interrupted');
      const nothing = await controller.interrupt();
      assert.equal(nothing?.interrupted, false);
    } finally {
      await server.close();
    }
  });

  test('resume in a second server process: the history comes back and is redrawn', async () => {
    const server = await startServer({ sandbox, baseUrl: api.baseUrl });
    const controller = controllerOn(server);
    try {
      const resumed = await server.connection.sendRequest<ResumeResult>('agent/resume', {});
      const lines = resumed.history.map((h) => `${h.role}:${h.text}`);
      for (const expected of [
        'user:hello there',
        'assistant:You said: hello there',
        'user:still there?',
        'user:how are you',
        'assistant:You said: how are you',
      ]) {
        assert.ok(lines.includes(expected), `history has ${expected}`);
      }
      // the interrupted turns kept their partial answers
      assert.ok(resumed.history.some((h) => h.role === 'assistant' && (h.text ?? '').startsWith('tick')));
      const list = await server.connection.sendRequest<{ sessions: { sessionId: string; turns: number }[] }>(
        'agent/listSessions',
        {},
      );
      assert.ok(list.sessions.some((s) => s.sessionId === resumed.sessionId));

      // the panel's redraw of the same history
      await controller.resume(resumed.sessionId);
      assert.equal(controller.state.sessionId, resumed.sessionId);
      assert.equal(controller.state.title, resumed.title);
      const drawn = controller.state.entries
        .filter((e) => e.kind === 'user' || e.kind === 'assistant')
        .map((e) => `${e.kind}:${'text' in e ? e.text : ''}`);
      assert.deepEqual(
        drawn,
        resumed.history.filter((h) => h.role !== 'tool').map((h) => `${h.role}:${h.text}`),
      );
    } finally {
      await server.close();
    }
  });

  test('approvals answered in the client; a pending one is withdrawn when the turn stops', async () => {
    const approvalSandbox = makeSandbox();
    const server = await startServer({
      sandbox: approvalSandbox,
      baseUrl: api.baseUrl,
      initializationOptions: { approvals: true, approval: 'always-ask' },
    });
    const controller = controllerOn(server);
    try {
      // approve from the (simulated) panel as soon as the question shows
      const unsubscribe = controller.onDidChange((state) => {
        const approval = state.approvals[0];
        if (approval && approval.command === 'touch x') {
          controller.handleWebviewMessage({ type: 'approve', id: approval.id, decision: 'approve' });
        }
      });
      const result = await controller.send('run: touch x');
      unsubscribe.dispose();
      assert.equal(result?.status, 'completed');
      assert.ok(fs.existsSync(path.join(approvalSandbox.workspace, 'x')), 'the approved command ran');
      const tool = controller.state.entries.find((e) => e.kind === 'tool');
      assert.ok(tool && tool.kind === 'tool');
      assert.equal(tool.command, 'touch x');
      assert.equal(tool.status, 'completed');
      assert.equal(tool.exitCode, 0);
      const completedEvent = server.events.find((e) => e.type === 'toolCallCompleted');
      assert.equal(completedEvent?.type === 'toolCallCompleted' && completedEvent.status, 'completed');

      // deny
      const denied = await (async () => {
        const sub = controller.onDidChange((state) => {
          const approval = state.approvals[0];
          if (approval) controller.handleWebviewMessage({ type: 'approve', id: approval.id, decision: 'deny' });
        });
        try {
          return await controller.send('run: touch denied-file');
        } finally {
          sub.dispose();
        }
      })();
      assert.equal(denied?.status, 'completed');
      assert.equal(fs.existsSync(path.join(approvalSandbox.workspace, 'denied-file')), false);
      const deniedTool = controller.state.entries.filter((e) => e.kind === 'tool').at(-1);
      assert.equal(deniedTool?.kind === 'tool' && deniedTool.status, 'denied');

      // leave the question open and press Stop: the server cancels it, the panel drops it
      const pending = controller.send('run: touch y');
      await server.waitFor(() => controller.state.approvals[0], 20_000, 'the approval question');
      assert.equal(controller.approvals.size, 1);
      controller.stop();
      const stopped = await pending;
      assert.equal(stopped?.status, 'interrupted');
      await server.waitFor(() => controller.approvals.size === 0 || undefined, 10_000, 'the withdrawal');
      assert.equal(controller.state.approvals.length, 0);
      const abortedTool = controller.state.entries.filter((e) => e.kind === 'tool').at(-1);
      assert.equal(abortedTool?.kind === 'tool' && abortedTool.status, 'aborted');
      assert.equal(fs.existsSync(path.join(approvalSandbox.workspace, 'y')), false);
    } finally {
      await server.close();
      approvalSandbox.cleanup();
    }
  });

  test('a window reload mid-turn: the next server resumes what was on disk', async () => {
    const reload = makeSandbox();
    const first = await startServer({ sandbox: reload, baseUrl: api.baseUrl });
    const second = { server: undefined as Server | undefined };
    try {
      const before = first.events.length;
      void first.connection.sendRequest('agent/send', { text: 'slow: 0.05' }).catch(() => undefined);
      await first.waitFor(
        () => first.events.slice(before).filter((e) => e.type === 'textDelta').length >= 3 || undefined,
        20_000,
        'a few deltas',
      );
      // the extension host goes away: its pipes close, no shutdown request
      first.child.stdin?.end();
      first.connection.dispose();
      // the new window starts its server at once, while the old one may still be writing
      second.server = await startServer({ sandbox: reload, baseUrl: api.baseUrl });
      const controller = controllerOn(second.server);
      const resumed = await controller.resume(undefined, { quiet: true, waitForLockMs: 10_000 });
      assert.ok(resumed, 'the session comes back');
      const user = controller.state.entries.find((e) => e.kind === 'user');
      assert.equal(user?.kind === 'user' && user.text, 'slow: 0.05');
      const partial = controller.state.entries.find((e) => e.kind === 'assistant');
      assert.match(partial?.kind === 'assistant' ? partial.text : '', /^(tick )+/, 'the partial answer was kept');
      // and the conversation goes on
      const next = await controller.send('go on');
      assert.equal(next?.status, 'completed');
    } finally {
      await first.close();
      await second.server?.close();
      reload.cleanup();
    }
  });

  test('agent/sessionsChanged reaches a client when another server adds a session', async () => {
    const shared = makeSandbox();
    const first = await startServer({ sandbox: shared, baseUrl: api.baseUrl });
    const second = await startServer({ sandbox: shared, baseUrl: api.baseUrl });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // the watcher starts after `initialized`
      const result = await second.connection.sendRequest<SendResult>('agent/send', { text: 'from elsewhere' });
      assert.equal(result.status, 'completed');
      await first.waitFor(() => first.sessionsChanged > 0 || undefined, 10_000, 'agent/sessionsChanged');
      // the session is locked by the second server: resuming it here is refused clearly
      const controller = controllerOn(first);
      await controller.resume(result.sessionId);
      const notice = controller.state.entries.at(-1);
      assert.equal(notice?.kind, 'notice');
      assert.match(notice?.kind === 'notice' ? notice.text : '', /open in another agentls server/);
    } finally {
      await Promise.all([first.close(), second.close()]);
      shared.cleanup();
    }
  });
});
