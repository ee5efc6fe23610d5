"""The actions service's pure domain (no I/O): policy, delivery outcomes, circuit breaker.

- policy: which action a customer's choice, a callback request or an anomaly turns
  into, under the merchant's configuration (allowed, automatic, refused, expired);
- delivery: what one webhook call's outcome means (completed, rejected, retry
  later, given up), the retry schedule and the messages each outcome publishes;
- breaker: a circuit breaker per merchant endpoint, on an injected time;
- lifecycle: an action's states (pending, then completed or failed for good);
- ids: the deterministic ids of what the service produces.
"""
