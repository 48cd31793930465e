"""kube-scheduler for kubenats: assigns pending pods to nodes with filter and score plugins.

Laid out as Kubernetes' scheduling framework: ``framework`` (contracts), ``nodeinfo`` (pod and node
views), ``plugins/`` (one module per plugin, and the registry), ``runtime`` (one scheduling cycle),
``queue`` (active, back-off, unschedulable), ``cache`` (nodes and assumed pods), ``events`` (Events and
pod conditions), ``config`` (KubeSchedulerConfiguration), ``scheduler`` (the loop), ``__main__`` (the
process, with leader election).
"""
