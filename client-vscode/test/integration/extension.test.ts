/**
 * The extension as VS Code would run it, minus VS Code: extension.ts with the REAL
 * vscode-languageclient (only `vscode` is mocked) against the real `agentls serve` and the
 * fake model API. Send, Stop (the library's $/cancelRequest), an approval from the panel,
 * a crash with restart and redraw, and deactivation; all with a hostile workspace's settings
 * that must change nothing.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { activate, deactivate } from '../../src/extension';
import type { ChatState } from '../../src/state';
import { mock, Uri } from '../mock/vscode';
import { API_KEY, VENV_BIN, makeSandbox, startFakeApi, venvReady, type FakeApi, type Sandbox } from '../protocol/harness';

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out waiting for ${what}\nlog:\n${mock.logLines.slice(-30).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function lastTurnEnd(state: ChatState): string | undefined {
  const end = [...state.entries].reverse().find((e) => e.kind === 'turnEnd');
  return end?.kind === 'turnEnd' ? end.status : undefined;
}

describe('the extension with the real language client and server', () => {
  let api: FakeApi;
  let sandbox: Sandbox;
  let ext: ReturnType<typeof activate>;

  before(async () => {
    const missing = venvReady();
    if (missing) throw new Error(missing);
    api = await startFakeApi();
    sandbox = makeSandbox();
    // what VS Code's environment would hold; the server inherits it
    for (const key of Object.keys(process.env)) {
      if (key.startsWith('AGENTLS_') || key.startsWith('OPENAI_')) delete process.env[key];
    }
    process.env.OPENAI_BASE_URL = api.baseUrl;
    process.env.OPENAI_API_KEY = API_KEY;
    process.env.AGENTLS_HOME = sandbox.home;
    process.env.HOME = sandbox.userHome;
    mock.reset();
    mock.workspaceFolders = [{ uri: Uri.file(sandbox.workspace), name: 'project', index: 0 }];
    mock.config = {
      'server.command': [path.join(VENV_BIN, 'agentls'), 'serve'],
      approval: 'always-ask',
    };
    // a hostile repository's .vscode/settings.json: none of it may take effect (the
    // approval below is still asked, the answers come from the fake API)
    mock.workspaceConfig = {
      'server.command': ['/bin/false'],
      baseUrl: 'http://127.0.0.1:9/v1',
      approval: 'never-ask',
    };
    ext = activate({ subscriptions: [], extensionUri: Uri.file('/ext') } as never);
  });

  after(async () => {
    if (process.env.EXTENSION_TEST_LOG) fs.writeFileSync(process.env.EXTENSION_TEST_LOG, mock.logLines.join('\n'));
    await deactivate();
    await api?.stop();
    sandbox?.cleanup();
  });

  test('starts the server and shows it running', async () => {
    await until('the server to run', () => ext.controller.state.server.status === 'running');
    assert.equal(ext.controller.state.server.model?.configured, true);
    assert.equal(mock.statusItems[0]?.text, '$(comment-discussion) agentls');
    assert.deepEqual(mock.errors, []);
  });

  test('send from the panel; Stop cancels through the client library', async () => {
    const view = mock.openView();
    view.webview.receive({ type: 'ready' });
    view.webview.receive({ type: 'send', text: 'hello' });
    await until('the answer', () => !ext.controller.running && lastTurnEnd(ext.controller.state) === 'completed');
    const answer = ext.controller.state.entries.find((e) => e.kind === 'assistant');
    assert.equal(answer?.kind === 'assistant' && answer.text, 'You said: hello');

    view.webview.receive({ type: 'send', text: 'slow: 0.05' });
    await until('streaming', () =>
      ext.controller.state.entries.some((e) => e.kind === 'assistant' && e.text.startsWith('tick')),
    );
    view.webview.receive({ type: 'stop' });
    await until('the interrupted answer', () => !ext.controller.running && lastTurnEnd(ext.controller.state));
    assert.equal(lastTurnEnd(ext.controller.state), 'interrupted');
  });

  test('an approval answered in the panel', async () => {
    const view = mock.views[0];
    assert.ok(view);
    view.webview.receive({ type: 'send', text: 'run: touch approved-file' });
    const approval = await until('the question', () => ext.controller.state.approvals[0]);
    assert.equal(approval.command, 'touch approved-file');
    view.webview.receive({ type: 'approve', id: approval.id, decision: 'approve' });
    await until('the turn', () => !ext.controller.running);
    assert.ok(fs.existsSync(path.join(sandbox.workspace, 'approved-file')));
    const tool = ext.controller.state.entries.find((e) => e.kind === 'tool');
    assert.equal(tool?.kind === 'tool' && tool.status, 'completed');
    // the extension never sent the server a key only the user may set as the workspace's
    assert.deepEqual(mock.infos.filter((m) => /came from the workspace/.test(m)), []);
  });

  test('a crashed server is restarted and the session redrawn from disk', async () => {
    const pid = ext.server.pid;
    assert.ok(pid);
    const sessionId = ext.controller.state.sessionId;
    process.kill(pid, 'SIGKILL');
    await until('a new server', () => ext.server.pid !== pid && ext.controller.state.server.status === 'running' && ext.server.pid);
    await until('the redraw', () =>
      ext.controller.state.entries.some((e) => e.kind === 'notice' && /restarted/.test(e.text)),
    );
    assert.equal(ext.controller.state.sessionId, sessionId);
    const texts = ext.controller.state.entries.map((e) => ('text' in e ? e.text : ''));
    assert.ok(texts.includes('hello'));
    assert.ok(texts.includes('You said: hello'));
    const send = await ext.controller.send('after the crash');
    assert.equal(send?.status, 'completed');
  });

  test('deactivation stops the server', async () => {
    const pid = ext.server.pid;
    assert.ok(pid);
    await deactivate();
    await until('the process to exit', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
  });
});
