"""User errors: Inspect prints a ``PrerequisiteError``'s message alone, without a traceback.

Every error a user can cause (a bad ``-T`` value, data file, policy or path) derives from
:class:`UserError`, so it reaches the user as one message naming the file, field or argument.
"""

from __future__ import annotations

# Inspect does not export PrerequisiteError publicly; it is the one class its CLI prints without a
# traceback, so user errors must derive from it.
from inspect_ai._util.error import (  # inspect-evals-lint: ignore[IECQ001] -- not exported
    PrerequisiteError,
)


class UserError(PrerequisiteError, ValueError):
    """A mistake in what the user gave us (argument, file, policy, path): one clear message."""
