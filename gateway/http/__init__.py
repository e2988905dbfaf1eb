"""The HTTP layer: the only part that knows aiohttp. Adapters see `InboundRequest`s."""
