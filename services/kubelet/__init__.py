"""The kubelet: the node agent that registers a node, heartbeats, and runs the pods bound to it."""
