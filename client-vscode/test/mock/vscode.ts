/**
 * A small stand-in for the `vscode` module: just what extension.ts, chatView.ts and server.ts
 * use, recording what the extension did so tests can assert on it.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */

type Listener<T> = (value: T) => unknown;

export class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  dispose(): void {
    this.fn();
  }
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
}

export class EventEmitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly fsPath: string,
  ) {}
  static file(path: string): Uri {
    return new Uri('file', path);
  }
  static from(parts: { scheme: string; path: string }): Uri {
    return new Uri(parts.scheme, parts.path);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, [base.fsPath, ...parts].join('/'));
  }
  get path(): string {
    return this.fsPath;
  }
  toString(): string {
    return `${this.scheme}://${this.fsPath}`;
  }
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

// -- recorded state ---------------------------------------------------------------------------

export interface FakeWebview {
  options: unknown;
  html: string;
  cspSource: string;
  posted: unknown[];
  asWebviewUri(uri: Uri): Uri;
  postMessage(message: unknown): Promise<boolean>;
  onDidReceiveMessage(listener: Listener<unknown>): Disposable;
  /** Test helper: a message from the page. */
  receive(message: unknown): void;
}

export interface FakeWebviewView {
  webview: FakeWebview;
  visible: boolean;
  shown: number;
  show(preserveFocus?: boolean): void;
  onDidDispose(listener: () => void): Disposable;
  dispose(): void;
}

export class FakeQuickPick<T> {
  items: T[] = [];
  selectedItems: T[] = [];
  title = '';
  placeholder = '';
  busy = false;
  matchOnDescription = false;
  matchOnDetail = false;
  visible = false;
  readonly accepted = new EventEmitter<void>();
  readonly hidden = new EventEmitter<void>();
  onDidAccept = this.accepted.event;
  onDidHide = this.hidden.event;
  show(): void {
    this.visible = true;
  }
  hide(): void {
    if (!this.visible) return;
    this.visible = false;
    this.hidden.fire();
  }
  dispose(): void {
    this.visible = false;
  }
}

export interface FakeStatusBarItem {
  id: string;
  name: string;
  text: string;
  tooltip: string | undefined;
  command: string | undefined;
  backgroundColor: ThemeColor | undefined;
  visible: boolean;
  show(): void;
  hide(): void;
  dispose(): void;
}

export const mock = {
  commands: new Map<string, (...args: any[]) => unknown>(),
  executed: [] as { command: string; args: unknown[] }[],
  context: new Map<string, unknown>(),
  /** The user's settings (`inspect().globalValue`), keys without the `agentls.` prefix. */
  config: {} as Record<string, unknown>,
  /** The workspace's settings (`.vscode/settings.json`): `get` prefers them, as VS Code does. */
  workspaceConfig: {} as Record<string, unknown>,
  /** The folder's settings (a multi-root folder's own `.vscode/settings.json`). */
  folderConfig: {} as Record<string, unknown>,
  configListeners: new Set<Listener<{ affectsConfiguration(section: string): boolean }>>(),
  errors: [] as { message: string; items: string[] }[],
  errorAnswer: undefined as string | undefined,
  infos: [] as string[],
  statusMessages: [] as string[],
  logLines: [] as string[],
  providers: new Map<string, { resolveWebviewView(view: FakeWebviewView): void }>(),
  views: [] as FakeWebviewView[],
  quickPicks: [] as FakeQuickPick<any>[],
  statusItems: [] as FakeStatusBarItem[],
  workspaceFolders: undefined as { uri: Uri; name: string; index: number }[] | undefined,
  trusted: true,
  remoteName: undefined as string | undefined,
  clipboard: '',
  infoAnswer: undefined as string | undefined,
  openDialogAnswer: undefined as Uri[] | undefined,
  contentProviders: new Map<string, unknown>(),

  reset(): void {
    this.infoAnswer = undefined;
    this.openDialogAnswer = undefined;
    this.contentProviders.clear();
    this.remoteName = undefined;
    this.clipboard = '';
    this.commands.clear();
    this.executed.length = 0;
    this.context.clear();
    this.config = {};
    this.workspaceConfig = {};
    this.folderConfig = {};
    this.configListeners.clear();
    this.errors.length = 0;
    this.errorAnswer = undefined;
    this.infos.length = 0;
    this.statusMessages.length = 0;
    this.logLines.length = 0;
    this.providers.clear();
    this.views.length = 0;
    this.quickPicks.length = 0;
    this.statusItems.length = 0;
    this.workspaceFolders = undefined;
    this.trusted = true;
  },

  /** Change settings (keys without the `agentls.` prefix) and tell the listeners. */
  setConfig(values: Record<string, unknown>, level: 'user' | 'workspace' | 'folder' = 'user'): void {
    const target = level === 'user' ? this.config : level === 'workspace' ? this.workspaceConfig : this.folderConfig;
    Object.assign(target, values);
    const keys = Object.keys(values).map((key) => `agentls.${key}`);
    for (const listener of this.configListeners) {
      listener({
        affectsConfiguration: (section: string) =>
          keys.some((key) => key === section || key.startsWith(`${section}.`)),
      });
    }
  },

  /** Create the chat view as VS Code would when the panel opens. */
  openView(viewType = 'agentls.chat'): FakeWebviewView {
    const provider = this.providers.get(viewType);
    if (!provider) throw new Error(`no provider for ${viewType}`);
    const receivers = new Set<Listener<unknown>>();
    const disposers = new Set<() => void>();
    const webview: FakeWebview = {
      options: undefined,
      html: '',
      cspSource: 'vscode-resource:',
      posted: [],
      asWebviewUri: (uri) => Uri.file(`/webview${uri.fsPath}`),
      postMessage: async (message) => {
        webview.posted.push(message);
        return true;
      },
      onDidReceiveMessage: (listener) => {
        receivers.add(listener);
        return new Disposable(() => receivers.delete(listener));
      },
      receive: (message) => receivers.forEach((listener) => listener(message)),
    };
    const view: FakeWebviewView = {
      webview,
      visible: true,
      shown: 0,
      show: () => {
        view.shown++;
        view.visible = true;
      },
      onDidDispose: (listener) => {
        disposers.add(listener);
        return new Disposable(() => disposers.delete(listener));
      },
      dispose: () => disposers.forEach((listener) => listener()),
    };
    this.views.push(view);
    provider.resolveWebviewView(view);
    return view;
  },
};

// -- the API ----------------------------------------------------------------------------------

export const commands = {
  registerCommand(command: string, callback: (...args: any[]) => unknown): Disposable {
    mock.commands.set(command, callback);
    return new Disposable(() => mock.commands.delete(command));
  },
  async executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
    mock.executed.push({ command, args });
    if (command === 'setContext') {
      mock.context.set(String(args[0]), args[1]);
      return undefined;
    }
    if (command === 'agentls.chat.focus') {
      mock.openView();
      return undefined;
    }
    const callback = mock.commands.get(command);
    return callback ? callback(...args) : undefined;
  },
};

export const window = {
  createOutputChannel(name: string) {
    return {
      name,
      append: (text: string) => mock.logLines.push(text),
      appendLine: (line: string) => mock.logLines.push(line),
      show: () => undefined,
      clear: () => undefined,
      hide: () => undefined,
      replace: () => undefined,
      dispose: () => undefined,
    };
  },
  registerWebviewViewProvider(
    viewType: string,
    provider: { resolveWebviewView(view: FakeWebviewView): void },
  ): Disposable {
    mock.providers.set(viewType, provider);
    return new Disposable(() => mock.providers.delete(viewType));
  },
  createStatusBarItem(id: string): FakeStatusBarItem {
    const item: FakeStatusBarItem = {
      id,
      name: '',
      text: '',
      tooltip: undefined,
      command: undefined,
      backgroundColor: undefined,
      visible: false,
      show: () => (item.visible = true),
      hide: () => (item.visible = false),
      dispose: () => (item.visible = false),
    };
    mock.statusItems.push(item);
    return item;
  },
  async showErrorMessage(message: string, ...items: string[]): Promise<string | undefined> {
    mock.errors.push({ message, items });
    return mock.errorAnswer;
  },
  async showWarningMessage(message: string): Promise<undefined> {
    mock.infos.push(message);
    return undefined;
  },
  async showInformationMessage(message: string, ...items: string[]): Promise<string | undefined> {
    mock.infos.push(message);
    return items.length ? mock.infoAnswer : undefined;
  },
  get activeTextEditor(): unknown {
    return undefined;
  },
  visibleTextEditors: [] as unknown[],
  onDidChangeActiveTextEditor(): Disposable {
    return new Disposable();
  },
  onDidChangeTextEditorSelection(): Disposable {
    return new Disposable();
  },
  async showOpenDialog(): Promise<Uri[] | undefined> {
    return mock.openDialogAnswer;
  },
  setStatusBarMessage(message: string): Disposable {
    mock.statusMessages.push(message);
    return new Disposable();
  },
  createQuickPick<T>(): FakeQuickPick<T> {
    const pick = new FakeQuickPick<T>();
    mock.quickPicks.push(pick);
    return pick;
  },
};

export const workspace = {
  get workspaceFolders() {
    return mock.workspaceFolders;
  },
  get isTrusted() {
    return mock.trusted;
  },
  getConfiguration(section?: string) {
    const prefix = section ? `${section}.` : '';
    const nameOf = (key: string): string => (section === 'agentls' || section === undefined ? key : `${prefix}${key}`);
    const levels = [mock.folderConfig, mock.workspaceConfig, mock.config];
    return {
      get<T>(key: string, fallback?: T): T | undefined {
        const name = nameOf(key);
        const level = levels.find((values) => name in values);
        return (level ? level[name] : fallback) as T | undefined;
      },
      inspect<T>(key: string) {
        const name = nameOf(key);
        return {
          key: `agentls.${name}`,
          defaultValue: undefined as T | undefined,
          globalValue: mock.config[name] as T | undefined,
          workspaceValue: mock.workspaceConfig[name] as T | undefined,
          workspaceFolderValue: mock.folderConfig[name] as T | undefined,
        };
      },
      has: (key: string) => levels.some((values) => nameOf(key) in values),
    };
  },
  registerTextDocumentContentProvider(scheme: string, provider: unknown): Disposable {
    mock.contentProviders.set(scheme, provider);
    return new Disposable(() => mock.contentProviders.delete(scheme));
  },
  onDidChangeConfiguration(listener: Listener<{ affectsConfiguration(section: string): boolean }>): Disposable {
    mock.configListeners.add(listener);
    return new Disposable(() => mock.configListeners.delete(listener));
  },
};

export const env = {
  get remoteName(): string | undefined {
    return mock.remoteName;
  },
  clipboard: {
    async writeText(text: string): Promise<void> {
      mock.clipboard = text;
    },
    async readText(): Promise<string> {
      return mock.clipboard;
    },
  },
};
