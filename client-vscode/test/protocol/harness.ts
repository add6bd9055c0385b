/**
 * Runs the real `agentls serve` (from ../.venv) against the fake model API and connects to it
 * with vscode-jsonrpc, the JSON-RPC library under vscode-languageclient.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type CancellationToken,
  type Message,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { AgentEvent } from '../../src/protocol';

/** client-vscode/, found from wherever the bundled test file runs. */
function findClientDir(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'scripts', 'build.mjs'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`client-vscode not found above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export const CLIENT_DIR = findClientDir();
export const REPO_DIR = path.resolve(CLIENT_DIR, '..');
export const VENV_BIN = path.join(REPO_DIR, '.venv', 'bin');
export const API_KEY = 'sk-test-extension-0123456789';

export function venvReady(): string | undefined {
  const agentls = path.join(VENV_BIN, 'agentls');
  return fs.existsSync(agentls) ? undefined : `${agentls} is missing (run \`make test\` or create ../.venv first)`;
}

export interface FakeApi {
  baseUrl: string;
  stop(): Promise<void>;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * `python -m fixtures.fake_api --port 0` from the repository root (`program`: another
 * launcher taking the same options, e.g. one with scripted replies).
 */
export function startFakeApi(apiKey = API_KEY, program: string[] = ['-m', 'fixtures.fake_api']): Promise<FakeApi> {
  const child = spawn(
    path.join(VENV_BIN, 'python'),
    [...program, '--port', '0', '--api-key', apiKey],
    { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the fake API did not start in 20 s: ${stderr}`));
    }, 20_000);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      out += text;
      const match = /listening (\S+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({
          baseUrl: match[1],
          stop: async () => {
            child.kill('SIGTERM');
            await waitExit(child, 5000);
          },
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the fake API exited (${code}): ${stderr}`));
    });
  });
}

/** A temporary folder tree for one scenario: state home, user HOME, workspace. */
export interface Sandbox {
  root: string;
  home: string;
  userHome: string;
  workspace: string;
  cleanup(): void;
}

export function makeSandbox(): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'agentls-vscode-'));
  const home = path.join(root, 'state');
  const userHome = path.join(root, 'user-home');
  const workspace = path.join(root, 'project');
  for (const dir of [home, userHome, workspace]) fs.mkdirSync(dir, { recursive: true });
  return {
    root,
    home,
    userHome,
    workspace,
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** Records what the client writes, so a test can see `$/cancelRequest` go out. */
class RecordingWriter extends StreamMessageWriter {
  readonly sent: Message[] = [];
  override write(message: Message): Promise<void> {
    this.sent.push(message);
    return super.write(message);
  }
}

export interface ApprovalCall {
  params: Record<string, unknown>;
  token: CancellationToken;
}

export interface Server {
  connection: MessageConnection;
  child: ChildProcess;
  events: AgentEvent[];
  sent: Message[];
  initializeResult: Record<string, unknown>;
  configurationRequests: unknown[];
  sessionsChanged: number;
  stderr(): string;
  /** Also told of every `agent/event`. */
  eventListeners: Set<(event: AgentEvent) => void>;
  /** Answers `agent/requestApproval`; replace per test. */
  onApproval: (params: Record<string, unknown>, token: CancellationToken) => Promise<unknown>;
  waitFor<T>(predicate: () => T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
  waitEvent(type: AgentEvent['type'], match?: (event: AgentEvent) => boolean): Promise<AgentEvent>;
  close(): Promise<void>;
}

export interface StartOptions {
  sandbox: Sandbox;
  baseUrl: string;
  initializationOptions?: Record<string, unknown>;
  configuration?: Record<string, unknown>;
  /** Delays the answer to `workspace/configuration` (ms). */
  configurationDelayMs?: number;
  env?: Record<string, string>;
}

export async function startServer(options: StartOptions): Promise<Server> {
  const { sandbox } = options;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('AGENTLS_') || key.startsWith('OPENAI_')) continue;
    env[key] = value;
  }
  Object.assign(env, {
    AGENTLS_HOME: sandbox.home,
    HOME: sandbox.userHome,
    OPENAI_BASE_URL: options.baseUrl,
    OPENAI_API_KEY: API_KEY,
    ...options.env,
  });
  const child = spawn(path.join(VENV_BIN, 'agentls'), ['serve'], {
    cwd: sandbox.workspace,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => (stderr += text));
  if (!child.stdout || !child.stdin) throw new Error('no stdio');
  const writer = new RecordingWriter(child.stdin);
  const connection = createMessageConnection(new StreamMessageReader(child.stdout), writer);

  const events: AgentEvent[] = [];
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  const server: Server = {
    connection,
    child,
    events,
    sent: writer.sent,
    initializeResult: {},
    configurationRequests: [],
    sessionsChanged: 0,
    eventListeners: new Set(),
    stderr: () => stderr,
    onApproval: async () => ({ decision: 'deny' }),
    waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 20_000, what = 'condition') {
      return new Promise<T>((resolve, reject) => {
        const started = Date.now();
        const check = (): void => {
          const value = predicate();
          if (value !== undefined && value !== false) {
            waiters.delete(check);
            clearInterval(timer);
            resolve(value);
          } else if (Date.now() - started > timeoutMs) {
            waiters.delete(check);
            clearInterval(timer);
            reject(new Error(`timed out waiting for ${what}; server log:\n${stderr.slice(-2000)}`));
          }
        };
        // checked on every message and every 20 ms (for state that other code changes)
        const timer = setInterval(check, 20);
        waiters.add(check);
        check();
      });
    },
    waitEvent(type, match = () => true) {
      return server.waitFor(() => events.find((e) => e.type === type && match(e)), 20_000, `event ${type}`);
    },
    async close() {
      try {
        await Promise.race([
          connection.sendRequest('shutdown'),
          new Promise((resolve) => setTimeout(resolve, 5000)),
        ]);
        await connection.sendNotification('exit');
      } catch {
        // already gone
      }
      await waitExit(child, 5000);
      connection.dispose();
    },
  };

  connection.onNotification('agent/event', (params: AgentEvent) => {
    events.push(params);
    for (const listener of server.eventListeners) listener(params);
    poke();
  });
  connection.onNotification('agent/sessionsChanged', () => {
    server.sessionsChanged++;
    poke();
  });
  connection.onNotification('window/logMessage', () => undefined);
  connection.onNotification('window/showMessage', () => undefined);
  connection.onRequest('agent/requestApproval', (params: Record<string, unknown>, token: CancellationToken) => {
    poke();
    return server.onApproval(params, token);
  });
  connection.onRequest('workspace/configuration', async (params: { items: { section?: string }[] }) => {
    server.configurationRequests.push(params);
    poke();
    if (options.configurationDelayMs) await new Promise((resolve) => setTimeout(resolve, options.configurationDelayMs));
    return params.items.map((item) => (item.section === 'agentls' ? (options.configuration ?? {}) : null));
  });
  connection.onRequest('client/registerCapability', () => null);
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.listen();

  const uri = pathToFileURL(sandbox.workspace).href;
  server.initializeResult = await connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'agentls-vscode-tests' },
    rootUri: uri,
    workspaceFolders: [{ uri, name: 'project' }],
    capabilities: { workspace: { configuration: true, workspaceFolders: true } },
    initializationOptions: options.initializationOptions ?? { approvals: true },
  });
  await connection.sendNotification('initialized', {});
  return server;
}
