"""The core call behind each task that shows what it computes: a function that returns a
result object, and a function that shows it (stdout lines, JSON, GitHub step outputs).

tasks.py only turns flags into settings and hands them to these; tests call them directly,
without Invoke. Each module imports the heavier core it needs, so tasks.py imports it only
inside the task that runs (start-up time counts on every task).
"""
