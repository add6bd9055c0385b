/** The chat webview's HTML document (a strict CSP; scripts only with the nonce). */

export interface WebviewHtmlOptions {
  scriptUri: string;
  styleUri: string;
  /** `webview.cspSource` in VS Code. */
  cspSource: string;
  nonce: string;
}

export function makeNonce(random: () => number = Math.random): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < 32; i++) out += chars.charAt(Math.floor(random() * chars.length));
  return out;
}

function attr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

export function webviewHtml(options: WebviewHtmlOptions): string {
  const { cspSource, nonce } = options;
  const csp = [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(options.styleUri)}">
<title>agentls</title>
</head>
<body>
<div id="app">
  <header id="header">
    <div id="header-text">
      <span id="title" title="">New session</span>
      <span id="model" class="muted" title="The model answering"></span>
    </div>
    <span class="spacer"></span>
    <button id="btn-new" class="icon-button" title="New session" aria-label="New session">New</button>
    <button id="btn-sessions" class="icon-button" title="Sessions of this workspace" aria-label="Sessions" aria-expanded="false">Sessions</button>
  </header>
  <div id="context-meter" hidden title="How full the model's context is"><div id="context-bar"></div><span id="context-label"></span></div>
  <section id="mcp-servers" hidden aria-label="MCP servers"></section>
  <section id="sessions" hidden aria-label="Sessions">
    <input id="session-search" type="search" placeholder="Search sessions (titles and text)" aria-label="Search sessions">
    <div id="session-items" role="list"></div>
  </section>
  <div id="banner" hidden></div>
  <main id="log" aria-live="polite"></main>
  <form id="composer">
    <div id="chips" aria-label="Attachments"></div>
    <textarea id="input" rows="3" placeholder="Ask agentls… (Enter to send, Shift+Enter for a new line, !cmd runs a command)" aria-label="Message"></textarea>
    <div class="composer-row">
      <button id="btn-add-file" type="button" class="icon-button" title="Attach a file">Add file…</button>
      <label id="queue-toggle" class="muted" title="While a turn runs, hold messages until it ends instead of adding them to the turn"><input id="queue-mode" type="checkbox"> Queue while running</label>
      <span id="status" class="muted"></span>
      <button id="btn-send" type="submit">Send</button>
    </div>
  </form>
</div>
<script nonce="${attr(nonce)}" src="${attr(options.scriptUri)}"></script>
</body>
</html>
`;
}
