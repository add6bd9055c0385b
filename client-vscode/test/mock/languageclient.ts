/**
 * A fake `vscode-languageclient/node` for the extension's unit tests: it records how the
 * extension configured it and lets the test play the server (answer requests, send
 * notifications and requests, crash).
 */

/* eslint-disable @typescript-eslint/no-explicit-any */

import { CancellationTokenSource, type CancellationToken } from 'vscode-jsonrpc';

export enum State {
  Stopped = 1,
  Running = 2,
  Starting = 3,
}

export enum CloseAction {
  DoNotRestart = 1,
  Restart = 2,
}

export enum ErrorAction {
  Continue = 1,
  Shutdown = 2,
}

export enum RevealOutputChannelOn {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
  Never = 4,
}

export interface SentRequest {
  method: string;
  params: unknown;
  token: CancellationToken | undefined;
}

export type RequestHandler = (method: string, params: unknown, token?: CancellationToken) => Promise<unknown>;

export const fake = {
  instances: [] as LanguageClient[],
  /** How the "server" answers the extension's requests. */
  handle: (async () => {
    throw new Error('no handler');
  }) as RequestHandler,
  /** Make start() fail with this error. */
  startError: undefined as Error | undefined,
  /** Like agentls, pull `workspace/configuration` right after starting; answers land here. */
  pullConfiguration: true,
  configurationAnswers: [] as unknown[],
  initializeResult: {
    capabilities: {
      experimental: {
        agent: {
          version: 1,
          methods: [],
          model: { name: 'gpt-test', baseUrl: 'http://127.0.0.1:1/v1', wireApi: 'responses', configured: true },
        },
      },
    },
  } as unknown,
  reset(): void {
    this.instances.length = 0;
    this.handle = async () => {
      throw new Error('no handler');
    };
    this.startError = undefined;
    this.pullConfiguration = true;
    this.configurationAnswers.length = 0;
  },
  get last(): LanguageClient {
    const client = this.instances[this.instances.length - 1];
    if (!client) throw new Error('no LanguageClient was created');
    return client;
  },
};

export class LanguageClient {
  state: State = State.Stopped;
  readonly notifications = new Map<string, (params: unknown) => void>();
  readonly requests = new Map<string, (params: unknown, token: CancellationToken) => unknown>();
  readonly sent: SentRequest[] = [];
  readonly errors: { message: string; show: unknown }[] = [];
  private readonly stateListeners = new Set<(e: { oldState: State; newState: State }) => void>();
  initializeResult: unknown;
  disposed = false;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly serverOptions: unknown,
    readonly clientOptions: any,
  ) {
    fake.instances.push(this);
  }

  private setState(newState: State): void {
    const oldState = this.state;
    this.state = newState;
    for (const listener of [...this.stateListeners]) listener({ oldState, newState });
  }

  onDidChangeState(listener: (e: { oldState: State; newState: State }) => void): { dispose(): void } {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  onNotification(method: string, handler: (params: unknown) => void): { dispose(): void } {
    this.notifications.set(method, handler);
    return { dispose: () => this.notifications.delete(method) };
  }

  onRequest(method: string, handler: (params: unknown, token: CancellationToken) => unknown): { dispose(): void } {
    this.requests.set(method, handler);
    return { dispose: () => this.requests.delete(method) };
  }

  async start(): Promise<void> {
    this.setState(State.Starting);
    if (fake.startError) {
      this.setState(State.Stopped);
      throw fake.startError;
    }
    this.initializeResult = fake.initializeResult;
    this.setState(State.Running);
    if (fake.pullConfiguration) this.pullConfiguration();
  }

  /** What the server does after `initialized`: ask for the `agentls` section. */
  pullConfiguration(): unknown {
    const middleware = this.clientOptions.middleware?.workspace?.configuration;
    const params = { items: [{ section: 'agentls' }] };
    const answer = middleware ? middleware(params, undefined, () => [null]) : [null];
    fake.configurationAnswers.push(answer);
    return answer;
  }

  async sendRequest(method: string, ...rest: unknown[]): Promise<unknown> {
    const [params, token] = rest as [unknown, CancellationToken | undefined];
    if (rest.length > 2) throw new Error('too many arguments');
    this.sent.push({ method, params, token });
    return fake.handle(method, params, token);
  }

  async stop(): Promise<void> {
    this.setState(State.Stopped);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.stop();
  }

  error(message: string, _data?: unknown, showNotification?: boolean | 'force'): void {
    this.errors.push({ message, show: showNotification });
  }

  // -- test helpers: the server's side ---------------------------------------------------------

  notify(method: string, params: unknown): void {
    const handler = this.notifications.get(method);
    if (!handler) throw new Error(`no handler for ${method}`);
    handler(params);
  }

  /** A server->client request; returns the answer and the source to cancel it. */
  request(method: string, params: unknown): { answer: Promise<unknown>; cancel: () => void } {
    const handler = this.requests.get(method);
    if (!handler) throw new Error(`no handler for ${method}`);
    const source = new CancellationTokenSource();
    const answer = Promise.resolve().then(() => handler(params, source.token));
    return { answer, cancel: () => source.cancel() };
  }

  /** The connection closes unexpectedly: what the error handler decides. */
  async crash(): Promise<unknown> {
    const decision = await this.clientOptions.errorHandler.closed();
    this.setState(State.Stopped);
    if (decision.action === CloseAction.Restart) await this.start();
    return decision;
  }
}
