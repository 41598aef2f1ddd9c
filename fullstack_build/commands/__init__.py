"""The core behind each task that is not the publishing flow (publish/): smoke tests (smoke.py),
lint, the lock files, pinned tool versions (pins.py), the CI matrix (ci.py), the test suite
(suite_plan.py, suite.py), the benchmarks (bench_figures.py, bench.py), and the cores of tags,
changed and bump-versions: a function that returns a result object, and one that shows it
(stdout lines, JSON, GitHub step outputs). flags.py holds every task's flag help.

tasks.py only turns flags into settings and hands them to these; tests call them directly,
without Invoke. tasks.py imports a module only inside the task that runs (start-up time counts
on every task).
"""
