"""Raft's I/O: the asyncio driver that runs a member of the pure core, and the NATS transport.

The core in :mod:`services.etcd.raft` imports neither asyncio nor nats; everything that waits, sends or
touches the clock lives here.
"""
