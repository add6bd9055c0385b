"""Command line: `agentls serve` for editors, `agentls chat` for people in a terminal.

Imports are deferred to the command that needs them: start-up time is a benchmarked figure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from agentls import __version__

DESCRIPTION = """\
An AI coding agent for your editor and your terminal. It answers, runs commands in your
workspace (asking first) and can be stopped at any moment; conversations are kept per
workspace and come back with --resume.

  agentls chat              chat in this terminal, in the current folder
  agentls chat -p "..."     ask once, print the answer, exit
  agentls sessions          list this folder's conversations
  agentls serve             the server an editor starts over LSP (VS Code, Neovim, ...)
  agentls acp               the agent an editor hosts over ACP (Zed, JetBrains, Emacs, ...)
"""

ENVIRONMENT = """\
environment:
  OPENAI_API_KEY     key for the model API (none: a local server, or the embedded model)
  OPENAI_BASE_URL    an OpenAI-compatible API (default https://api.openai.com/v1), e.g.
                     http://127.0.0.1:11434/v1 for Ollama; its only model is used if
                     AGENTLS_MODEL is not set
  AGENTLS_MODEL      model name (default gpt-5-mini)
  AGENTLS_WIRE_API   responses | chat (Chat Completions, for servers without /responses)
  AGENTLS_APPROVAL   always-ask | ask-unsafe (default) | never-ask
  AGENTLS_SANDBOX    workspace-write (default) | read-only | off
  AGENTLS_HOME       where sessions and config.toml live (default: the user state folder)
  AGENTLS_LOG        debug | info | warning: the server's log on stderr

With no key and no base URL, a small embedded model answers (SmolLM2-135M): it replies
briefly and never runs commands. Use !COMMAND in the chat to run one yourself.
"""

CHAT_EPILOG = f"""\
in the chat:
  Enter sends · Ctrl-C stops the running turn (at the prompt it clears the line)
  typing during a turn steers it, or waits for the next turn (/steer, /queue)
  /help /new /sessions /resume ID /undo /fork /compact /mcp /steer /queue /quit
  /mcp lists the MCP servers of config.toml ([mcp_servers.NAME]): state, error, tools
  !COMMAND runs a command yourself; the model sees it and its output next turn

{ENVIRONMENT}"""


def _host_port(value: str) -> tuple[str, int]:
    """`PORT` or `HOST:PORT`; without a host only this machine can connect (loopback)."""
    host, _sep, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected PORT or HOST:PORT, got '{value}'")
    return host.strip("[]") or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="agentls", description=DESCRIPTION, epilog=ENVIRONMENT, formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"agentls {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser(
        "chat",
        help="chat in this terminal",
        description="Chat with the agent in this terminal, in a workspace folder.",
        epilog=CHAT_EPILOG,
        formatter_class=formatter,
    )
    chat.add_argument("-p", "--prompt", help="send one message, print the answer, exit")
    chat.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="ID",
        help="go on with a conversation: the last one (one-shot -p runs are skipped), "
        "or the session ID (a unique prefix is enough; see `agentls sessions`)",
    )
    chat.add_argument("--workspace", default=".", help="workspace folder (default: .)")
    chat.add_argument("--model", help="model name for this run (overrides AGENTLS_MODEL)")
    chat.add_argument(
        "--approval",
        choices=["always-ask", "ask-unsafe", "never-ask"],
        help="when to ask before running a command (default: ask unless it only reads)",
    )

    sessions = commands.add_parser(
        "sessions",
        help="list this workspace's conversations",
        description="List the workspace's sessions, newest first; resume one with "
        "`agentls chat --resume ID`.",
        epilog=ENVIRONMENT,
        formatter_class=formatter,
    )
    sessions.add_argument("--workspace", default=".", help="workspace folder (default: .)")

    serve = commands.add_parser(
        "serve",
        help="the language server an editor starts",
        description="Speak LSP to an editor: on stdin/stdout (what editors start), or on a "
        "TCP or WebSocket port. People want `agentls chat`.",
        epilog=ENVIRONMENT,
        formatter_class=formatter,
    )
    transport = serve.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout")
    transport.add_argument(
        "--tcp", type=_host_port, metavar="[HOST:]PORT", help="TCP, on 127.0.0.1 by default"
    )
    transport.add_argument(
        "--ws", type=_host_port, metavar="[HOST:]PORT", help="WebSocket, on 127.0.0.1 by default"
    )
    auth = serve.add_argument_group("network transports (--tcp, --ws)")
    auth.add_argument(
        "--token",
        help="the token clients must send as initializationOptions.authToken "
        "(default: $AGENTLS_TOKEN, else a new random one)",
    )
    auth.add_argument(
        "--token-file",
        type=Path,
        help="write the token here, readable by you only (default: $AGENTLS_HOME/server-token)",
    )
    auth.add_argument(
        "--no-auth", action="store_true", help="accept clients without a token (trusted hosts only)"
    )
    auth.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web page allowed to connect over --ws, e.g. http://localhost:3000 "
        "(repeatable; browsers' other pages are refused)",
    )
    acp = commands.add_parser(
        "acp",
        help="the agent an editor hosts over the Agent Client Protocol",
        description="Speak the Agent Client Protocol on stdin/stdout: what Zed, JetBrains "
        "IDEs, Neovim's CodeCompanion, Emacs' agent-shell or acpx start.",
        epilog=ENVIRONMENT,
        formatter_class=formatter,
    )
    acp.add_argument("--model", help="model name (overrides AGENTLS_MODEL)")
    acp.add_argument(
        "--approval",
        choices=["always-ask", "ask-unsafe", "never-ask"],
        help="when to ask before running a command (default: ask unless it only reads)",
    )
    return parser


def _configure_logging() -> None:
    level = os.environ.get("AGENTLS_LOG", "warning").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING),
        stream=sys.stderr,
        format="agentls %(levelname)s %(name)s: %(message)s",
    )


def serve_banner(tty: bool) -> str:
    """What `serve` on stdio says on stderr when a person, not an editor, started it.

    (The network transports announce the address they bound themselves.)
    """
    if not tty:
        return ""
    return (
        f"agentls {__version__}: serving LSP on stdin/stdout, for an editor to talk to. "
        "To chat in this terminal, run `agentls chat` instead. Ctrl-C stops."
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging()
    if args.command == "serve":
        from agentls.lsp.main import prepare_token, serve

        network = None
        if args.tcp or args.ws:
            token_file = args.token_file
            if token_file is None and not args.no_auth:
                from agentls.config.settings import load_settings

                token_file = load_settings().settings.home / "server-token"
            network = prepare_token(args.token, token_file, args.no_auth)
            network.allowed_origins = list(args.allow_origin)
        banner = serve_banner(sys.stdin.isatty()) if not (args.tcp or args.ws) else ""
        if banner:
            print(banner, file=sys.stderr, flush=True)
        return serve(tcp=args.tcp, ws=args.ws, network=network)
    if args.command == "acp":
        from agentls.acp.main import run

        options = {"model": args.model, "approval": args.approval}
        return run({key: value for key, value in options.items() if value is not None})
    if args.command == "sessions":
        from agentls.chat.app import run_sessions

        return run_sessions(workspace=args.workspace)
    from agentls.chat.app import run_chat

    return run_chat(
        prompt=args.prompt,
        resume=args.resume,
        workspace=args.workspace,
        approval=args.approval,
        model=args.model,
    )
