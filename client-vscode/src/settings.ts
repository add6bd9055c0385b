/**
 * The extension's settings (`agentls.*`) and what of them goes to the server.
 *
 * The server accepts `model`, `baseUrl`, `wireApi`, `approval` (docs/protocol.md). Only those
 * are passed, and only when set, so an empty setting leaves the server's own sources (the
 * environment, config.toml) in charge. The API key is never a setting: it stays in the
 * environment the server inherits (OPENAI_API_KEY).
 */

/** Reads one setting of the `agentls` section (a vscode.WorkspaceConfiguration fits). */
export interface ConfigReader {
  get<T>(key: string): T | undefined;
}

export const SERVER_SETTING_KEYS = ['model', 'baseUrl', 'wireApi', 'approval'] as const;
export type ServerSettingKey = (typeof SERVER_SETTING_KEYS)[number];
export type ServerSettings = Partial<Record<ServerSettingKey, string>>;

/** Settings whose change needs a server restart to apply. */
export const RESTART_SETTINGS: readonly string[] = [
  ...SERVER_SETTING_KEYS,
  'server.command',
  'server.pythonPath',
];

export function serverSettings(config: ConfigReader): ServerSettings {
  const settings: ServerSettings = {};
  for (const key of SERVER_SETTING_KEYS) {
    const value = config.get<unknown>(key);
    if (typeof value === 'string' && value.trim() !== '') settings[key] = value.trim();
  }
  return settings;
}

export interface InitializationOptions extends ServerSettings {
  /** This client answers `agent/requestApproval` itself, in the panel. */
  approvals: true;
}

export function initializationOptions(config: ConfigReader): InitializationOptions {
  return { approvals: true, ...serverSettings(config) };
}

export interface ClientSettings {
  serverCommand: string[];
  pythonPath: string;
  resumeOnStart: boolean;
}

export function clientSettings(config: ConfigReader): ClientSettings {
  const command = config.get<unknown>('server.command');
  const python = config.get<unknown>('server.pythonPath');
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

/** The answer to a `workspace/configuration` item: `agentls` gets the server settings. */
export function configurationAnswer(section: string | undefined, config: ConfigReader): unknown {
  return section === 'agentls' ? serverSettings(config) : null;
}
