"""Command line: `agentls serve` for editors, `agentls chat` for people in a terminal.

Imports are deferred to the command that needs them: start-up time is a benchmarked figure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from agentls import __version__


def _host_port(value: str) -> tuple[str, int]:
    """`PORT` or `HOST:PORT`; without a host only this machine can connect (loopback)."""
    host, _sep, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected PORT or HOST:PORT, got '{value}'")
    return host.strip("[]") or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentls", description=__doc__)
    parser.add_argument("--version", action="version", version=f"agentls {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the language server (stdio by default)")
    transport = serve.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout")
    transport.add_argument(
        "--tcp", type=_host_port, metavar="[HOST:]PORT", help="TCP, on 127.0.0.1 by default"
    )
    transport.add_argument(
        "--ws", type=_host_port, metavar="[HOST:]PORT", help="WebSocket, on 127.0.0.1 by default"
    )

    chat = commands.add_parser("chat", help="chat in the terminal through a server child")
    chat.add_argument("-p", "--prompt", help="send one message, print the answer, exit")
    chat.add_argument("--resume", action="store_true", help="continue the last session")
    chat.add_argument("--workspace", default=".", help="workspace folder (default: .)")
    chat.add_argument(
        "--approval",
        choices=["always-ask", "ask-unsafe", "never-ask"],
        help="approval policy for commands",
    )
    return parser


def _configure_logging() -> None:
    level = os.environ.get("AGENTLS_LOG", "warning").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING),
        stream=sys.stderr,
        format="agentls %(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging()
    if args.command == "serve":
        from agentls.lsp.main import serve

        return serve(tcp=args.tcp, ws=args.ws)
    from agentls.chat.app import run_chat

    return run_chat(
        prompt=args.prompt, resume=args.resume, workspace=args.workspace, approval=args.approval
    )
