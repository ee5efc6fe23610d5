"""What the actions service speaks to outside Relais: the merchants' webhooks.

- webhook: one signed POST per attempt, bounded by a timeout; a missing answer is a
  result (timeout, connection error), never an exception.
"""
