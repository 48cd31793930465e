"""Resilience experiments: break a running cluster on purpose, measure its recovery, prove nothing was lost.

An experiment file (``model``: probes in ``probe_specs``, actions in ``action_specs``) is run by
``runner`` against the cluster of a state directory: ``probes`` ask the steady state, ``load`` records
client operations, ``watcher`` the timeline, ``actions`` inject faults through ``control`` (supervisord)
and chaos subjects; ``audit``, ``figures`` and ``verdict`` judge it, ``result``, ``report`` and ``plot``
write it down. ``kubenats experiment run FILE`` is the way in.
"""

from shared.experiments.model import Experiment, ExperimentError, load_experiment, parse_experiment

__all__ = ["Experiment", "ExperimentError", "load_experiment", "parse_experiment"]
