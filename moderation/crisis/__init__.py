"""Crisis screening (placeholder re-export while the package takes shape)."""

from moderation.crisis.lexicon import *  # noqa: F401,F403
from moderation.crisis.lexicon import __doc__ as _lexicon_doc  # noqa: F401
