"""Where sessions live. Redis is the only store: see :mod:`bot.store.redis`."""
from .redis import Claim, LockLost, LockTimeout, RedisStore, StoreError

__all__ = ["Claim", "LockLost", "LockTimeout", "RedisStore", "StoreError"]
