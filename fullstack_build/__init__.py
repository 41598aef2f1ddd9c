"""Core of the FullstackAgent image build system: plans, argv builders, runners behind tasks.py."""
