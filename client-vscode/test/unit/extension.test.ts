/**
 * extension.ts against the `vscode` mock and a fake language client: what VS Code would see
 * (commands, view, status bar, messages) and what the server would receive.
 */

import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import { activate, deactivate } from '../../src/extension';
import type { ToWebview } from '../../src/messages';
import type { ResumeResult, SendResult, SessionSummary } from '../../src/protocol';
import { CloseAction, fake, type LanguageClient } from '../mock/languageclient';
import { FakeQuickPick, Uri, commands, mock } from '../mock/vscode';

const S = '44444444-4444-4444-8444-444444444444';
const S2 = '55555555-5555-4555-8555-555555555555';

type Api = ReturnType<typeof activate>;

function makeContext() {
  return {
    subscriptions: [] as { dispose(): unknown }[],
    extensionUri: Uri.file('/ext'),
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Sends wait for the server to apply the pulled settings (server.ts, CONFIGURATION_GRACE_MS). */
async function settleSend(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  await settle();
}

const history: ResumeResult = {
  sessionId: S,
  title: 'earlier work',
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  warnings: [],
  history: [
    { role: 'user', text: 'what is here?' },
    { role: 'assistant', text: 'Some files.' },
  ],
};

interface Server {
  handlers: Record<string, (params: unknown, token?: CancellationToken) => Promise<unknown>>;
}

function playServer(): Server {
  const server: Server = {
    handlers: {
      'agent/resume': async () => history,
      'agent/newSession': async () => ({ sessionId: S2 }),
      'agent/interrupt': async () => ({ interrupted: false }),
      'agent/listSessions': async () => ({ sessions: [] }),
    },
  };
  fake.handle = async (method, params, token) => {
    const handler = server.handlers[method];
    if (!handler) throw new ResponseError(-32601, `unhandled ${method}`);
    return handler(params, token);
  };
  return server;
}

async function start(): Promise<{ api: Api; client: LanguageClient }> {
  const api = activate(makeContext() as never);
  await settle();
  return { api, client: fake.last };
}

function actions(posted: unknown[]): string[] {
  return (posted as ToWebview[]).map((m) => (m.type === 'action' ? m.action.type : m.type));
}

beforeEach(async () => {
  await deactivate();
  mock.reset();
  fake.reset();
  mock.workspaceFolders = [{ uri: Uri.file('/work/project'), name: 'project', index: 0 }];
  mock.config = { 'server.command': ['/bin/sh', '-c', 'exit 0'], model: 'gpt-test', approval: 'always-ask', apiKey: 'sk-never' };
});

describe('activation', () => {
  test('registers the view, commands and status bar; starts the client with our settings', async () => {
    playServer();
    const { api, client } = await start();
    for (const command of [
      'agentls.openChat',
      'agentls.newSession',
      'agentls.resumeSession',
      'agentls.interrupt',
      'agentls.restartServer',
      'agentls.showLog',
      'agentls.openSettings',
    ]) {
      assert.ok(mock.commands.has(command), command);
    }
    assert.ok(mock.providers.has('agentls.chat'));
    const options = client.clientOptions;
    assert.deepEqual(options.initializationOptions(), { approvals: true, model: 'gpt-test', approval: 'always-ask' });
    // the answer is the workspace's to the server: only what a workspace may choose
    assert.deepEqual(options.middleware.workspace.configuration({ items: [{ section: 'agentls' }, { section: 'other' }] }), [
      { model: 'gpt-test' },
      null,
    ]);
    assert.equal(options.workspaceFolder.uri.fsPath, '/work/project');
    assert.equal(JSON.stringify(options.initializationOptions()).includes('sk-never'), false, 'no API key in settings');
    // the library's own pop-ups are silenced: ours carry the fix
    client.error('boom', undefined, 'force');
    assert.deepEqual(client.errors.at(-1), { message: 'boom', show: false });

    // once running: the last session is resumed and drawn
    assert.deepEqual(client.sent[0], { method: 'agent/resume', params: {}, token: undefined });
    assert.equal(api.controller.state.title, 'earlier work');
    assert.equal(api.controller.state.server.status, 'running');
    assert.equal(api.controller.state.server.model?.name, 'gpt-test');
    const item = mock.statusItems[0];
    assert.equal(item?.text, '$(comment-discussion) agentls');
    assert.equal(item?.visible, true);
    assert.match(mock.logLines.join('\n'), /starting \/bin\/sh -c "exit 0" \(from agentls\.server\.command\)/);
  });

  test("a workspace's settings choose no program, no base URL and no approval", async () => {
    // what a cloned repository's .vscode/settings.json (and a folder's) would say
    mock.workspaceConfig = {
      'server.command': ['/bin/echo', 'from-the-workspace'],
      'server.pythonPath': '/usr/bin/python3',
      baseUrl: 'http://127.0.0.1:9/v1',
      approval: 'never-ask',
      model: 'gpt-workspace',
    };
    mock.folderConfig = { 'server.command': ['/bin/echo', 'from-the-folder'], approval: 'never-ask' };
    playServer();
    const { client } = await start();
    const log = mock.logLines.join('\n');
    assert.match(log, /starting \/bin\/sh -c "exit 0" \(from agentls\.server\.command\)/);
    assert.equal(log.includes('/bin/echo'), false, 'the workspace chose the program');
    const init = client.clientOptions.initializationOptions();
    assert.deepEqual(init, { approvals: true, model: 'gpt-workspace', approval: 'always-ask' });
    assert.deepEqual(fake.configurationAnswers, [[{ model: 'gpt-workspace' }]]);
  });

  test("without the user's own server command, the workspace's is not used either", async () => {
    delete mock.config['server.command'];
    mock.workspaceConfig = { 'server.command': ['/bin/sh', '-c', 'exit 0'], 'server.pythonPath': '/bin/sh' };
    playServer();
    activate(makeContext() as never);
    await settle();
    // agentls is looked for on PATH and in ~/.local/bin (found or not): never the workspace's choice
    const said = [...mock.logLines, ...mock.errors.map((e) => e.message)].join('\n');
    assert.equal(said.includes('/bin/sh'), false, said);
  });

  test('resumeOnStart=false: nothing is resumed', async () => {
    mock.config.resumeOnStart = false;
    playServer();
    const { client } = await start();
    assert.equal(client.sent.length, 0);
  });

  test('no folder open: nothing is resumed, the server still starts', async () => {
    mock.workspaceFolders = undefined;
    playServer();
    const { client, api } = await start();
    assert.equal(client.sent.length, 0);
    assert.equal(api.controller.state.server.status, 'running');
  });
});

describe('the chat panel', () => {
  test('HTML with CSP; ready → reset; send carries a token; Stop cancels it; interrupted shows', async () => {
    const server = playServer();
    let sendToken: CancellationToken | undefined;
    server.handlers['agent/send'] = (params, token) =>
      new Promise<SendResult>((resolve) => {
        sendToken = token;
        assert.deepEqual(params, { text: 'hello', sessionId: S });
        token?.onCancellationRequested(() =>
          resolve({ sessionId: S, turnId: 't', status: 'interrupted', finalMessage: 'par' }),
        );
      });
    const { api, client } = await start();
    const view = mock.openView();
    assert.match(view.webview.html, /Content-Security-Policy/);
    assert.match(view.webview.html, /\/webview\/ext\/dist\/webview\.js/);
    view.webview.receive({ type: 'ready' });
    assert.deepEqual(actions(view.webview.posted), ['reset']);

    view.webview.receive({ type: 'send', text: 'hello' });
    await settleSend();
    assert.equal(client.sent.at(-1)?.method, 'agent/send');
    assert.ok(sendToken, 'sent with a CancellationToken');
    assert.equal(mock.context.get('agentls.turnRunning'), true);
    assert.match(mock.statusItems[0]?.text ?? '', /working/);

    view.webview.receive({ type: 'stop' });
    assert.equal(sendToken?.isCancellationRequested, true, 'Stop cancels the request (the client sends $/cancelRequest)');
    await settle();
    assert.deepEqual(actions(view.webview.posted).slice(-3), ['userSent', 'stopRequested', 'sendResult']);
    const end = api.controller.state.entries.at(-1);
    assert.equal(end?.kind === 'turnEnd' && end.status, 'interrupted');
    assert.equal(mock.context.get('agentls.turnRunning'), false);
  });

  test('agent/event notifications reach the panel', async () => {
    playServer();
    const { api, client } = await start();
    const view = mock.openView();
    client.notify('agent/event', { sessionId: S, turnId: 't', seq: 0, type: 'turnStarted', text: 'from elsewhere' });
    client.notify('agent/event', { sessionId: S, turnId: 't', seq: 1, type: 'textDelta', itemId: 'm', delta: 'streamed' });
    assert.deepEqual(actions(view.webview.posted), ['event', 'event']);
    const last = api.controller.state.entries.at(-1);
    assert.equal(last?.kind === 'assistant' && last.text, 'streamed');
  });

  test('"agentls: Interrupt" calls agent/interrupt for the shown session', async () => {
    const server = playServer();
    server.handlers['agent/interrupt'] = async (params) => {
      assert.deepEqual(params, { sessionId: S });
      return { interrupted: false };
    };
    const { client } = await start();
    await commands.executeCommand('agentls.interrupt');
    assert.equal(client.sent.at(-1)?.method, 'agent/interrupt');
    assert.deepEqual(mock.statusMessages, ['agentls: nothing to interrupt']);
  });

  test('approvals: a notification while the panel is hidden reveals it; answered there, withdrawn when the server cancels', async () => {
    playServer();
    const { api, client } = await start();
    mock.infoAnswer = 'Show';
    const params = { sessionId: S, turnId: 't', callId: 'c1', kind: 'shell', command: ['bash', '-lc', 'touch x'], cwd: '/work/project' };
    const first = client.request('agent/requestApproval', params);
    await settle();
    assert.match(mock.infos.at(-1) ?? '', /"touch x" waits for your approval/);
    const view = mock.views[0];
    assert.ok(view, 'the panel was opened from the notification');
    assert.match(mock.statusItems[0]?.text ?? '', /approval needed/);
    const approval = api.controller.state.approvals[0];
    assert.equal(approval?.command, 'touch x');
    view.webview.receive({ type: 'approve', id: approval?.id, decision: 'approveForSession' });
    assert.deepEqual(await first.answer, { decision: 'approveForSession' });

    const second = client.request('agent/requestApproval', { ...params, callId: 'c2' });
    await settle();
    assert.equal(api.controller.state.approvals.length, 1);
    second.cancel();
    await assert.rejects(second.answer, (error: unknown) => error instanceof ResponseError && error.code === -32800);
    assert.equal(api.controller.state.approvals.length, 0);
    assert.ok(actions(view.webview.posted).includes('approvalClosed'));
  });
});

describe('the panel and the editor', () => {
  test('"Open diff" opens vscode.diff on two read-only documents of the change', async () => {
    playServer();
    const { api } = await start();
    const view = mock.openView();
    const diff = '--- a/greet.txt\n+++ b/greet.txt\n@@ -1,2 +1,2 @@\n hello\n-world\n+there';
    api.controller.handleEvent({
      sessionId: S, turnId: 't', seq: 0, type: 'toolCallStarted', callId: 'p1', name: 'apply_patch', arguments: '{}',
      changes: [{ path: 'greet.txt', kind: 'update', diff }],
    });
    view.webview.receive({ type: 'openDiff', callId: 'p1', index: 0 });
    await settle();
    const call = mock.executed.find((c) => c.command === 'vscode.diff');
    assert.ok(call, 'vscode.diff ran');
    const [before, after, title] = call.args as [{ scheme: string; path: string }, { scheme: string; path: string }, string];
    assert.equal(before.scheme, 'agentls-diff');
    assert.match(title, /greet\.txt \(changed by agentls/);
    const provider = mock.contentProviders.get('agentls-diff') as { provideTextDocumentContent(uri: unknown): string };
    // the file is not on disk here: the hunks themselves are the two sides
    assert.equal(provider.provideTextDocumentContent(before), 'hello\nworld');
    assert.equal(provider.provideTextDocumentContent(after), 'hello\nthere');
  });
});

describe('sessions', () => {
  test('New Session, and Resume Session… fed by agent/listSessions and refreshed on sessionsChanged', async () => {
    const server = playServer();
    const summary = (sessionId: string, title: string): SessionSummary => ({
      sessionId,
      title,
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: new Date().toISOString(),
      turns: 2,
    });
    let sessions = [summary(S, 'earlier work')];
    server.handlers['agent/listSessions'] = async () => ({ sessions });
    server.handlers['agent/resume'] = async (params) => ({
      ...history,
      sessionId: (params as { sessionId?: string }).sessionId ?? S,
      title: 'picked',
    });
    const { api, client } = await start();

    await commands.executeCommand('agentls.newSession');
    assert.equal(client.sent.at(-1)?.method, 'agent/newSession');
    assert.equal(api.controller.state.sessionId, S2);
    assert.deepEqual(api.controller.state.entries, []);

    await commands.executeCommand('agentls.resumeSession');
    const pick = mock.quickPicks[0] as FakeQuickPick<{ sessionId: string; label: string }>;
    assert.ok(pick?.visible);
    assert.deepEqual(pick.items.map((i) => i.label), ['earlier work']);
    sessions = [summary(S2, 'made in another window'), ...sessions];
    client.notify('agent/sessionsChanged', {});
    await settle();
    assert.deepEqual(pick.items.map((i) => i.label), ['made in another window', 'earlier work']);
    pick.selectedItems = [pick.items[1]!];
    pick.accepted.fire();
    await settle();
    assert.deepEqual(client.sent.at(-1), { method: 'agent/resume', params: { sessionId: S }, token: undefined });
    assert.equal(api.controller.state.title, 'picked');
    assert.equal(pick.visible, false);
  });
});

describe('the server process', () => {
  test('a command that cannot be found: a clear message with a fix, no client', async () => {
    mock.config['server.command'] = ['/nope/agentls', 'serve'];
    playServer();
    const context = makeContext();
    const api = activate(context as never);
    await settle();
    assert.equal(fake.instances.length, 0);
    const error = mock.errors[0];
    assert.ok(error);
    assert.match(error.message, /"\/nope\/agentls".*not found.*Fix "agentls\.server\.command"/);
    assert.deepEqual(error.items, ['Open Settings', 'Show Log', 'Retry']);
    assert.equal(api.controller.state.server.status, 'failed');
    assert.equal(mock.statusItems[0]?.text, '$(error) agentls');

    // fixing the setting restarts the server
    mock.setConfig({ 'server.command': ['/bin/sh', 'serve'] });
    await settle();
    assert.equal(fake.instances.length, 1);
    assert.equal(api.controller.state.server.status, 'running');
  });

  test('in a remote window the message says the command goes in the Remote settings', async () => {
    mock.remoteName = 'ssh-remote';
    mock.config['server.command'] = ['/nope/agentls', 'serve'];
    playServer();
    activate(makeContext() as never);
    await settle();
    assert.match(mock.errors[0]?.message ?? '', /remote window \(ssh-remote\).*Remote settings.*Machine\/settings\.json/);
  });

  test('a server that fails while starting: the message says so', async () => {
    fake.startError = new Error('connection closed');
    playServer();
    const context = makeContext();
    const api = activate(context as never);
    await settle();
    assert.match(mock.errors[0]?.message ?? '', /exited while starting/);
    assert.equal(api.controller.state.server.status, 'failed');
  });

  test('a crash restarts the server and redraws the session from disk; too many crashes stop', async () => {
    playServer();
    const { api, client } = await start();
    const resumesBefore = client.sent.filter((s) => s.method === 'agent/resume').length;
    const decision = (await client.crash()) as { action: CloseAction };
    assert.equal(decision.action, CloseAction.Restart);
    await settle();
    const resumes = client.sent.filter((s) => s.method === 'agent/resume');
    assert.equal(resumes.length, resumesBefore + 1);
    assert.deepEqual(resumes.at(-1)?.params, { sessionId: S }, 'the shown session is resumed');
    assert.match(JSON.stringify(api.controller.state.entries.at(-1)), /restarted/);
    for (let i = 0; i < 3; i++) await client.crash();
    const last = (await client.crash()) as { action: CloseAction };
    assert.equal(last.action, CloseAction.DoNotRestart);
    assert.match(mock.errors.at(-1)?.message ?? '', /stopped 5 times in 3 minutes/);
    assert.equal(api.controller.state.server.status, 'failed');
  });

  test('changing a server setting restarts it (after the running turn)', async () => {
    const server = playServer();
    let finish: (value: SendResult) => void = () => undefined;
    server.handlers['agent/send'] = () => new Promise<SendResult>((resolve) => (finish = resolve));
    const { api } = await start();
    const pending = api.controller.send('work');
    await settleSend();
    mock.setConfig({ model: 'other-model' });
    await settle();
    assert.equal(fake.instances.length, 1, 'not while a turn runs');
    finish({ sessionId: S, turnId: 't', status: 'completed' });
    await pending;
    await settle();
    assert.equal(fake.instances.length, 2);
    assert.equal(fake.instances[0]?.disposed, true);
    assert.deepEqual(fake.last.clientOptions.initializationOptions().model, 'other-model');
    mock.setConfig({ resumeOnStart: false });
    await settle();
    assert.equal(fake.instances.length, 2, 'a client-only setting needs no restart');
  });

  test('the first send waits until the pulled settings were answered (and applied)', async () => {
    fake.pullConfiguration = false;
    const server = playServer();
    server.handlers['agent/send'] = async () => ({ sessionId: S, turnId: 't', status: 'completed' });
    const { api, client } = await start();
    const sending = api.controller.send('early');
    await settleSend();
    assert.equal(client.sent.filter((s) => s.method === 'agent/send').length, 0, 'held back');
    assert.deepEqual(client.pullConfiguration(), [{ model: 'gpt-test' }]);
    await settle();
    assert.equal(client.sent.filter((s) => s.method === 'agent/send').length, 0, 'a grace for the server to apply them');
    await settleSend();
    assert.equal(client.sent.filter((s) => s.method === 'agent/send').length, 1);
    assert.equal((await sending)?.status, 'completed');
  });

  test('deactivate stops the client', async () => {
    playServer();
    const { client } = await start();
    await deactivate();
    assert.equal(client.disposed, true);
  });
});
