"""The MCP server: the service's memory as tools for agents (Claude Desktop, Cursor, any MCP
client), at ``/mcp`` over Streamable HTTP (``http``) and as ``memos-server mcp`` over stdio
(``stdio``). ``server`` declares the tools, ``descriptions`` and ``text`` are what a model reads,
and ``tools`` is the one module that calls the services.
"""
