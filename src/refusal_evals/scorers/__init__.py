from .metrics import group_rates, unscored_by_group
from .roleplay import roleplay_judge

__all__ = ["group_rates", "roleplay_judge", "unscored_by_group"]
