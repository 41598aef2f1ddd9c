"""Core of the FullstackAgent image build system: plans, argv builders and runners behind tasks.py."""
