from .roleplay import roleplay_conversation

__all__ = ["roleplay_conversation"]
