"""Moderation: content sanitising and moderation tools."""
