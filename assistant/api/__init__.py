"""The API shell: a REST API with streaming, an OpenAI-compatible endpoint and an MCP server, over :class:`Services`."""
