"""The API server: Kubernetes objects over NATS, the cluster's single gateway."""
