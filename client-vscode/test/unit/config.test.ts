import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import {
  expandVariables,
  explainStartFailure,
  resolveServerCommand,
  type ResolveInput,
  type ServerCommand,
} from '../../src/serverCommand';
import { relativeTime, sessionItems } from '../../src/sessions';
import {
  clientSettings,
  configurationAnswer,
  initializationOptions,
  serverSettings,
  type ConfigReader,
} from '../../src/settings';
import { ServerSpawnError, TextTail, spawnServer } from '../../src/spawnServer';
import { initialState, reduce } from '../../src/state';
import { statusBarView } from '../../src/statusBar';
import { makeNonce, webviewHtml } from '../../src/webviewHtml';

function reader(values: Record<string, unknown>): ConfigReader {
  return { get: <T>(key: string) => values[key] as T | undefined };
}

function input(overrides: Partial<ResolveInput> = {}): ResolveInput {
  return {
    command: [],
    pythonPath: '',
    workspaceFolder: '/work/project',
    workspaceTrusted: true,
    env: { PATH: '/usr/local/bin:/usr/bin', HOME: '/home/me' },
    platform: 'linux',
    home: '/home/me',
    ...overrides,
  };
}

function probe(...executables: string[]) {
  const set = new Set(executables);
  return { isExecutable: (file: string) => set.has(file) };
}

describe('settings passed to the server', () => {
  test('only the four server settings, only when set; never an API key', () => {
    const config = reader({
      model: 'gpt-test',
      baseUrl: ' http://localhost:11434/v1 ',
      wireApi: '',
      approval: 'always-ask',
      apiKey: 'sk-secret',
      resumeOnStart: false,
      'server.command': ['agentls', 'serve'],
    });
    assert.deepEqual(serverSettings(config), {
      model: 'gpt-test',
      baseUrl: 'http://localhost:11434/v1',
      approval: 'always-ask',
    });
    const init = initializationOptions(config);
    assert.equal(init.approvals, true);
    assert.equal(JSON.stringify(init).includes('sk-secret'), false);
    assert.deepEqual(configurationAnswer('agentls', config), serverSettings(config));
    assert.equal(configurationAnswer('editor', config), null);
  });

  test('client settings have sane defaults', () => {
    assert.deepEqual(clientSettings(reader({})), { serverCommand: [], pythonPath: '', resumeOnStart: true });
    assert.deepEqual(clientSettings(reader({ 'server.command': '/opt/agentls', resumeOnStart: false })), {
      serverCommand: ['/opt/agentls'],
      pythonPath: '',
      resumeOnStart: false,
    });
  });
});

describe('server command resolution', () => {
  test('the setting wins, with variables expanded and the program looked up on PATH', () => {
    const resolved = resolveServerCommand(
      input({ command: ['agentls', 'serve', '--log', '${workspaceFolder}/log'] }),
      probe('/usr/bin/agentls'),
    );
    assert.deepEqual(resolved, {
      ok: true,
      command: '/usr/bin/agentls',
      args: ['serve', '--log', '/work/project/log'],
      source: 'agentls.server.command',
    });
    const home = resolveServerCommand(input({ command: ['~/venv/bin/agentls', 'serve'] }), probe('/home/me/venv/bin/agentls'));
    assert.equal(home.ok && home.command, '/home/me/venv/bin/agentls');
  });

  test('a missing configured program gives a message naming the setting and a fix', () => {
    const resolved = resolveServerCommand(input({ command: ['/nope/agentls', 'serve'] }), probe());
    assert.equal(resolved.ok, false);
    assert.ok(!resolved.ok);
    assert.match(resolved.message, /"\/nope\/agentls".*agentls\.server\.command.*not found/);
    assert.match(resolved.fix, /agentls\.server\.command/);
  });

  test('pythonPath runs `-m agentls serve`', () => {
    const resolved = resolveServerCommand(input({ pythonPath: '${userHome}/py/bin/python' }), probe('/home/me/py/bin/python'));
    assert.deepEqual(resolved.ok && [resolved.command, ...resolved.args], ['/home/me/py/bin/python', '-m', 'agentls', 'serve']);
    const missing = resolveServerCommand(input({ pythonPath: '/no/python' }), probe());
    assert.match(!missing.ok ? missing.message : '', /agentls\.server\.pythonPath/);
  });

  test('auto: the workspace .venv (trusted only), then PATH, then ~/.local/bin', () => {
    const venv = '/work/project/.venv/bin/agentls';
    const trusted = resolveServerCommand(input(), probe(venv, '/usr/bin/agentls'));
    assert.equal(trusted.ok && trusted.command, venv);
    const untrusted = resolveServerCommand(input({ workspaceTrusted: false }), probe(venv, '/usr/bin/agentls'));
    assert.equal(untrusted.ok && untrusted.command, '/usr/bin/agentls');
    const local = resolveServerCommand(input({ workspaceTrusted: false }), probe(venv, '/home/me/.local/bin/agentls'));
    assert.equal(local.ok && local.command, '/home/me/.local/bin/agentls');
    const none = resolveServerCommand(input(), probe());
    assert.equal(none.ok, false);
    assert.match(!none.ok ? none.fix : '', /pip install agentls.*agentls\.server\.command/);
  });

  test('windows: PATHEXT and Scripts\\agentls.exe', () => {
    const win = input({
      platform: 'win32',
      workspaceFolder: 'C:\\work',
      env: { PATH: 'C:\\Python\\Scripts', PATHEXT: '.EXE;.CMD' },
      home: 'C:\\Users\\me',
    });
    assert.equal(
      (() => {
        const r = resolveServerCommand(win, probe('C:\\work\\.venv\\Scripts\\agentls.exe'));
        return r.ok && r.command;
      })(),
      'C:\\work\\.venv\\Scripts\\agentls.exe',
    );
    const onPath = resolveServerCommand({ ...win, workspaceTrusted: false }, probe('C:\\Python\\Scripts\\agentls.exe'));
    assert.equal(onPath.ok && onPath.command, 'C:\\Python\\Scripts\\agentls.exe');
  });

  test('expandVariables', () => {
    assert.equal(expandVariables('${env:FOO}/x', input({ env: { FOO: '/foo' } })), '/foo/x');
    assert.equal(expandVariables('${workspaceFolder}', input({ workspaceFolder: undefined })), '${workspaceFolder}');
  });

  test('a server that dies at start is explained from its stderr', () => {
    const command: ServerCommand = { ok: true, command: '/usr/bin/python3', args: ['-m', 'agentls', 'serve'], source: 'agentls.server.pythonPath' };
    const missing = explainStartFailure(command, "Traceback...\nModuleNotFoundError: No module named 'agentls'\n");
    assert.match(missing.message, /not installed for that Python/);
    assert.match(missing.fix, /pip install agentls/);
    const other = explainStartFailure(command, 'boom\n');
    assert.match(other.message, /exited while starting: boom/);
  });
});

describe('starting the process', () => {
  test('a program that does not exist: a ServerSpawnError with a fix', async () => {
    const command: ServerCommand = { ok: true, command: '/definitely/not/here/agentls', args: ['serve'], source: 'agentls.server.command' };
    await assert.rejects(spawnServer(command, { cwd: os.tmpdir(), env: process.env }), (error: unknown) => {
      assert.ok(error instanceof ServerSpawnError);
      assert.match(error.message, /was not found/);
      assert.match(error.fix, /agentls\.server\.command/);
      return true;
    });
  });

  test('a program that runs: stderr is collected, the exit reported', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentls-spawn-'));
    try {
      const tail = new TextTail(10);
      let exited: number | null = -1;
      const child = await spawnServer(
        { ok: true, command: '/bin/sh', args: ['-c', 'echo starting-and-failing >&2; exit 3'], source: 'test' },
        { cwd: dir, env: process.env, onStderr: (t) => tail.push(t), onExit: (code) => (exited = code) },
      );
      await new Promise((resolve) => child.once('close', resolve));
      assert.equal(exited, 3);
      assert.equal(tail.toString(), 'd-failing\n', 'the tail keeps the last characters');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('status bar and quick pick', () => {
  test('the status bar follows the server and the turn', () => {
    let state = initialState();
    assert.match(statusBarView(state).text, /sync~spin/);
    state = reduce(state, { type: 'server', server: { status: 'running', model: { name: 'm', baseUrl: 'u', wireApi: 'responses', configured: true } } });
    assert.equal(statusBarView(state).text, '$(comment-discussion) agentls');
    state = reduce(state, { type: 'userSent', text: 'x' });
    assert.match(statusBarView(state).text, /working/);
    state = reduce(state, {
      type: 'approvalRequested',
      approval: { id: 'a', sessionId: 's', turnId: 't', callId: 'c', command: 'ls', cwd: '/' },
    });
    assert.match(statusBarView(state).text, /approval needed/);
    const failed = reduce(state, { type: 'server', server: { status: 'failed', message: 'not found. Install it' } });
    const view = statusBarView(failed);
    assert.equal(view.tone, 'error');
    assert.match(view.tooltip, /not found/);
    assert.equal(view.command, 'agentls.showLog');
  });

  test('sessions become quick-pick items', () => {
    const now = new Date('2026-03-01T12:00:00Z');
    const items = sessionItems(
      [
        { sessionId: 'a', title: 'fix the build', createdAt: '', updatedAt: '2026-03-01T11:58:00Z', turns: 3 },
        { sessionId: 'b', title: ' ', createdAt: '', updatedAt: '2026-02-28T10:00:00Z', turns: 1 },
      ],
      now,
      'a',
    );
    assert.deepEqual(items[0], { sessionId: 'a', label: 'fix the build', description: '2 min ago · 3 turns · open', detail: 'a' });
    assert.equal(items[1]?.label, '(untitled session)');
    assert.equal(items[1]?.description, 'yesterday · 1 turn');
    assert.equal(relativeTime('garbage', now), 'garbage');
    assert.equal(relativeTime('2025-01-01T00:00:00Z', now), '2025-01-01');
  });

  test('the webview HTML has a strict CSP and a nonce on its only script', () => {
    const nonce = makeNonce();
    assert.match(nonce, /^[A-Za-z0-9]{32}$/);
    const html = webviewHtml({ scriptUri: 'x://w.js', styleUri: 'x://w.css', cspSource: 'x:', nonce });
    assert.match(html, /default-src 'none'/);
    assert.match(html, new RegExp(`script-src 'nonce-${nonce}'`));
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.ok(!html.includes('unsafe-inline'));
  });
});
