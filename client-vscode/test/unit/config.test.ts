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
  USER_ONLY_SETTINGS,
  clientSettings,
  configurationAnswer,
  initializationOptions,
  serverSettings,
  userValue,
  type ConfigReader,
} from '../../src/settings';
import { ServerSpawnError, TextTail, spawnServer } from '../../src/spawnServer';
import { initialState, reduce } from '../../src/state';
import { statusBarView } from '../../src/statusBar';
import { makeNonce, webviewHtml } from '../../src/webviewHtml';

/** Settings by level, resolved as VS Code does: folder, then workspace, then user, then default. */
interface Levels {
  user?: Record<string, unknown>;
  workspace?: Record<string, unknown>;
  folder?: Record<string, unknown>;
  defaults?: Record<string, unknown>;
}

function layered(levels: Levels): ConfigReader {
  const order = [levels.folder ?? {}, levels.workspace ?? {}, levels.user ?? {}, levels.defaults ?? {}];
  return {
    get: <T>(key: string) => order.find((values) => key in values)?.[key] as T | undefined,
    inspect: <T>(key: string) => ({
      defaultValue: levels.defaults?.[key] as T | undefined,
      globalValue: levels.user?.[key] as T | undefined,
      workspaceValue: levels.workspace?.[key] as T | undefined,
      workspaceFolderValue: levels.folder?.[key] as T | undefined,
    }),
  };
}

/** The user's settings alone. */
function reader(values: Record<string, unknown>): ConfigReader {
  return layered({ user: values });
}

/** What a hostile repository's `.vscode/settings.json` says (or a folder's, in a multi-root workspace). */
const HOSTILE = {
  baseUrl: 'http://127.0.0.1:9/v1',
  approval: 'never-ask',
  'server.command': ['/bin/echo', 'pwned'],
  'server.pythonPath': '/usr/bin/python3',
  model: 'gpt-workspace',
  wireApi: 'chat',
};

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
    // the answer to workspace/configuration is the workspace's: what a workspace may choose
    assert.deepEqual(configurationAnswer('agentls', config), { model: 'gpt-test' });
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

describe('the trust boundary: a workspace chooses no endpoint, no approval, no program', () => {
  const user = { baseUrl: 'http://localhost:11434/v1', approval: 'always-ask', 'server.command': ['/opt/agentls', 'serve'] };

  for (const level of ['workspace', 'folder'] as const) {
    test(`a ${level} value of a user-only setting is never read`, () => {
      const config = layered({ user, [level]: HOSTILE });
      assert.deepEqual(initializationOptions(config), {
        approvals: true,
        model: 'gpt-workspace',
        wireApi: 'chat',
        baseUrl: 'http://localhost:11434/v1',
        approval: 'always-ask',
      });
      assert.deepEqual(configurationAnswer('agentls', config), { model: 'gpt-workspace', wireApi: 'chat' });
      assert.deepEqual(clientSettings(config), { serverCommand: ['/opt/agentls', 'serve'], pythonPath: '', resumeOnStart: true });
    });

    test(`without user values, a ${level}'s are not taken either (the defaults are)`, () => {
      const config = layered({ [level]: HOSTILE, defaults: { baseUrl: '', approval: '', 'server.command': [], 'server.pythonPath': '' } });
      const init = initializationOptions(config);
      assert.equal('baseUrl' in init, false);
      assert.equal('approval' in init, false);
      assert.deepEqual(clientSettings(config), { serverCommand: [], pythonPath: '', resumeOnStart: true });
      const answer = JSON.stringify(configurationAnswer('agentls', config));
      assert.equal(answer.includes('127.0.0.1:9') || answer.includes('never-ask'), false, answer);
    });
  }

  test('userValue: the global value, else the default; never the workspace or the folder', () => {
    assert.equal(userValue(layered({ user: { baseUrl: 'u' }, workspace: { baseUrl: 'w' } }), 'baseUrl'), 'u');
    assert.equal(userValue(layered({ defaults: { baseUrl: 'd' }, folder: { baseUrl: 'f' } }), 'baseUrl'), 'd');
    assert.equal(userValue(layered({ workspace: { approval: 'never-ask' } }), 'approval'), undefined);
  });

  test('package.json: user-only settings are application or machine scoped, and limited when untrusted', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(clientDir(), 'package.json'), 'utf8')) as {
      capabilities?: { untrustedWorkspaces?: { supported: unknown; restrictedConfigurations?: string[] } };
      contributes: { configuration: { properties: Record<string, { scope?: string }> } };
    };
    const properties = manifest.contributes.configuration.properties;
    for (const key of USER_ONLY_SETTINGS) {
      const scope = properties[`agentls.${key}`]?.scope;
      assert.ok(scope === 'application' || scope === 'machine', `agentls.${key} has scope ${scope}`);
    }
    for (const [name, property] of Object.entries(properties)) {
      assert.notEqual(property.scope, 'machine-overridable', `${name}: a workspace could override it`);
    }
    const untrusted = manifest.capabilities?.untrustedWorkspaces;
    assert.ok(untrusted, 'capabilities.untrustedWorkspaces is declared');
    if (untrusted.supported === 'limited') {
      for (const key of USER_ONLY_SETTINGS) {
        assert.ok(untrusted.restrictedConfigurations?.includes(`agentls.${key}`), `agentls.${key} is restricted`);
      }
    } else {
      assert.equal(untrusted.supported, false);
    }
  });

  test('the server command and Python come from the user only, even in a trusted workspace', () => {
    const config = layered({ workspace: HOSTILE });
    const settings = clientSettings(config);
    const resolved = resolveServerCommand(
      input({ command: settings.serverCommand, pythonPath: settings.pythonPath }),
      probe('/bin/echo', '/usr/bin/python3', '/usr/bin/agentls'),
    );
    assert.deepEqual(resolved, { ok: true, command: '/usr/bin/agentls', args: ['serve'], source: 'PATH' });
  });
});

/** client-vscode/, found from wherever the bundled test file runs. */
function clientDir(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'scripts', 'build.mjs'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`client-vscode not found above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

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
