"""Contracts: the contexts, event payloads, store protocol and type aliases of the runners."""
