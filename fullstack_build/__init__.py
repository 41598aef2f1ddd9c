"""Core of the FullstackAgent image build system: plans, argv builders, runners behind tasks.py.

Invoke turns Python's bytecode cache off before it imports tasks.py (so that running tasks
leaves no tasks.pyc behind). Left so, every task run would compile this package's modules
anew, tens of milliseconds of every start; the package restores Python's own setting (-B or
PYTHONDONTWRITEBYTECODE still decide) as it is first imported.
"""

import sys

sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)
