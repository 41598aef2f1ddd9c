"""GitHub integration: a small REST client (``api``), the sticky pull-request comment
(``comment``) and GitHub Actions reports: step outputs, step summaries and the build report
file that tasks share (``actions``)."""
