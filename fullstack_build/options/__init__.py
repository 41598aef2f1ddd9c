"""The options layer: every setting declared once with its type (``declarations``), checked
(``validate``: unknown keys and wrong types, with "did you mean"), read from the configuration
files before Invoke loads them (``files``) and resolved into the frozen Settings each task
uses (``settings``). No module outside this package reads the raw configuration.

This module imports nothing: ``invoke`` runs ``files.check`` on every start."""
