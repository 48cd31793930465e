"""A sans-I/O Raft consensus core, its durable log, and an asyncio driver (etcd-io/raft is the model)."""
