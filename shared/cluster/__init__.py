"""Running a kubenats cluster on this machine: render a topology into supervisord programs and drive them.

``up``, ``down`` and ``status`` are what ``make up``, ``make down`` and ``make status`` call (through
``kubenats cluster``); modules: ``paths`` (the state dir), ``render`` (topology → configs), ``supervisor``
(supervisord client), ``readiness`` (when is it up), ``logs``, ``lifecycle``, ``tokens`` (API tokens),
``natsauth`` (NATS identities and passwords) and ``natsperms`` (what each identity may do on the bus).
"""

from shared.cluster.lifecycle import ClusterError, DownResult, UpResult, down, running_topology, status, up
from shared.cluster.logs import follow, log_path, program_names, tail_lines
from shared.cluster.paths import StatePaths, default_state_dir
from shared.cluster.supervisor import ProcessInfo, pid_alive

__all__ = [
    "ClusterError",
    "DownResult",
    "ProcessInfo",
    "StatePaths",
    "UpResult",
    "default_state_dir",
    "down",
    "follow",
    "log_path",
    "pid_alive",
    "program_names",
    "running_topology",
    "status",
    "tail_lines",
    "up",
]
