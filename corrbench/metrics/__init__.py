"""Metrics: functional forms plus accumulating ``update()/compute()`` classes."""
