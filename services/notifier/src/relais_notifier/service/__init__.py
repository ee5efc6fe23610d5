"""The notifier's application steps: planning messages from events, then dispatching them.

Planning (`planning`, `contacts`) runs in the consumers' transactions; dispatching
(`dispatcher`) runs one due row at a time through its steps: claim (`claiming`),
decide (`deciding`), compose (`composing`), send (`sending`) and record the outcome
(`outcomes`). Unsubscribing (`unsubscribing`) serves the customer's opt-out link.
"""
