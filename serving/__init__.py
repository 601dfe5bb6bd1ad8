"""The HTTP API and the MCP server: thin faces over the libraries, bound to 127.0.0.1 by default."""
