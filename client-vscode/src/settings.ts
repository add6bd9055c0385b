/**
 * The extension's settings (`agentls.*`) and what of them goes to the server.
 *
 * The server accepts `model`, `baseUrl`, `wireApi`, `approval` (docs/protocol.md). Only those
 * are passed, and only when set, so an empty setting leaves the server's own sources (the
 * environment, config.toml) in charge. The API key is never a setting: it stays in the
 * environment the server inherits (OPENAI_API_KEY).
 *
 * Trust: a folder's `.vscode/settings.json` is part of a repository, maybe someone else's.
 * The settings that decide where the API key goes, what runs without asking and which
 * program starts (`USER_ONLY_SETTINGS`) are read from the user's and the machine's
 * settings only (`inspect()`'s global value), never from the workspace or a folder, even
 * if VS Code would let a workspace value through; package.json scopes them `application`
 * or `machine` so the Settings editor does not offer them per workspace either. The
 * server enforces the same split on its side (docs/security.md, "Trust boundary").
 */

/** The levels of one setting, as `vscode.WorkspaceConfiguration.inspect` reports them. */
export interface SettingLevels<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

/** Reads the `agentls` section (a vscode.WorkspaceConfiguration fits). */
export interface ConfigReader {
  /** The value VS Code resolves, workspace and folder values included. */
  get<T>(key: string): T | undefined;
  /** Each level apart, so that a user-only setting is read from the user's level alone. */
  inspect<T>(key: string): SettingLevels<T> | undefined;
}

export const SERVER_SETTING_KEYS = ['model', 'baseUrl', 'wireApi', 'approval'] as const;
export type ServerSettingKey = (typeof SERVER_SETTING_KEYS)[number];
export type ServerSettings = Partial<Record<ServerSettingKey, string>>;

/**
 * Settings only the user (or the machine) may set: where requests with the API key go, when
 * commands need approval, and the program that runs as the server. A workspace's value for
 * any of them is never read.
 */
export const USER_ONLY_SETTINGS = ['baseUrl', 'approval', 'server.command', 'server.pythonPath'] as const;
export type UserOnlySetting = (typeof USER_ONLY_SETTINGS)[number];

/** Server settings a workspace may choose too (the model among the user's providers). */
export const WORKSPACE_SERVER_SETTING_KEYS = SERVER_SETTING_KEYS.filter(
  (key) => !(USER_ONLY_SETTINGS as readonly string[]).includes(key),
);

/** Settings whose change needs a server restart to apply. */
export const RESTART_SETTINGS: readonly string[] = [
  ...SERVER_SETTING_KEYS,
  'server.command',
  'server.pythonPath',
];

/** A user-only setting: the user's (or the machine's) value, else the default; never the
 * workspace's or a folder's. */
export function userValue<T>(config: ConfigReader, key: UserOnlySetting): T | undefined {
  const levels = config.inspect<T>(key);
  return levels?.globalValue ?? levels?.defaultValue;
}

function isUserOnly(key: string): key is UserOnlySetting {
  return (USER_ONLY_SETTINGS as readonly string[]).includes(key);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Every server setting that is set: user-only ones from the user's level alone. */
export function serverSettings(config: ConfigReader): ServerSettings {
  const settings: ServerSettings = {};
  for (const key of SERVER_SETTING_KEYS) {
    const value = text(isUserOnly(key) ? userValue<unknown>(config, key) : config.get<unknown>(key));
    if (value !== undefined) settings[key] = value;
  }
  return settings;
}

export interface InitializationOptions extends ServerSettings {
  /** This client answers `agent/requestApproval` itself, in the panel. */
  approvals: true;
}

/** The server takes `initializationOptions` as the user's own settings. */
export function initializationOptions(config: ConfigReader): InitializationOptions {
  return { approvals: true, ...serverSettings(config) };
}

export interface ClientSettings {
  serverCommand: string[];
  pythonPath: string;
  resumeOnStart: boolean;
}

export function clientSettings(config: ConfigReader): ClientSettings {
  const command = userValue<unknown>(config, 'server.command');
  const python = userValue<unknown>(config, 'server.pythonPath');
  const resume = config.get<unknown>('resumeOnStart');
  return {
    serverCommand: Array.isArray(command)
      ? command.filter((part): part is string => typeof part === 'string' && part !== '')
      : typeof command === 'string' && command.trim() !== ''
        ? [command.trim()]
        : [],
    pythonPath: typeof python === 'string' ? python.trim() : '',
    resumeOnStart: resume === undefined ? true : resume === true,
  };
}

/**
 * The answer to a `workspace/configuration` item: `agentls` gets the settings a workspace
 * may choose. The server takes this answer as the workspace's and would ignore (and warn
 * about) a user-only key in it; those reach it in `initializationOptions`.
 */
export function configurationAnswer(section: string | undefined, config: ConfigReader): unknown {
  if (section !== 'agentls') return null;
  const answer: ServerSettings = {};
  for (const key of WORKSPACE_SERVER_SETTING_KEYS) {
    const value = text(config.get<unknown>(key));
    if (value !== undefined) answer[key] = value;
  }
  return answer;
}
