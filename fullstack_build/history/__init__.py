"""Build history: every build, push and merge in a database (SQLite by default, PostgreSQL by
URL), the trend per image and platform, and regression alerts against the default branch."""
