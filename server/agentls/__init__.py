"""agentls: an agent backend for editors, spoken to over the Language Server Protocol."""

__version__ = "0.1.0"
